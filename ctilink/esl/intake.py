"""Event intake: a session's event frames become typed events in the consumer's buffer.

Rules:
- Only the current session's events reach the buffer; a frame that a session read after it was
  replaced is still decoded (it proves the peer alive) but not delivered.
- An event body that does not have the shape its Content-Type promises means the frame's length
  lied: :class:`~ctilink.esl.desync.StreamDesync`, and the session ends. A well-shaped body the
  normalizer still refuses is malformed input: logged with a sample, counted, skipped.
- A BACKGROUND_JOB completes the job that asked for it before it is buffered; the intake never
  interprets an event beyond that (routing belongs to the core).
- The node's Core-UUID is tracked from every event that carries one.

Theory of operation: :class:`EventIntake` is the :class:`~ctilink.esl.session.SessionOwner` of
every session; it runs in the session's reader greenlet, decodes with the connection's
:class:`~ctilink.esl.normalize.Normalizer` and hands events to the
:class:`~ctilink.esl.event_buffer.EventBuffer`, which holds them back during a resync.
"""

from __future__ import annotations

from typing import Any

from ctilink.esl.api_calls import CommandPath
from ctilink.esl.desync import StreamDesync, event_body_problem
from ctilink.esl.event_buffer import EventBuffer
from ctilink.esl.framing import Frame
from ctilink.esl.metrics import EslMetrics
from ctilink.esl.normalize import Normalizer
from ctilink.esl.session import EslSession
from ctilink.events import JobCompleted

__all__ = ["EventIntake"]


class EventIntake:
    """Decodes the current session's event frames and buffers the events, in order."""

    def __init__(
        self, normalizer: Normalizer, buffer: EventBuffer, commands: CommandPath, metrics: EslMetrics, log: Any
    ) -> None:
        self.normalizer = normalizer
        self._buffer = buffer
        self._commands = commands
        self._metrics = metrics
        self._log = log
        self.session: EslSession | None = None  # the supervisor's current session
        self.core_uuid: str | None = None

    def on_event_frame(self, session: EslSession, frame: Frame) -> bool:
        """Decode and deliver one event frame; False if it was skipped. Raises StreamDesync if
        its body does not have the shape its Content-Type promises (its length lied)."""
        try:
            event = self.normalizer.from_frame(frame)
        except Exception as exc:
            problem = event_body_problem(frame.content_type, frame.body)
            if problem:
                raise StreamDesync("event", problem, frame.body) from None
            self.malformed("event", f"{type(exc).__name__}: {exc}"[:300], frame.body, recoverable=True)
            return False
        if event is None:
            return False
        if session is not self.session:
            return True
        if event.core_uuid and event.core_uuid != self.core_uuid:
            self.core_uuid = event.core_uuid
        if isinstance(event, JobCompleted):
            self._commands.complete_job(event)
        self._buffer.accept(event, session)
        return True

    def malformed(self, what: str, reason: str, sample: bytes, *, recoverable: bool) -> None:
        """Count and log input that was skipped (``recoverable``) or that ends the session."""
        self._metrics.malformed.inc()
        self._log.warning(
            "esl_malformed_input",
            what=what,
            reason=reason,
            sample=repr(bytes(sample[:120])),
            action="skipped" if recoverable else "reconnect",
        )
