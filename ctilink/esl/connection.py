"""The ESL connection to one FreeSWITCH node: connect, survive, resync, api/bgapi.

Rules:
- One :class:`EslConnection` per node, one supervisor greenlet per connection. The supervisor
  owns the session lifecycle (the states and their allowed transitions are :class:`ConnState`
  and ``_TRANSITIONS``): connect, authenticate, subscribe, filter, resync, read until the session
  ends, back off, again, until :meth:`EslConnection.stop`.
- Every failure of the node ends the session, never the connection: refused, reset, EOF,
  ``text/disconnect-notice`` (shutdown, or "too many lost events" when FreeSWITCH killed a
  lagging listener), ``text/rude-rejection`` (ACL), bad password, silence (no complete, valid
  event or reply for ``heartbeat_timeout_s``: :mod:`ctilink.esl.watchdog`), a desynchronised
  byte stream or an orphan reply (:mod:`ctilink.esl.desync`, :mod:`ctilink.esl.replies`). The
  next attempt waits a capped, jittered exponential delay (:mod:`ctilink.esl.backoff`); it is
  never a tight loop.
- Pending ``api``/``bgapi`` calls and unfinished jobs fail with :class:`EslDisconnected` when
  their session ends: an answer that can no longer arrive is reported at once, not by timeout.
- The consumer sees events in FreeSWITCH's order. After every (re)connect it first sees the
  resync events (``resync=True``) and the :class:`~ctilink.events.Resynced` marker, then the live
  events of the new session (live events that arrive during the resync are held back).
- The reader never waits for the consumer: if it did, api replies queued behind events would
  stall (the consumer waiting on an api reply could never drain the buffer: a deadlock) and
  FreeSWITCH would kill us as a lagging listener anyway. When the buffer holds ``buffer_size``
  events, the session is dropped on purpose (events lost from then on are counted), and the
  reconnect waits until the consumer has drained half the buffer; its resync restores the truth.
  Dropping silently and carrying on would leave the engine with a wrong view of calls.
- Caller-controlled text never reaches the wire unvalidated: :class:`~ctilink.commands.Command`
  objects go through :func:`~ctilink.esl.render.render`; raw strings are for our own queries
  and are still refused if they contain CR or LF.
- Not thread-safe: use it from greenlets of the hub that created it.

Theory of operation: greenswitch's ``InboundESL`` does the TCP connect, waits for
``auth/request`` and authenticates. Its reader is replaced (:class:`_Session`): it URL-decodes a
whole header block before splitting lines (so an encoded newline in a caller-controlled value
forges headers) and reads one line per header. Ours feeds raw socket bytes to
:class:`~ctilink.esl.framing.FrameReader`, events to :class:`~ctilink.esl.normalize.Normalizer`
and replies to :class:`~ctilink.esl.replies.ReplyQueue`, which checks each one fits its command.
Commands are written under a lock so a command's bytes and its FIFO slot are never interleaved
with another greenlet's.
This module owns sockets, greenlets, the buffer and the ESL metrics; it never interprets an
event beyond matching BACKGROUND_JOB to the job that asked for it (routing belongs to the core).
"""

from __future__ import annotations

import contextlib
import enum
import re
import time
import uuid as uuid_mod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import gevent
import gevent.event
import gevent.lock
import gevent.queue
import gevent.socket as gsocket
import structlog
from greenswitch.esl import InboundESL, NotConnectedError
from prometheus_client import CollectorRegistry

from ctilink.commands import Command
from ctilink.esl import resync as resync_mod
from ctilink.esl.backoff import Backoff
from ctilink.esl.desync import StreamDesync, event_body_problem
from ctilink.esl.framing import Frame, FrameError, FrameReader
from ctilink.esl.metrics import EslMetrics
from ctilink.esl.normalize import Normalizer
from ctilink.esl.render import render
from ctilink.esl.replies import REPLY_TYPES, Reply, ReplyQueue
from ctilink.esl.watchdog import SilenceWatchdog
from ctilink.events import Event, JobCompleted, Resynced

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

_READ_SIZE = 256 * 1024
_EVENT_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_SUBCLASS = re.compile(r"^[A-Za-z0-9_.-]+::[A-Za-z0-9_:.-]+$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_JOB_UUID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")
_CORE_UUID = re.compile(r"^[0-9a-fA-F-]{8,64}$")
# Always subscribed: HEARTBEAT feeds the silence watchdog, BACKGROUND_JOB completes bgapi jobs.
_REQUIRED_EVENTS = ("HEARTBEAT", "BACKGROUND_JOB")


