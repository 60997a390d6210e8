"""The command path: ``api`` and ``bgapi`` calls, their results, and the jobs still in flight.

Rules:
- Caller-controlled text never reaches the wire unvalidated: :class:`~ctilink.commands.Command`
  objects go through :func:`~ctilink.esl.render.render`; raw strings are for our own queries and
  are still refused (:class:`~ctilink.esl.errors.UnsafeCommandError`, nothing written) if they
  hold CR, LF or NUL, are empty or padded.
- A ``bgapi`` carries a Job-UUID that is a safe token and not already in flight; a Command that
  has one (Originate, Eavesdrop) keeps it, so the core can correlate the outcome.
- An ``api`` answer of ``-ERR`` is not an exception: ``ApiResult.ok`` is False, and it counts
  as a command failure. A ``bgapi`` that FreeSWITCH refuses raises EslCommandError.
- Every failure is counted once per command: refusal, timeout, lost session, failed job.
- Jobs still in flight when their session ends fail with EslDisconnected at once.

Theory of operation: :class:`CommandPath` writes one command to a session and links a callback
to its reply, so the caller gets an AsyncResult without a greenlet per command, and commands can
be pipelined. A job's BACKGROUND_JOB arrives later as an event; the event intake hands it to
:meth:`CommandPath.complete_job`, which settles the job's :class:`JobHandle` if it is ours
(BACKGROUND_JOB goes to every subscribed listener).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import gevent
import gevent.event

from ctilink.commands import Command
from ctilink.esl.errors import EslCommandError, EslDisconnected, EslError, EslTimeout, JobTimeout, UnsafeCommandError
from ctilink.esl.metrics import EslMetrics
from ctilink.esl.render import render
from ctilink.esl.session import EslSession
from ctilink.events import JobCompleted

__all__ = ["ApiResult", "CommandPath", "JobHandle", "command_text"]

_JOB_UUID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")


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


def command_text(cmd: str | Command) -> tuple[str, str, str | None]:
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


class CommandPath:
    """Writes api/bgapi commands to a session and keeps the jobs in flight until they complete."""

    def __init__(self, metrics: EslMetrics, node: str) -> None:
        self._metrics = metrics
        self._node = node
        self._jobs: dict[str, tuple[str, gevent.event.AsyncResult]] = {}

    def submit(self, session: EslSession, text: str, verb: str, job_uuid: str | None) -> gevent.event.AsyncResult:
        """Write one command (``bgapi`` when it has a ``job_uuid``); the result settles on its reply."""
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
                self._metrics.command_failed(verb)
                raise
        else:
            try:
                pending = session.submit(f"api {text}")
            except EslError:
                self._metrics.command_failed(verb)
                raise

        def settle(reply_result: gevent.event.AsyncResult) -> None:
            seconds = time.monotonic() - start
            if not reply_result.successful():
                if background:
                    self._jobs.pop(jid, None)
                self._metrics.command_failed(verb)
                out.set_exception(reply_result.exception)
                return
            reply = reply_result.value
            if background:
                reply_text = reply.headers.get("Reply-Text", "")
                ok = reply_text.startswith("+OK")
                self._metrics.command(verb, seconds, ok=ok)
                if not ok:
                    self._jobs.pop(jid, None)
                    out.set_exception(EslCommandError(f"bgapi {verb} refused: {reply_text[:120]!r}"))
                    return
                out.set(JobHandle(jid, verb, job))
            else:
                result = ApiResult(verb=verb, body=reply.text, seconds=seconds)
                self._metrics.command(verb, seconds, result.ok)
                out.set(result)

        pending.rawlink(settle)
        return out

    def wait(self, pending: gevent.event.AsyncResult, verb: str, timeout: float) -> Any:
        """The value ``pending`` settles with; EslTimeout (counted as a failure) if it takes too long."""
        try:
            return pending.get(timeout=timeout)
        except gevent.Timeout:
            self._metrics.command_failed(verb)
            raise EslTimeout(f"no reply to {verb!r} within {timeout}s") from None

    def complete_job(self, event: JobCompleted) -> None:
        """Settle the job ``event`` completes, if it is one of ours."""
        entry = self._jobs.pop(event.job_uuid, None)
        if entry is None:
            return  # another client's job: BACKGROUND_JOB goes to every subscribed listener
        verb, result = entry
        if not event.ok:
            self._metrics.command_failed(verb)
        result.set(event)

    def fail_jobs(self, reason: str) -> None:
        """Fail every job still in flight with EslDisconnected (its answer can no longer arrive)."""
        jobs, self._jobs = self._jobs, {}
        error = EslDisconnected(f"job lost: {reason} on {self._node}")
        for verb, result in jobs.values():
            if not result.ready():
                self._metrics.command_failed(verb)
                result.set_exception(error)
