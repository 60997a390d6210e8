"""One TCP session to a FreeSWITCH node: greenswitch's connect and auth around our reader.

Rules:
- greenswitch's ``InboundESL`` keeps the TCP connect, the wait for ``auth/request`` and the
  authentication; its reader is replaced. greenswitch 0.0.19 URL-decodes a whole header block
  before splitting lines (an encoded newline in a caller-controlled value forges headers) and
  reads one line per header; ours feeds raw socket bytes to
  :class:`~ctilink.esl.framing.FrameReader`, event frames to the owner and replies to
  :class:`~ctilink.esl.replies.ReplyQueue`, which checks each one fits its command.
- Every way the node can fail ends the session, recorded in ``close_reason``: ``eof``,
  ``reset``, ``silence`` (:mod:`ctilink.esl.watchdog`), ``desync`` (:mod:`ctilink.esl.desync`,
  orphan replies), ``disconnect_notice``, ``rejected``, ``send_failed``. Closing is idempotent
  and fails every command still waiting with :class:`~ctilink.esl.errors.EslDisconnected`.
- A malformed frame whose extent is certain is reported to the owner and skipped; one that
  shows the stream has slipped ends the session, since only a new session is trustworthy.
- Commands are written under a lock, so a command's bytes and its FIFO slot are never
  interleaved with another greenlet's; they are refused until ``ready`` (authenticated and
  subscribed), or one could be taken by FreeSWITCH as the password.

Theory of operation: the reader greenlet (greenswitch's ``receive_events``, overridden) sets the
socket timeout to what the watchdog has left, reads, frames and dispatches, and yields after
every read so a busy socket cannot starve other greenlets. Events go to a
:class:`SessionOwner`, which decodes and buffers them; the session never interprets an event.
"""

from __future__ import annotations

import contextlib
from typing import Any, Protocol

import gevent
import gevent.event
import gevent.lock
import gevent.socket as gsocket
from greenswitch.esl import InboundESL

from ctilink.esl.desync import StreamDesync
from ctilink.esl.errors import EslAuthError, EslDisconnected, EslTimeout
from ctilink.esl.framing import Frame, FrameError, FrameReader
from ctilink.esl.replies import REPLY_TYPES, Reply, ReplyQueue
from ctilink.esl.settings import EslSettings
from ctilink.esl.watchdog import SilenceWatchdog

__all__ = ["EslSession", "SessionOwner"]

_READ_SIZE = 256 * 1024


class SessionOwner(Protocol):
    """Where a session's reader hands what it cannot handle itself."""

    def on_event_frame(self, session: EslSession, frame: Frame) -> bool:
        """Decode and deliver one event frame; False if it was skipped. Raises StreamDesync if
        its body does not have the shape its Content-Type promises."""
        ...

    def malformed(self, what: str, reason: str, sample: bytes, *, recoverable: bool) -> None:
        """Count and log input that was skipped (``recoverable``) or that ends the session."""
        ...