class EslError(Exception):
    """Base of the ESL connection's errors."""


class EslDisconnected(EslError):
    """No session to the node (not yet connected, or it ended while waiting for an answer)."""


class EslTimeout(EslError):
    """The node did not answer in time."""


class JobTimeout(EslTimeout):
    """A bgapi job's BACKGROUND_JOB did not arrive in time (the job may still complete)."""

    def __init__(self, job_uuid: str, timeout: float) -> None:
        super().__init__(f"job {job_uuid} did not complete within {timeout}s")
        self.job_uuid = job_uuid


class EslAuthError(EslError):
    """FreeSWITCH refused the password."""


class EslRejected(EslError):
    """FreeSWITCH refused the connection before authentication (``text/rude-rejection``: ACL)."""


class EslCommandError(EslError):
    """FreeSWITCH refused a command (a ``-ERR`` command/reply)."""


class UnsafeCommandError(EslError, ValueError):
    """A raw command string cannot be sent as one command line."""


class ConnState(enum.Enum):
    """Where the supervisor is."""

    IDLE = "idle"  # constructed, start() not called
    CONNECTING = "connecting"  # TCP connect, auth, subscribe, filters
    RESYNCING = "resyncing"  # session up, snapshot being turned into events
    LIVE = "live"  # resync delivered, live events flowing
    BACKOFF = "backoff"  # session ended or attempt failed; waiting before the next attempt
    STOPPED = "stopped"  # stop() called; terminal


