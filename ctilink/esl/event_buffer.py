"""The buffer between a connection's reader and its one consumer.

Rules:
- The reader never waits for the consumer: if it did, api replies queued behind events would
  stall (a consumer waiting on an api reply could never drain the buffer: a deadlock) and
  FreeSWITCH would kill us as a lagging listener anyway.
- When the buffer holds ``buffer_size`` events, the session is dropped on purpose (events lost
  from then on are counted), and the reconnect waits until the consumer has drained half the
  buffer; its resync restores the truth. Dropping silently and carrying on would leave the
  engine with a wrong view of calls.
- The consumer sees events in FreeSWITCH's order. From the moment a session's subscription
  exists its live events are held back; the resync events go first, then the held ones, then
  the live flow. Held events count against the same limit.
- After :meth:`EventBuffer.end`, every :meth:`EventBuffer.get` returns None once the events
  before the end are drained.

Theory of operation: an unbounded gevent queue whose size is checked before every put (an
unbounded put never yields, so a resync flush cannot be overtaken by a live event), a list for
held events, and an Event the consumer sets when it has drained to the low-water mark.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gevent.event
import gevent.queue

from ctilink.esl.metrics import EslMetrics
from ctilink.esl.session import EslSession
from ctilink.events import Event

__all__ = ["EventBuffer"]

_STOP = object()


class EventBuffer:
    """Events waiting for the consumer, in order, bounded by dropping the session."""

    def __init__(self, buffer_size: int, metrics: EslMetrics, log: Any) -> None:
        self._buffer_size = buffer_size
        self._low_water = buffer_size // 2
        self._metrics = metrics
        self._log = log
        self._queue: gevent.queue.Queue = gevent.queue.Queue()
        metrics.track_buffer(self._queue.qsize)
        self._held: list[Event] = []
        self._holding = False
        self._overflowed = False
        self._drained = gevent.event.Event()

    @property
    def depth(self) -> int:
        return int(self._queue.qsize())

    # -- reader side ---------------------------------------------------------------------

    def hold(self) -> None:
        """Hold live events back from now on (a new session's subscription is about to exist)."""
        self._held = []
        self._holding = True

    def release(self) -> None:
        """Forget held events and stop holding (the session they belong to has ended)."""
        self._holding = False
        self._held = []

    def accept(self, event: Event, session: EslSession) -> None:
        """One live event of ``session``: held while it resyncs, else delivered."""
        if self._holding:
            self._held.append(event)
            if len(self._held) > self._buffer_size:
                self._overflow(session)
            return
        self.deliver(event, session)

    def deliver(self, event: Event, session: EslSession) -> None:
        """Queue one event for the consumer, or drop ``session`` if the buffer is full."""
        if self._queue.qsize() >= self._buffer_size:
            self._overflow(session)
            return
        self._queue.put(event)
        self._metrics.event(type(event).__name__)

    def flush(self, resync_events: Sequence[Event], session: EslSession) -> None:
        """Queue the resync events, then the live events held meanwhile, and stop holding."""
        # No greenlet switch happens from here to the end of the flush (gevent queue puts on an
        # unbounded queue do not yield), so no live event can overtake the resync.
        for event in resync_events:
            self._queue.put(event)
            self._metrics.event(type(event).__name__)
        held, self._held = self._held, []
        self._holding = False
        for event in held:
            self.deliver(event, session)

    def _overflow(self, session: EslSession) -> None:
        self._metrics.dropped_events.inc()
        if not self._overflowed:
            self._overflowed = True
            self._drained.clear()
            self._log.error(
                "esl_buffer_overflow",
                buffer_size=self._buffer_size,
                action="dropping session; reconnect and resync once the consumer has drained half the buffer",
            )
        session.close("buffer_overflow")

    # -- supervisor side -----------------------------------------------------------------

    def wait_for_drain(self, stopping: Callable[[], bool]) -> None:
        """After an overflow, wait until the consumer has drained half the buffer (or a stop)."""
        if not self._overflowed:
            return
        self._log.warning("esl_waiting_for_consumer", depth=self._queue.qsize(), resume_at=self._low_water)
        while self._queue.qsize() > self._low_water and not stopping():
            self._drained.wait()
            self._drained.clear()
        self._overflowed = False

    def wake(self) -> None:
        """Wake :meth:`wait_for_drain` so it can see a stop."""
        self._drained.set()

    def end(self) -> None:
        """No more events: once the queue is drained, every get() returns None."""
        self._queue.put(_STOP)

    # -- consumer side -------------------------------------------------------------------

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event, in order; None on timeout or once ended and drained."""
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
