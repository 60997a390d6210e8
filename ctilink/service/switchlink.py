"""The daemon's link to FreeSWITCH nodes: events in, rendered commands out.

Rules:
- One :class:`NodeLink` per node. Its pump greenlet moves typed events from the node's
  :class:`~ctilink.esl.connection.EslConnection` into the engine loop in FreeSWITCH's order.
- Commands are sent by a sender greenlet per node, in the order the engine emitted them and
  pipelined (no wait for one reply before writing the next), so the engine greenlet never waits
  on a socket. Calls that take time go through ``bgapi``; their outcome comes back as a
  JobCompleted event like any other.
- A command for a node that is not connected fails here (logged, counted by the connection's
  metrics); the engine learns the truth from the resync after the reconnect.
- No routing decision is made here (DESIGN.md: the edges only translate).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import gevent
import gevent.event
import gevent.queue
import structlog

from ctilink.esl.commands import Command, UnsafeValueError
from ctilink.esl.connection import ApiResult, EslConnection, EslError

log = structlog.get_logger("ctilink.switchlink")


class NodeLink:
    """Pumps one node's events into the engine and sends the engine's commands to it."""

    def __init__(self, conn: EslConnection, post: Callable[[object], None]) -> None:
        self.conn = conn
        self._post = post
        self._outbox: gevent.queue.Queue = gevent.queue.Queue()
        self._greenlets: list[gevent.Greenlet] = []
        self.failed = 0

    @property
    def node(self) -> str:
        return self.conn.node

    def start(self) -> None:
        self.conn.start()
        self._greenlets = [gevent.spawn(self._pump), gevent.spawn(self._send_loop)]

    def stop(self, timeout: float = 5.0) -> None:
        self._outbox.put(None)
        self.conn.stop(timeout)
        gevent.joinall(self._greenlets, timeout=timeout)
        gevent.killall(self._greenlets, block=False)

    def send(self, command: Command) -> None:
        self._outbox.put(command)

    def _pump(self) -> None:
        post = self._post
        for event in self.conn.events():
            post(event)

    def _send_loop(self) -> None:
        while True:
            command = self._outbox.get()
            if command is None:
                return
            try:
                self.conn.send(command).rawlink(self._settled(command))
            except UnsafeValueError as exc:
                self.failed += 1
                log.error("command_unsafe", node=self.node, command=type(command).__name__, field=exc.field)
            except EslError as exc:
                self.failed += 1
                log.warning("command_failed", node=self.node, command=type(command).__name__, error=type(exc).__name__)

    def _settled(self, command: Command) -> Callable[[gevent.event.AsyncResult], None]:
        def check(result: gevent.event.AsyncResult) -> None:
            if not result.successful():
                self.failed += 1
                log.warning(
                    "command_failed",
                    node=self.node,
                    command=type(command).__name__,
                    error=type(result.exception).__name__,
                )
            elif isinstance(result.value, ApiResult) and not result.value.ok:
                log.warning(
                    "command_refused",
                    node=self.node,
                    command=type(command).__name__,
                    reply=result.value.body.strip()[:200],
                )

        return check


class Switchboard:
    """Routes each command to its node's link (``node=""`` means the only, or first, node)."""

    def __init__(self, links: Sequence[NodeLink]) -> None:
        if not links:
            raise ValueError("at least one FreeSWITCH node is needed")
        self.links = {link.node: link for link in links}
        self._default = links[0]

    def dispatch(self, commands: Sequence[Command]) -> None:
        for command in commands:
            node = getattr(command, "node", "")
            link = self.links.get(node, self._default) if node else self._default
            link.send(command)