_TRANSITIONS: dict[ConnState, frozenset[ConnState]] = {
    ConnState.IDLE: frozenset({ConnState.CONNECTING, ConnState.STOPPED}),
    ConnState.CONNECTING: frozenset({ConnState.RESYNCING, ConnState.BACKOFF, ConnState.STOPPED}),
    ConnState.RESYNCING: frozenset({ConnState.LIVE, ConnState.BACKOFF, ConnState.STOPPED}),
    ConnState.LIVE: frozenset({ConnState.BACKOFF, ConnState.STOPPED}),
    ConnState.BACKOFF: frozenset({ConnState.CONNECTING, ConnState.STOPPED}),
    ConnState.STOPPED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class ApiResult:
    """The body of an ``api`` reply. ``ok`` is False for ``-ERR``/``-USAGE`` answers."""

    verb: str
    body: str
    seconds: float

    @property
    def ok(self) -> bool:
        return not (self.body.startswith("-ERR") or self.body.startswith("-USAGE"))


class JobHandle:
    """A ``bgapi`` job in flight; :meth:`wait` returns its BACKGROUND_JOB as a JobCompleted."""

    def __init__(self, job_uuid: str, verb: str, result: gevent.event.AsyncResult) -> None:
        self.job_uuid = job_uuid
        self.verb = verb
        self._result = result

    def done(self) -> bool:
        return bool(self._result.ready())

    def wait(self, timeout: float | None = None) -> JobCompleted:
        """The job's outcome. Raises JobTimeout, or EslDisconnected if the session ended first."""
        try:
            job: JobCompleted = self._result.get(timeout=timeout)
            return job
        except gevent.Timeout:
            raise JobTimeout(self.job_uuid, timeout or 0.0) from None

    def __repr__(self) -> str:
        return f"JobHandle(job_uuid={self.job_uuid!r}, verb={self.verb!r}, done={self.done()})"


class _Session(InboundESL):  # type: ignore[misc]  # greenswitch is untyped
    """One TCP session: greenswitch's connect/auth/reply FIFO around our framing and dispatch."""

    def __init__(self, owner: EslConnection, connect_timeout: float) -> None:
        super().__init__(owner.host, owner.port, owner._password, timeout=connect_timeout)
        self._owner = owner
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
        self._watchdog = SilenceWatchdog(owner._heartbeat_timeout)

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
                self._owner._log.debug("esl_read_error", error=str(exc))
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
                    self._owner._malformed("frame", err.reason, err.sample, recoverable=True)
                    data = b""
                    continue
                self._dispatch_all(frames)
                return
        except StreamDesync as desync:
            if self.closed.is_set():
                return
            # The rest of the stream may start inside a body, and replies may be off by one:
            # only a new session is trustworthy, and its resync covers whatever was lost.
            self._owner._malformed(desync.what, desync.reason, desync.sample, recoverable=False)
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
            if self._owner._on_event_frame(self, frame):
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
            self._owner._log.debug("esl_frame_ignored", content_type=ctype[:60])

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
                raise EslDisconnected(f"not connected to {self._owner.node}")
            result = self._replies.expect(text, job_uuid)
            try:
                self.sock.sendall(payload)
            except OSError as exc:
                self.close("send_failed")
                raise EslDisconnected(f"lost {self._owner.node} while sending: {exc}") from exc
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
        self._replies.fail_all(EslDisconnected(f"session to {self._owner.node} ended: {reason}"))
        self.closed.set()


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
        if not node:
            raise ValueError("node must be a non-empty name")
        if not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"port must be 1-65535, got {port!r}")
        if any(c in password for c in "\r\n") or not password:
            raise ValueError("password must be non-empty and contain no CR/LF")
        if event_format not in ("json", "plain"):
            raise ValueError(f"event_format must be 'json' or 'plain', got {event_format!r}")
        if buffer_size < 1:
            raise ValueError(f"buffer_size must be >= 1, got {buffer_size!r}")
        for name, value in (
            ("heartbeat_timeout_s", heartbeat_timeout_s),
            ("connect_timeout_s", connect_timeout_s),
            ("resync_timeout_s", resync_timeout_s),
        ):
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        self.node = node
        self.host = host
        self.port = port
        self._password = password
        self._subscription = f"event {event_format} {_subscription_list(events)}"
        self._filters = _filter_commands(filters)
        self._heartbeat_timeout = float(heartbeat_timeout_s)
        self._buffer_size = buffer_size
        self._low_water = buffer_size // 2
        self._backoff = backoff if backoff is not None else Backoff(initial=0.5, cap=30.0, jitter=0.2)
        self._connect_timeout = float(connect_timeout_s)
        self._resync_timeout = float(resync_timeout_s)
        self._stable_session = float(stable_session_s)
        self.metrics = EslMetrics(registry if registry is not None else CollectorRegistry(), node)
        base = logger if logger is not None else structlog.get_logger("ctilink.esl")
        self._log = base.bind(node=node)
        self._normalizer = Normalizer(node)

        self._queue: gevent.queue.Queue = gevent.queue.Queue()
        self.metrics.track_buffer(self._queue.qsize)
        self._held: list[Event] = []
        self._holding = False
        self._overflowed = False
        self._drained = gevent.event.Event()
        self._jobs: dict[str, tuple[str, gevent.event.AsyncResult]] = {}
        self._session: _Session | None = None
        self._live = gevent.event.Event()
        self._stop_event = gevent.event.Event()
        self._stopping = False
        self._supervisor: gevent.Greenlet | None = None
        self._state = ConnState.IDLE
        self._state_changed = gevent.event.Event()
        self._sessions = 0
        self.attempts = 0
        self.core_uuid: str | None = None

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def state(self) -> ConnState:
        return self._state

    @property
    def connected(self) -> bool:
        """True while a session is up and its resync has been delivered."""
        return bool(self._live.is_set())

    def start(self) -> None:
        """Spawn the supervisor: it connects, resyncs and keeps the session alive until stop()."""
        if self._supervisor is not None:
            raise RuntimeError(f"EslConnection({self.node}) already started")
        self._supervisor = gevent.spawn(self._supervise)

    def stop(self, timeout: float = 5.0) -> None:
        """End cleanly: say ``exit`` if connected, close, stop retrying, end :meth:`events`."""
        if self._stopping:
            return
        self._stopping = True
        self._stop_event.set()
        self._drained.set()
        session = self._session
        if session is not None and session.connected:
            with contextlib.suppress(EslError, OSError):
                session.request("exit", min(timeout, 1.0))
            session.close("stopped")
        if self._supervisor is not None:
            self._supervisor.join(timeout)
            if not self._supervisor.dead:
                self._supervisor.kill(block=True, timeout=timeout)
        self._fail_jobs("connection stopped")
        self._live.clear()
        self.metrics.connected.set(0)
        self._set_state(ConnState.STOPPED)
        self._queue.put(_STOP)

    def reconnect(self, reason: str = "requested") -> None:
        """Drop the current session on purpose; the supervisor reconnects (with backoff) and resyncs."""
        session = self._session
        if session is not None:
            self._log.info("esl_reconnect_requested", reason=reason)
            session.close("requested")

    def wait_for_state(self, state: ConnState, timeout: float | None = None) -> bool:
        """Wait until the supervisor is in ``state``; False on timeout (or if it stopped first)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._state is not state:
            if self._state is ConnState.STOPPED:
                return False
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            self._state_changed.wait(left)
        return True

    def wait_connected(self, timeout: float | None = None) -> bool:
        """Wait until a session is live (resync delivered); False on timeout."""
        return bool(self._live.wait(timeout))

    # -- consumer side -------------------------------------------------------------------

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event, in order; None on timeout or once stopped and drained."""
        try:
            item = self._queue.get(timeout=timeout)
        except gevent.queue.Empty:
            return None
        if item is _STOP:
            self._queue.put(_STOP)  # every later get() sees the end too
            return None
        if self._overflowed and self._queue.qsize() <= self._low_water:
            self._drained.set()
        event: Event = item
        return event

    def events(self) -> Iterator[Event]:
        """Every event, in order, until stop()."""
        while True:
            item = self.get()
            if item is None:
                return
            yield item

    @property
    def buffer_depth(self) -> int:
        return int(self._queue.qsize())

    # -- commands ------------------------------------------------------------------------

    def api(self, cmd: str | Command, timeout: float = 10.0) -> ApiResult:
        """Run ``api <cmd>`` and return its body. Raises EslTimeout / EslDisconnected."""
        text, verb, _ = _command_text(cmd)
        result: ApiResult = self._wait(self._submit(text, verb, None), verb, timeout)
        return result

    def bgapi(self, cmd: str | Command, timeout: float = 10.0) -> JobHandle:
        """Run ``bgapi <cmd>`` with a Job-UUID; the handle completes on its BACKGROUND_JOB.

        ``timeout`` bounds the wait for FreeSWITCH's ``+OK Job-UUID`` acknowledgement; the job
        itself is waited for with :meth:`JobHandle.wait`. A Command that carries a
        ``job_uuid`` (Originate, Eavesdrop) keeps it, so the core can correlate the outcome.
        """
        text, verb, job_uuid = _command_text(cmd)
        handle: JobHandle = self._wait(self._submit(text, verb, job_uuid or str(uuid_mod.uuid4())), verb, timeout)
        return handle

    def send(self, cmd: Command) -> gevent.event.AsyncResult:
        """Write ``cmd`` now and return at once: the result gets its ApiResult (api) or JobHandle
        (bgapi: Originate, Eavesdrop), or an EslError.

        Commands are pipelined: FreeSWITCH runs a connection's commands in the order received, so
        the daemon keeps its order without paying a round trip per command (a queued caller's
        setvar, answer and hold music would otherwise delay the agent's originate).
        """
        text, verb, job_uuid = _command_text(cmd)
        return self._submit(text, verb, job_uuid)

    def _wait(self, pending: gevent.event.AsyncResult, verb: str, timeout: float) -> Any:
        try:
            return pending.get(timeout=timeout)
        except gevent.Timeout:
            self.metrics.command_failed(verb)
            raise EslTimeout(f"no reply to {verb!r} within {timeout}s") from None

    def _submit(self, text: str, verb: str, job_uuid: str | None) -> gevent.event.AsyncResult:
        """Write one command (``bgapi`` when it has a ``job_uuid``); the result settles on its reply."""
        session = self._require_session()
        background = job_uuid is not None
        jid = job_uuid or ""  # only read when background
        out = gevent.event.AsyncResult()
        start = time.monotonic()
        if background:
            if not _JOB_UUID.match(jid):
                raise UnsafeCommandError(f"job uuid {jid[:70]!r} is not a safe token")
            if jid in self._jobs:
                raise EslCommandError(f"job {jid} is already in flight")
            job = gevent.event.AsyncResult()
            self._jobs[jid] = (verb, job)
            try:
                pending = session.submit(f"bgapi {text}\nJob-UUID: {jid}", jid)
            except EslError:
                self._jobs.pop(jid, None)
                self.metrics.command_failed(verb)
                raise
        else:
            try:
                pending = session.submit(f"api {text}")
            except EslError:
                self.metrics.command_failed(verb)
                raise

        def settle(reply_result: gevent.event.AsyncResult) -> None:
            seconds = time.monotonic() - start
            if not reply_result.successful():
                if background:
                    self._jobs.pop(jid, None)
                self.metrics.command_failed(verb)
                out.set_exception(reply_result.exception)
                return
            reply = reply_result.value
            if background:
                reply_text = reply.headers.get("Reply-Text", "")
                ok = reply_text.startswith("+OK")
                self.metrics.command(verb, seconds, ok=ok)
                if not ok:
                    self._jobs.pop(jid, None)
                    out.set_exception(EslCommandError(f"bgapi {verb} refused: {reply_text[:120]!r}"))
                    return
                out.set(JobHandle(jid, verb, job))
            else:
                result = ApiResult(verb=verb, body=reply.text, seconds=seconds)
                self.metrics.command(verb, seconds, result.ok)
                out.set(result)

        pending.rawlink(settle)
        return out

    def _require_session(self) -> _Session:
        session = self._session
        if session is None or not session.ready or not session.connected:
            raise EslDisconnected(f"not connected to {self.node} (state {self._state.value})")
        return session

    # -- reader callbacks (run in the session's reader greenlet) --------------------------

    def _on_event_frame(self, session: _Session, frame: Frame) -> bool:
        """Decode and deliver one event frame; False if it was skipped. Raises StreamDesync if
        its body does not have the shape its Content-Type promises (its length lied)."""
        try:
            event = self._normalizer.from_frame(frame)
        except Exception as exc:
            problem = event_body_problem(frame.content_type, frame.body)
            if problem:
                raise StreamDesync("event", problem, frame.body) from None
            self._malformed("event", f"{type(exc).__name__}: {exc}"[:300], frame.body, recoverable=True)
            return False
        if event is None:
            return False
        if session is not self._session:
            return True
        if event.core_uuid and event.core_uuid != self.core_uuid:
            self.core_uuid = event.core_uuid
        if isinstance(event, JobCompleted):
            self._complete_job(event)
        if self._holding:
            self._held.append(event)
            if len(self._held) > self._buffer_size:
                self._overflow(session)
            return True
        self._deliver(event, session)
        return True

    def _deliver(self, event: Event, session: _Session) -> None:
        if self._queue.qsize() >= self._buffer_size:
            self._overflow(session)
            return
        self._queue.put(event)
        self.metrics.event(type(event).__name__)

    def _overflow(self, session: _Session) -> None:
        self.metrics.dropped_events.inc()
        if not self._overflowed:
            self._overflowed = True
            self._drained.clear()
            self._log.error(
                "esl_buffer_overflow",
                buffer_size=self._buffer_size,
                action="dropping session; reconnect and resync once the consumer has drained half the buffer",
            )
        session.close("buffer_overflow")

    def _complete_job(self, event: JobCompleted) -> None:
        entry = self._jobs.pop(event.job_uuid, None)
        if entry is None:
            return  # another client's job: BACKGROUND_JOB goes to every subscribed listener
        verb, result = entry
        if not event.ok:
            self.metrics.command_failed(verb)
        result.set(event)

    def _malformed(self, what: str, reason: str, sample: bytes, *, recoverable: bool) -> None:
        self.metrics.malformed.inc()
        self._log.warning(
            "esl_malformed_input",
            what=what,
            reason=reason,
            sample=repr(bytes(sample[:120])),
            action="skipped" if recoverable else "reconnect",
        )

    def _fail_jobs(self, reason: str) -> None:
        jobs, self._jobs = self._jobs, {}
        error = EslDisconnected(f"job lost: {reason} on {self.node}")
        for verb, result in jobs.values():
            if not result.ready():
                self.metrics.command_failed(verb)
                result.set_exception(error)

    # -- supervisor ----------------------------------------------------------------------

    def _set_state(self, state: ConnState) -> None:
        if state is self._state:
            return
        if state not in _TRANSITIONS[self._state]:
            # The supervisor is the only writer; reaching here is a bug in this module.
            raise RuntimeError(f"illegal ESL connection transition {self._state.value} -> {state.value}")
        self._state = state
        changed, self._state_changed = self._state_changed, gevent.event.Event()
        changed.set()

    def _supervise(self) -> None:
        attempt = 0
        while not self._stopping:
            self.attempts += 1
            session = _Session(self, self._connect_timeout)
            established: float | None = None
            reason = "failed"
            # Live events are held from the moment the subscription exists: those that arrive
            # before the snapshot is taken are not all about channels (registrations, jobs).
            self._held = []
            self._holding = True
            self._session = session
            try:
                self._set_state(ConnState.CONNECTING)
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
                established = time.monotonic()
                try:
                    reason = self._run_session(session)
                except resync_mod.ResyncError as exc:
                    reason = "resync_failed"
                    self._log.error("esl_resync_failed", error=str(exc))
                except (EslError, OSError) as exc:
                    # A resync query that timed out or lost its session, typically.
                    reason = session.close_reason or "error"
                    self._log.warning("esl_session_error", error=f"{type(exc).__name__}: {exc}")
            finally:
                session.close(reason)
                if self._session is session:
                    self._session = None
                self._holding = False
                self._held = []
                self._live.clear()
                self.metrics.connected.set(0)
                self._fail_jobs(f"session ended ({session.close_reason})")
            if established is not None and self._stopping:
                self._log.info("esl_stopped", lasted_s=round(time.monotonic() - established, 3))
            elif established is not None:
                self.metrics.disconnected(session.close_reason or reason)
                self._log.warning(
                    "esl_disconnected",
                    reason=session.close_reason,
                    notice=session.notice,
                    lasted_s=round(time.monotonic() - established, 3),
                )
                if time.monotonic() - established >= min(self._stable_session, self._backoff.cap):
                    attempt = 0
            if self._stopping:
                break
            self._set_state(ConnState.BACKOFF)
            self._wait_for_drain()
            delay = self._backoff.delay(attempt)
            attempt += 1
            self._log.info("esl_backoff", delay_s=round(delay, 3), attempt=self.attempts)
            self._stop_event.wait(delay)

    def _connect_failed(self, reason: str, event: str, error: str, hint: str | None = None) -> None:
        self.metrics.connect_failed(reason)
        if hint:
            self._log.error(event, host=self.host, port=self.port, error=error, hint=hint)
        else:
            self._log.warning(event, host=self.host, port=self.port, error=error)

    def _open(self, session: _Session) -> None:
        """TCP connect, auth, subscribe and filter, all within connect_timeout_s."""
        with gevent.Timeout(self._connect_timeout, EslTimeout(f"session setup exceeded {self._connect_timeout}s")):
            try:
                session.connect()
            except NotConnectedError as exc:
                if session.rejection is not None:
                    raise EslRejected(f"text/rude-rejection: {session.rejection[:200]!r}") from None
                if session.close_reason == "silence":
                    raise EslTimeout("no auth/request from the server") from None
                raise EslDisconnected(f"closed before authentication: {exc}") from None
            reply = session.request(self._subscription, self._connect_timeout)
            if not reply.headers.get("Reply-Text", "").startswith("+OK"):
                raise EslCommandError(f"subscription refused: {reply.headers.get('Reply-Text', '')[:120]!r}")
            for command in self._filters:
                reply = session.request(command, self._connect_timeout)
                if not reply.headers.get("Reply-Text", "").startswith("+OK"):
                    raise EslCommandError(f"{command!r} refused: {reply.headers.get('Reply-Text', '')[:120]!r}")

    def _run_session(self, session: _Session) -> str:
        """Resync, go live, and return why the session ended."""
        session.ready = True
        if self._sessions:
            self.metrics.reconnects.inc()
        self._sessions += 1
        self._set_state(ConnState.RESYNCING)
        events = self._resync(session)
        if session.closed.is_set():
            return session.close_reason or "closed"
        # No greenlet switch happens from here to the end of the flush (gevent queue puts on an
        # unbounded queue do not yield), so no live event can overtake the resync.
        for event in events:
            self._queue.put(event)
            self.metrics.event(type(event).__name__)
        held, self._held = self._held, []
        self._holding = False
        for event in held:
            self._deliver(event, session)
        self.metrics.resyncs.inc()
        if session.closed.is_set():
            return session.close_reason or "closed"
        self._set_state(ConnState.LIVE)
        self._live.set()
        self.metrics.connected.set(1)
        self._log.info(
            "esl_connected",
            host=self.host,
            port=self.port,
            core_uuid=self.core_uuid,
            resynced_channels=len(events[-1].uuids) if isinstance(events[-1], Resynced) else None,
        )
        session.closed.wait()
        return session.close_reason or "closed"

    def _resync(self, session: _Session) -> list[Event]:
        def query(commands: Sequence[str]) -> list[str]:
            # Pipelined: every command goes out before the first reply is awaited.
            pending = [(c, session.submit(f"api {c}")) for c in commands]
            bodies = []
            for command, result in pending:
                try:
                    bodies.append(result.get(timeout=self._resync_timeout).text)
                except gevent.Timeout:
                    raise EslTimeout(f"resync query {command.split(' ', 1)[0]!r} timed out") from None
            return bodies

        core = query(["global_getvar core_uuid"])[0].strip()
        if _CORE_UUID.match(core):
            if self.core_uuid is not None and core != self.core_uuid:
                self._log.warning("esl_node_restarted", old_core_uuid=self.core_uuid, core_uuid=core)
            self.core_uuid = core

        def bad_dump(channel: str, why: str) -> None:
            self.metrics.malformed.inc()
            self._log.warning("esl_resync_bad_dump", uuid=channel, reason=why[:200])

        return resync_mod.run_resync(query, self._normalizer, self.node, self.core_uuid, bad_dump)

    def _wait_for_drain(self) -> None:
        if not self._overflowed:
            return
        self._log.warning("esl_waiting_for_consumer", depth=self._queue.qsize(), resume_at=self._low_water)
        while self._queue.qsize() > self._low_water and not self._stopping:
            self._drained.wait()
            self._drained.clear()
        self._overflowed = False


