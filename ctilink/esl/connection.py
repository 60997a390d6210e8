"""The ESL connection to one FreeSWITCH node: connect, survive, resync, api/bgapi.

Rules:
- One :class:`EslConnection` per node, one supervisor greenlet per connection
  (:mod:`ctilink.esl.supervisor`); the session lifecycle and its states are
  :mod:`ctilink.esl.conn_state`. Every failure of the node ends the session, never the
  connection; the next attempt backs off and resyncs.
- Pending ``api``/``bgapi`` calls and unfinished jobs fail with :class:`EslDisconnected` when
  their session ends: an answer that can no longer arrive is reported at once, not by timeout.
- The consumer sees events in FreeSWITCH's order. After every (re)connect it first sees the
  resync events (``resync=True``) and the :class:`~ctilink.events.Resynced` marker, then the live
  events of the new session (live events that arrive during the resync are held back).
- The reader never waits for the consumer; a full buffer drops the session on purpose
  (:mod:`ctilink.esl.event_buffer`).
- Caller-controlled text never reaches the wire unvalidated (:mod:`ctilink.esl.api_calls`).
- Not thread-safe: use it from greenlets of the hub that created it.

Theory of operation: this module is the public face and the wiring. It checks its arguments
into :class:`~ctilink.esl.settings.EslSettings` and builds one of each part:

- :class:`~ctilink.esl.session.EslSession` (one per attempt): greenswitch's TCP connect and
  authentication around our framing, reply matching and silence watchdog;
- :class:`~ctilink.esl.intake.EventIntake`: event frames to typed events, BACKGROUND_JOB to the
  job that asked for it;
- :class:`~ctilink.esl.event_buffer.EventBuffer`: the bounded, ordered queue to the consumer;
- :class:`~ctilink.esl.api_calls.CommandPath`: api/bgapi writes, their results and jobs;
- :class:`~ctilink.esl.supervisor.Supervisor`: the reconnect loop and the resync.

The parts own sockets, greenlets, the buffer and the ESL metrics; none interprets an event
beyond matching BACKGROUND_JOB to its job (routing belongs to the core).
"""

from __future__ import annotations

import contextlib
import uuid as uuid_mod
from collections.abc import Iterator, Sequence
from typing import Any

import gevent
import gevent.event
import structlog
from prometheus_client import CollectorRegistry

from ctilink.commands import Command
from ctilink.esl.api_calls import ApiResult, CommandPath, JobHandle, command_text
from ctilink.esl.backoff import Backoff
from ctilink.esl.conn_state import ConnState
from ctilink.esl.errors import (
    EslAuthError,
    EslCommandError,
    EslDisconnected,
    EslError,
    EslRejected,
    EslTimeout,
    JobTimeout,
    UnsafeCommandError,
)
from ctilink.esl.event_buffer import EventBuffer
from ctilink.esl.intake import EventIntake
from ctilink.esl.metrics import EslMetrics
from ctilink.esl.normalize import Normalizer
from ctilink.esl.session import EslSession
from ctilink.esl.settings import EslSettings
from ctilink.esl.supervisor import Supervisor
from ctilink.events import Event

__all__ = [
    "ApiResult",
    "ConnState",
    "EslAuthError",
    "EslCommandError",
    "EslConnection",
    "EslDisconnected",
    "EslError",
    "EslRejected",
    "EslTimeout",
    "JobHandle",
    "JobTimeout",
    "UnsafeCommandError",
]

# The name the greenswitch contract tests check the session class under.
_Session = EslSession


