"""The daemon's link to FreeSWITCH nodes: events in, rendered commands out.

Rules:
- One :class:`NodeLink` per node. Its pump greenlet moves typed events from the node's
  :class:`~ctilink.esl.connection.EslConnection` into the engine loop in FreeSWITCH's order.
- Commands are sent by a sender greenlet per node, in the order the engine emitted them and
  pipelined (no wait for one reply before writing the next), so the engine greenlet never waits
  on a socket. Calls that take time go through ``bgapi``; their outcome comes back as a
  JobCompleted event like any other.
- A command never vanishes: one that cannot be rendered safely, cannot be written (node not
  connected) or is refused by the node is logged here once and handed back to the engine as a
  :class:`~ctilink.events.CommandFailed` input, so an offer whose originate never ran is failed
  and re-offered at once instead of waiting for a timer. The engine acts on the ones that matter
  (originates); channel events stay the truth about legs.
- No routing decision is made here (DESIGN.md: the edges only translate).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import gevent
import gevent.event
import gevent.queue
import structlog

from ctilink.commands import Command, UnsafeValueError
from ctilink.esl.connection import ApiResult, EslConnection, EslError
from ctilink.events import CommandFailed

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
                log.error("command_unsafe", node=self.node, command=type(command).__name__, field=exc.field)
                self._failed(command, f"unsafe value in {exc.field}")
            except EslError as exc:
                log.warning("command_failed", node=self.node, command=type(command).__name__, error=type(exc).__name__)
                self._failed(command, type(exc).__name__)

    def _failed(self, command: Command, reason: str) -> None:
        self.failed += 1
        self._post(
            CommandFailed(
                node=self.node,
                command=type(command).__name__,
                reason=reason[:200],
                job_uuid=getattr(command, "job_uuid", None),
                uuid=getattr(command, "uuid", None),
            )
        )

    def _settled(self, command: Command) -> Callable[[gevent.event.AsyncResult], None]:
        def check(result: gevent.event.AsyncResult) -> None:
            if not result.successful():
                log.warning(
                    "command_failed",
                    node=self.node,
                    command=type(command).__name__,
                    error=type(result.exception).__name__,
                )
                self._failed(command, f"{type(result.exception).__name__}: {result.exception}")
            elif isinstance(result.value, ApiResult) and not result.value.ok:
                reply = result.value.body.strip()[:200]
                log.warning("command_refused", node=self.node, command=type(command).__name__, reply=reply)
                self._failed(command, reply)

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