_STOP = object()


def _command_text(cmd: str | Command) -> tuple[str, str, str | None]:
    """(command line without api/bgapi, verb, job uuid) for a Command or one of our strings."""
    job_uuid: str | None = None
    if isinstance(cmd, Command):
        rendered = render(cmd)
        text = rendered.text
        job_uuid = rendered.job_uuid
    elif isinstance(cmd, str):
        text = cmd
    else:
        raise TypeError(f"command must be a str or a Command, got {type(cmd).__name__}")
    if "\r" in text or "\n" in text or "\x00" in text:
        raise UnsafeCommandError(f"command contains CR/LF/NUL: {text[:80]!r}")
    if not text.strip() or text != text.strip():
        raise UnsafeCommandError(f"command is empty or has surrounding blanks: {text[:80]!r}")
    verb = text.split(" ", 1)[0]
    return text, verb, job_uuid


def _subscription_list(events: Sequence[str] | None) -> str:
    if events is None:
        return "ALL"
    names: list[str] = []
    subclasses: list[str] = []
    for item in events:
        if not isinstance(item, str):
            raise ValueError(f"events: {item!r} is not a string")
        if item == "ALL":
            return "ALL"
        if _EVENT_NAME.match(item):
            if item != "CUSTOM" and item not in names:
                names.append(item)
        elif _SUBCLASS.match(item):
            if item not in subclasses:
                subclasses.append(item)
        else:
            raise ValueError(f"events: {item[:60]!r} is neither an event name (CHANNEL_CREATE) nor a subclass (a::b)")
    for required in _REQUIRED_EVENTS:
        if required not in names:
            names.append(required)
    if "CUSTOM" in events or subclasses:
        names.append("CUSTOM")
        names.extend(subclasses)
    return " ".join(names)


def _filter_commands(filters: Sequence[tuple[str, str]]) -> list[str]:
    commands: list[str] = []
    pairs = list(filters)
    for index, pair in enumerate(pairs):
        if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
            raise ValueError(f"filters[{index}] must be a (header, value) pair of strings, got {pair!r}")
        header, value = pair
        if not _HEADER_NAME.match(header):
            raise ValueError(f"filters[{index}]: header {header[:60]!r} is not a header name")
        if not value or value != value.strip() or any(c in value for c in "\r\n"):
            raise ValueError(f"filters[{index}]: value {value[:60]!r} is empty, padded or has CR/LF")
    if pairs:
        # ESL filters are OR-ed: once one exists, only matching events pass, so the watchdog's
        # HEARTBEAT and bgapi's BACKGROUND_JOB need their own.
        for required in _REQUIRED_EVENTS:
            if ("Event-Name", required) not in pairs:
                pairs.append(("Event-Name", required))
    for header, value in pairs:
        commands.append(f"filter {header} {value}")
    return commands