class EslSession(InboundESL):  # type: ignore[misc]  # greenswitch is untyped
    """One TCP session: greenswitch's connect/auth/reply FIFO around our framing and dispatch."""

    def __init__(self, owner: SessionOwner, settings: EslSettings, log: Any) -> None:
        super().__init__(settings.host, settings.port, settings.password, timeout=settings.connect_timeout)
        self._owner = owner
        self._node = settings.node
        self._log = log
        self._frames = FrameReader()
        self._send_lock = gevent.lock.Semaphore()
        self.closed = gevent.event.Event()
        self.close_reason: str | None = None
        self.notice: str | None = None
        self.rejection: str | None = None
        # Set once authenticated and subscribed: commands from other greenlets are refused
        # before that, or one could be taken by FreeSWITCH as the password.
        self.ready = False
        self.sock: Any = None
        self.sock_file: Any = None
        self._replies = ReplyQueue()
        self._watchdog = SilenceWatchdog(settings.heartbeat_timeout)

    # -- greenswitch hooks ---------------------------------------------------------------

    def start_event_handlers(self) -> None:
        # greenswitch also spawns an event-processing greenlet for its handler registry; we
        # deliver events ourselves, so only the reader runs.
        self._receive_events_greenlet = gevent.spawn(self.receive_events)

    def authenticate(self) -> None:
        reply = self.request(f"auth {self.password}", self.timeout)
        text = reply.headers.get("Reply-Text", "")
        if text != "+OK accepted":
            raise EslAuthError(f"FreeSWITCH refused the password: {text[:80]!r}")

    def send(self, data: str) -> Reply:  # greenswitch's signature, with a bound wait
        return self.request(data, self.timeout)

    def stop(self) -> None:
        self.close("stopped")

    def receive_events(self) -> None:
        reason = "eof"
        self._watchdog.fed()  # its clock starts when reading does, not at construction
        try:
            # Resync pipelines many small commands: Nagle would hold each behind the
            # previous one's delayed ACK (~40 ms per command).
            self.sock.setsockopt(gsocket.IPPROTO_TCP, gsocket.TCP_NODELAY, 1)
            while self._run:
                # The watchdog counts valid events and replies, not bytes: noise that keeps
                # the socket busy must not keep a blind session alive.
                left = self._watchdog.remaining()
                if left <= 0:
                    reason = "silence"
                    break
                self.sock.settimeout(left)
                data = self.sock.recv(_READ_SIZE)
                if not data:
                    break
                self._feed(data)
                if self.closed.is_set():
                    return
                # A socket that always has data never blocks, so gevent never switches: without
                # this yield a burst starves the consumer and the resync queries.
                gevent.sleep(0)
        except gsocket.timeout:
            reason = "silence"
        except OSError as exc:
            reason = "reset"
            if not self.closed.is_set():
                self._log.debug("esl_read_error", error=str(exc))
        finally:
            self.close(reason)

    # -- ours ----------------------------------------------------------------------------

    def _feed(self, data: bytes) -> None:
        try:
            while True:
                try:
                    frames = self._frames.feed(data)
                except FrameError as err:
                    self._dispatch_all(err.frames)
                    if not err.stream_ok:
                        raise StreamDesync("frame", err.reason, err.sample) from None
                    self._owner.malformed("frame", err.reason, err.sample, recoverable=True)
                    data = b""
                    continue
                self._dispatch_all(frames)
                return
        except StreamDesync as desync:
            if self.closed.is_set():
                return
            # The rest of the stream may start inside a body, and replies may be off by one:
            # only a new session is trustworthy, and its resync covers whatever was lost.
            self._owner.malformed(desync.what, desync.reason, desync.sample, recoverable=False)
            self.close("desync")

    def _dispatch_all(self, frames: list[Frame]) -> None:
        for frame in frames:
            if self.closed.is_set():
                return
            self._dispatch(frame)

    def _dispatch(self, frame: Frame) -> None:
        """Act on one frame; raises StreamDesync when it shows the stream has slipped."""
        ctype = frame.content_type
        if ctype in REPLY_TYPES:
            self._replies.settle(frame)
            self._watchdog.fed()
        elif ctype.startswith("text/event-"):
            if self._owner.on_event_frame(self, frame):
                self._watchdog.fed()
        elif ctype == "auth/request":
            self._watchdog.fed()
            self._auth_request_event.set()
        elif ctype == "text/disconnect-notice":
            if frame.headers.get("Content-Disposition") == "linger":
                return  # outbound-socket linger: the socket stays open for the last events
            self.notice = frame.body.decode("utf-8", "replace").strip()
            self.close("disconnect_notice")
        elif ctype == "text/rude-rejection":
            self.rejection = frame.body.decode("utf-8", "replace").strip()
            self.close("rejected")
        else:
            self._log.debug("esl_frame_ignored", content_type=ctype[:60])

    def request(self, text: str, timeout: float | None) -> Reply:
        """Send one command and wait for its reply."""
        try:
            reply: Reply = self.submit(text).get(timeout=timeout)
            return reply
        except gevent.Timeout:
            raise EslTimeout(f"no reply to {text.split(' ', 1)[0]!r} within {timeout}s") from None

    def submit(self, text: str, job_uuid: str | None = None) -> gevent.event.AsyncResult:
        """Send one command; the returned AsyncResult gets its reply (or EslDisconnected).

        ``job_uuid``: the Job-UUID a ``bgapi`` carries, which its reply must name.
        """
        payload = (text + "\n\n").encode("utf-8")
        with self._send_lock:
            if not self.connected or self.closed.is_set():
                raise EslDisconnected(f"not connected to {self._node}")
            result = self._replies.expect(text, job_uuid)
            try:
                self.sock.sendall(payload)
            except OSError as exc:
                self.close("send_failed")
                raise EslDisconnected(f"lost {self._node} while sending: {exc}") from exc
        return result

    def close(self, reason: str) -> None:
        """End the session (idempotent): close the socket, fail everything still waiting."""
        if self.closed.is_set():
            return
        self.close_reason = reason
        self._run = False
        self.connected = False
        # Wakes greenswitch's connect() if the server went away before auth/request.
        self._auth_request_event.set()
        for f in (self.sock_file, self.sock):
            if f is None:
                continue
            try:
                if f is self.sock:
                    f.shutdown(gsocket.SHUT_RDWR)
            except OSError:
                pass
            # The makefile() greenswitch made holds a reference: both must close, or the
            # descriptor (and the peer's view of the connection) stays open.
            with contextlib.suppress(OSError):
                f.close()
        self._replies.fail_all(EslDisconnected(f"session to {self._node} ended: {reason}"))
        self.closed.set()