class EslConnection:
    """A supervised ESL connection to one FreeSWITCH node. See the module doc."""

    def __init__(
        self,
        node: str,
        host: str,
        port: int,
        password: str,
        *,
        event_format: str = "json",
        events: Sequence[str] | None = None,
        filters: Sequence[tuple[str, str]] = (),
        heartbeat_timeout_s: float = 60.0,
        buffer_size: int = 100_000,
        backoff: Backoff | None = None,
        registry: CollectorRegistry | None = None,
        logger: Any = None,
        connect_timeout_s: float = 5.0,
        resync_timeout_s: float = 10.0,
        stable_session_s: float = 10.0,
    ) -> None:
        settings = EslSettings.build(
            node,
            host,
            port,
            password,
            event_format=event_format,
            events=events,
            filters=filters,
            heartbeat_timeout_s=heartbeat_timeout_s,
            buffer_size=buffer_size,
            backoff=backoff,
            connect_timeout_s=connect_timeout_s,
            resync_timeout_s=resync_timeout_s,
            stable_session_s=stable_session_s,
        )
        self.node = node
        self.host = host
        self.port = port
        self.metrics = EslMetrics(registry if registry is not None else CollectorRegistry(), node)
        base = logger if logger is not None else structlog.get_logger("ctilink.esl")
        self._log = base.bind(node=node)
        self._build_parts(settings)

    def _build_parts(self, settings: EslSettings) -> None:
        self._buffer = EventBuffer(settings.buffer_size, self.metrics, self._log)
        self._commands = CommandPath(self.metrics, settings.node)
        self._intake = EventIntake(Normalizer(settings.node), self._buffer, self._commands, self.metrics, self._log)
        self._supervisor = Supervisor(settings, self._intake, self._buffer, self._commands, self.metrics, self._log)
        self._states = self._supervisor.states
        self._greenlet: gevent.Greenlet | None = None

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def state(self) -> ConnState:
        return self._states.state

    @property
    def connected(self) -> bool:
        """True while a session is up and its resync has been delivered."""
        return bool(self._supervisor.live.is_set())

    @property
    def core_uuid(self) -> str | None:
        """The node's Core-UUID, as last seen in a resync or an event (None before either)."""
        return self._intake.core_uuid

    @property
    def attempts(self) -> int:
        """Sessions attempted so far, successful or not."""
        return self._supervisor.attempts

    def start(self) -> None:
        """Spawn the supervisor: it connects, resyncs and keeps the session alive until stop()."""
        if self._greenlet is not None:
            raise RuntimeError(f"EslConnection({self.node}) already started")
        self._greenlet = gevent.spawn(self._supervisor.run)

    def stop(self, timeout: float = 5.0) -> None:
        """End cleanly: say ``exit`` if connected, close, stop retrying, end :meth:`events`."""
        if self._supervisor.stopping:
            return
        self._supervisor.request_stop()
        session = self._intake.session
        if session is not None and session.connected:
            with contextlib.suppress(EslError, OSError):
                session.request("exit", min(timeout, 1.0))
            session.close("stopped")
        if self._greenlet is not None:
            self._greenlet.join(timeout)
            if not self._greenlet.dead:
                self._greenlet.kill(block=True, timeout=timeout)
        self._commands.fail_jobs("connection stopped")
        self._supervisor.live.clear()
        self.metrics.connected.set(0)
        self._states.set(ConnState.STOPPED)
        self._buffer.end()

    def reconnect(self, reason: str = "requested") -> None:
        """Drop the current session on purpose; the supervisor reconnects (with backoff) and resyncs."""
        session = self._intake.session
        if session is not None:
            self._log.info("esl_reconnect_requested", reason=reason)
            session.close("requested")

    def wait_for_state(self, state: ConnState, timeout: float | None = None) -> bool:
        """Wait until the supervisor is in ``state``; False on timeout (or if it stopped first)."""
        return self._states.wait_for(state, timeout)

    def wait_connected(self, timeout: float | None = None) -> bool:
        """Wait until a session is live (resync delivered); False on timeout."""
        return bool(self._supervisor.live.wait(timeout))

    # -- consumer side -------------------------------------------------------------------

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event, in order; None on timeout or once stopped and drained."""
        return self._buffer.get(timeout)

    def events(self) -> Iterator[Event]:
        """Every event, in order, until stop()."""
        while True:
            item = self.get()
            if item is None:
                return
            yield item

    @property
    def buffer_depth(self) -> int:
        return self._buffer.depth

    # -- commands ------------------------------------------------------------------------

    def api(self, cmd: str | Command, timeout: float = 10.0) -> ApiResult:
        """Run ``api <cmd>`` and return its body. Raises EslTimeout / EslDisconnected."""
        text, verb, _ = command_text(cmd)
        result: ApiResult = self._commands.wait(self._submit(text, verb, None), verb, timeout)
        return result

    def bgapi(self, cmd: str | Command, timeout: float = 10.0) -> JobHandle:
        """Run ``bgapi <cmd>`` with a Job-UUID; the handle completes on its BACKGROUND_JOB.

        ``timeout`` bounds the wait for FreeSWITCH's ``+OK Job-UUID`` acknowledgement; the job
        itself is waited for with :meth:`JobHandle.wait`. A Command that carries a
        ``job_uuid`` (Originate, Eavesdrop) keeps it, so the core can correlate the outcome.
        """
        text, verb, job_uuid = command_text(cmd)
        pending = self._submit(text, verb, job_uuid or str(uuid_mod.uuid4()))
        handle: JobHandle = self._commands.wait(pending, verb, timeout)
        return handle

    def send(self, cmd: Command) -> gevent.event.AsyncResult:
        """Write ``cmd`` now and return at once: the result gets its ApiResult (api) or JobHandle
        (bgapi: Originate, Eavesdrop), or an EslError.

        Commands are pipelined: FreeSWITCH runs a connection's commands in the order received, so
        the daemon keeps its order without paying a round trip per command (a queued caller's
        setvar, answer and hold music would otherwise delay the agent's originate).
        """
        text, verb, job_uuid = command_text(cmd)
        return self._submit(text, verb, job_uuid)

    def _submit(self, text: str, verb: str, job_uuid: str | None) -> gevent.event.AsyncResult:
        return self._commands.submit(self._require_session(), text, verb, job_uuid)

    def _require_session(self) -> EslSession:
        session = self._intake.session
        if session is None or not session.ready or not session.connected:
            raise EslDisconnected(f"not connected to {self.node} (state {self._states.state.value})")
        return session
