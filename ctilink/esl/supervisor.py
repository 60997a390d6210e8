"""The supervisor: one greenlet per connection that keeps a session to the node alive.

Rules:
- It owns the session lifecycle (:mod:`ctilink.esl.conn_state`): connect, authenticate,
  subscribe, filter, resync, read until the session ends, back off, again, until stopped.
  Setup must finish within ``connect_timeout_s``.
- Every failure of the node ends the session, never the connection: refused, reset, EOF,
  ``text/disconnect-notice`` (shutdown, or "too many lost events" when FreeSWITCH killed a
  lagging listener), ``text/rude-rejection`` (ACL), bad password, silence, a desynchronised
  byte stream or an orphan reply. The next attempt waits a capped, jittered exponential delay
  (:mod:`ctilink.esl.backoff`); it is never a tight loop. The retry counter resets only after a
  session lasted ``min(stable_session_s, cap)``, so a node that accepts and drops at once still
  backs off exponentially.
- When a session ends, its pending commands and unfinished jobs fail with EslDisconnected at
  once, and the events it held back are forgotten: the next session's resync covers them.
- After a buffer overflow the next attempt waits until the consumer has drained half the buffer.
- A bad password or an ACL rejection is logged as an error with a hint (the password never is);
  other failures to connect are warnings.

Theory of operation: :meth:`Supervisor.run` is the greenlet's body. Each attempt makes a new
:class:`~ctilink.esl.session.EslSession` whose owner is the event intake, and tells the buffer
to hold live events from the start: those that arrive before the snapshot is taken are not all
about channels (registrations, jobs). Once set up, the session resyncs
(:mod:`ctilink.esl.resync`, queries pipelined), the buffer flushes the resync then the held
events, and the supervisor waits for the session to close.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

import gevent
import gevent.event
from greenswitch.esl import NotConnectedError

from ctilink.esl import resync as resync_mod
from ctilink.esl.api_calls import CommandPath
from ctilink.esl.conn_state import ConnState, StateMachine
from ctilink.esl.errors import (
    EslAuthError,
    EslCommandError,
    EslDisconnected,
    EslError,
    EslRejected,
    EslTimeout,
)
from ctilink.esl.event_buffer import EventBuffer
from ctilink.esl.intake import EventIntake
from ctilink.esl.metrics import EslMetrics
from ctilink.esl.session import EslSession
from ctilink.esl.settings import EslSettings
from ctilink.events import Event, Resynced

__all__ = ["Supervisor"]

_CORE_UUID = re.compile(r"^[0-9a-fA-F-]{8,64}$")


class Supervisor:
    """Runs sessions to one node, one after another, until :meth:`request_stop`."""

    def __init__(
        self,
        settings: EslSettings,
        intake: EventIntake,
        buffer: EventBuffer,
        commands: CommandPath,
        metrics: EslMetrics,
        log: Any,
    ) -> None:
        self._settings = settings
        self._intake = intake
        self._buffer = buffer
        self._commands = commands
        self._metrics = metrics
        self._log = log
        self.states = StateMachine()
        self.live = gevent.event.Event()  # set while a session is up and its resync delivered
        self._stop_event = gevent.event.Event()
        self.stopping = False
        self.attempts = 0
        self._sessions = 0

    def request_stop(self) -> None:
        """Stop retrying: wakes the backoff wait and the wait for the consumer to drain."""
        self.stopping = True
        self._stop_event.set()
        self._buffer.wake()

    def run(self) -> None:
        """The supervisor greenlet: attempt, back off, attempt again, until stopped."""
        attempt = 0
        while not self.stopping:
            session, reason, established = self._attempt()
            if established is not None and self._ended(session, reason, established):
                attempt = 0
            if self.stopping:
                break
            self.states.set(ConnState.BACKOFF)
            self._buffer.wait_for_drain(lambda: self.stopping)
            delay = self._settings.backoff.delay(attempt)
            attempt += 1
            self._log.info("esl_backoff", delay_s=round(delay, 3), attempt=self.attempts)
            self._stop_event.wait(delay)

    # -- one attempt ---------------------------------------------------------------------

    def _attempt(self) -> tuple[EslSession, str, float | None]:
        """One session from connect to close: (session, why it ended, when it was established)."""
        self.attempts += 1
        session = EslSession(self._intake, self._settings, self._log)
        established: float | None = None
        reason = "failed"
        # Live events are held from the moment the subscription exists: those that arrive
        # before the snapshot is taken are not all about channels (registrations, jobs).
        self._buffer.hold()
        self._intake.session = session
        try:
            if self._connect(session):
                established = time.monotonic()
                reason = self._serve(session)
        finally:
            self._end_session(session, reason)
        return session, reason, established

    def _connect(self, session: EslSession) -> bool:
        """Set the session up; False (counted and logged) if that failed."""
        try:
            self.states.set(ConnState.CONNECTING)
            self._open(session)
        except EslAuthError as exc:
            self._connect_failed("auth", "esl_auth_failed", str(exc), hint="check the event socket password")
        except EslRejected as exc:
            self._connect_failed(
                "rejected",
                "esl_rejected_by_acl",
                str(exc),
                hint="FreeSWITCH's event_socket apply-inbound-acl does not allow this host",
            )
        except ConnectionRefusedError as exc:
            self._connect_failed("refused", "esl_connect_refused", str(exc))
        except EslTimeout as exc:
            self._connect_failed("timeout", "esl_connect_timeout", str(exc))
        except (EslError, NotConnectedError, OSError) as exc:
            self._connect_failed("error", "esl_connect_failed", f"{type(exc).__name__}: {exc}")
        else:
            return True
        return False

    def _serve(self, session: EslSession) -> str:
        """Run an established session to its end; why it ended."""
        try:
            return self._run_session(session)
        except resync_mod.ResyncError as exc:
            self._log.error("esl_resync_failed", error=str(exc))
            return "resync_failed"
        except (EslError, OSError) as exc:
            # A resync query that timed out or lost its session, typically.
            reason = session.close_reason or "error"
            self._log.warning("esl_session_error", error=f"{type(exc).__name__}: {exc}")
            return reason

    def _end_session(self, session: EslSession, reason: str) -> None:
        session.close(reason)
        if self._intake.session is session:
            self._intake.session = None
        self._buffer.release()
        self.live.clear()
        self._metrics.connected.set(0)
        self._commands.fail_jobs(f"session ended ({session.close_reason})")

    def _ended(self, session: EslSession, reason: str, established: float) -> bool:
        """Report an established session's end; True if it lasted long enough to reset the backoff."""
        if self.stopping:
            self._log.info("esl_stopped", lasted_s=round(time.monotonic() - established, 3))
            return False
        self._metrics.disconnected(session.close_reason or reason)
        self._log.warning(
            "esl_disconnected",
            reason=session.close_reason,
            notice=session.notice,
            lasted_s=round(time.monotonic() - established, 3),
        )
        return time.monotonic() - established >= min(self._settings.stable_session, self._settings.backoff.cap)

    def _connect_failed(self, reason: str, event: str, error: str, hint: str | None = None) -> None:
        settings = self._settings
        self._metrics.connect_failed(reason)
        if hint:
            self._log.error(event, host=settings.host, port=settings.port, error=error, hint=hint)
        else:
            self._log.warning(event, host=settings.host, port=settings.port, error=error)

    # -- an established session ----------------------------------------------------------

    def _open(self, session: EslSession) -> None:
        """TCP connect, auth, subscribe and filter, all within connect_timeout_s."""
        timeout = self._settings.connect_timeout
        with gevent.Timeout(timeout, EslTimeout(f"session setup exceeded {timeout}s")):
            try:
                session.connect()
            except NotConnectedError as exc:
                if session.rejection is not None:
                    raise EslRejected(f"text/rude-rejection: {session.rejection[:200]!r}") from None
                if session.close_reason == "silence":
                    raise EslTimeout("no auth/request from the server") from None
                raise EslDisconnected(f"closed before authentication: {exc}") from None
            reply = session.request(self._settings.subscription, timeout)
            if not reply.headers.get("Reply-Text", "").startswith("+OK"):
                raise EslCommandError(f"subscription refused: {reply.headers.get('Reply-Text', '')[:120]!r}")
            for command in self._settings.filters:
                reply = session.request(command, timeout)
                if not reply.headers.get("Reply-Text", "").startswith("+OK"):
                    raise EslCommandError(f"{command!r} refused: {reply.headers.get('Reply-Text', '')[:120]!r}")

    def _run_session(self, session: EslSession) -> str:
        """Resync, go live, and return why the session ended."""
        session.ready = True
        if self._sessions:
            self._metrics.reconnects.inc()
        self._sessions += 1
        self.states.set(ConnState.RESYNCING)
        events = self._resync(session)
        if session.closed.is_set():
            return session.close_reason or "closed"
        self._buffer.flush(events, session)
        self._metrics.resyncs.inc()
        if session.closed.is_set():
            return session.close_reason or "closed"
        self.states.set(ConnState.LIVE)
        self.live.set()
        self._metrics.connected.set(1)
        self._log.info(
            "esl_connected",
            host=self._settings.host,
            port=self._settings.port,
            core_uuid=self._intake.core_uuid,
            resynced_channels=len(events[-1].uuids) if isinstance(events[-1], Resynced) else None,
        )
        session.closed.wait()
        return session.close_reason or "closed"

    def _resync(self, session: EslSession) -> list[Event]:
        resync_timeout = self._settings.resync_timeout

        def query(commands: Sequence[str]) -> list[str]:
            # Pipelined: every command goes out before the first reply is awaited.
            pending = [(c, session.submit(f"api {c}")) for c in commands]
            bodies = []
            for command, result in pending:
                try:
                    bodies.append(result.get(timeout=resync_timeout).text)
                except gevent.Timeout:
                    raise EslTimeout(f"resync query {command.split(' ', 1)[0]!r} timed out") from None
            return bodies

        intake = self._intake
        core = query(["global_getvar core_uuid"])[0].strip()
        if _CORE_UUID.match(core):
            if intake.core_uuid is not None and core != intake.core_uuid:
                self._log.warning("esl_node_restarted", old_core_uuid=intake.core_uuid, core_uuid=core)
            intake.core_uuid = core

        def bad_dump(channel: str, why: str) -> None:
            self._metrics.malformed.inc()
            self._log.warning("esl_resync_bad_dump", uuid=channel, reason=why[:200])

        return resync_mod.run_resync(query, intake.normalizer, self._settings.node, intake.core_uuid, bad_dump)
