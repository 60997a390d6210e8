"""One listener connected to the fake switch: its socket, its subscription and its filters.

Rules:
- As mod_event_socket does: a listener gets no event before it has authenticated and said
  ``event plain|json ...``; it then gets the events it named (by Event-Name, or by
  Event-Subclass for CUSTOM ones) or all of them (``ALL``); once it has added a ``filter``, only
  events matching at least one of its filters (they are OR-ed). ``noevents`` ends the
  subscription but keeps the filters.
- Writes are serialised per listener (the switch's greenlets all write to it), and a write to a
  closed or broken socket is dropped: the switch never fails because a client went away.
- Command frames are read as FreeSWITCH reads them: up to a blank line, CRLF taken as LF, empty
  frames skipped.

Theory of operation: :class:`Listener` is the per-connection state the fake switch keeps in its
client list; :func:`read_commands` is the read side of a connection, yielding each command line
with its header lines until the peer closes or the listener is closed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import gevent.lock
import gevent.socket

from ctilink.testing import esl_wire

__all__ = ["Listener", "read_commands"]


class Listener:
    """One client of the fake switch: what it subscribed to, and a lock-guarded socket."""

    def __init__(self, sock: gevent.socket.socket) -> None:
        self.sock = sock
        self.fmt: str | None = None
        self.all_events = False
        self.events: set[str] = set()
        self.filters: list[tuple[str, str]] = []
        self.authed = False
        self.lock = gevent.lock.Semaphore()
        self.closed = False

    def send(self, data: bytes) -> None:
        with self.lock:
            if self.closed:
                return
            try:
                self.sock.sendall(data)
            except OSError:
                self.closed = True

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.close()

    def wants(self, headers: dict[str, str]) -> bool:
        """Whether an event with these headers goes to this listener."""
        if self.fmt is None or not self.authed:
            return False
        name = headers.get("Event-Name", "")
        ok = self.all_events or name in self.events or headers.get("Event-Subclass", "") in self.events
        if ok and self.filters:
            ok = any(headers.get(k) == v for k, v in self.filters)
        return ok

    def subscribe(self, rest: str) -> bytes:
        """``event <fmt> <names>``: subscribe; the reply to send."""
        fmt, _, names = rest.partition(" ")
        if fmt not in ("plain", "json"):
            return esl_wire.command_reply("-ERR invalid format")
        self.fmt = fmt
        for n in names.split():
            if n == "ALL":
                self.all_events = True
            else:
                self.events.add(n)
        return esl_wire.command_reply(f"+OK event listener enabled {fmt}")

    def add_filter(self, rest: str) -> bytes:
        """``filter <header> <value>``: add a filter; the reply to send."""
        k, _, v = rest.partition(" ")
        self.filters.append((k, v))
        return esl_wire.command_reply(f"+OK filter added. [{k}]=[{v}]")

    def stop_events(self) -> bytes:
        """``noevents``: end the subscription; the reply to send."""
        self.fmt, self.all_events, self.events = None, False, set()
        return esl_wire.command_reply("+OK no longer listening for events")


def read_commands(sock: gevent.socket.socket, listener: Listener) -> Iterator[tuple[str, list[str]]]:
    """(command line, header lines) of each frame read from ``sock``, until EOF or ``listener`` closes.

    Raises OSError if the socket fails.
    """
    buf = b""
    while not listener.closed:
        while b"\n\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                return
            buf += chunk.replace(b"\r\n", b"\n")
        block, _, buf = buf.partition(b"\n\n")
        lines = block.decode("utf-8", errors="replace").split("\n")
        if not lines[0]:
            continue
        yield lines[0], lines[1:]
