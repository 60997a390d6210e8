"""The virtual clock: a heap of timed actions.

Rules:
- Time only moves when :meth:`Scheduler.advance_to` is called; nothing here reads a clock or sleeps.
- Actions due at the same instant run in the order they were scheduled (a sequence number breaks
  ties), so a run is a pure function of its inputs and seed.
- An action scheduled in the past runs at the current time, never earlier: the clock never goes back.
- Cancelling is O(1): a cancelled timer stays in the heap and is skipped when it surfaces.

Theory of operation: every timed thing in the simulated switch (a ring that ends in an answer, a
caller's patience running out, a command reaching the switch after its latency) is a :class:`Timer`
in one heap. The driver asks :meth:`next_time`, moves the clock there and pops what is due. This
module owns the clock and the heap; it knows nothing about channels, agents or the engine.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from heapq import heappop, heappush
from typing import Any


class Timer:
    """A handle on one scheduled action; :meth:`cancel` makes it a no-op."""

    __slots__ = ("args", "cancelled", "fn", "seq", "time")

    def __init__(self, time: float, seq: int, fn: Callable[..., None], args: tuple[Any, ...]) -> None:
        self.time = time
        self.seq = seq
        self.fn = fn
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Scheduler:
    """A virtual clock with a heap of :class:`Timer` actions."""

    def __init__(self, start: float = 0.0) -> None:
        if not math.isfinite(start):
            raise ValueError(f"start must be a finite time, got {start!r}")
        self.now = float(start)
        # (time, seq, timer): tuples compare in C, and seq is unique so the timer is never compared.
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = 0

    def at(self, time: float, fn: Callable[..., None], *args: Any) -> Timer:
        """Run ``fn(*args)`` at virtual ``time`` (or now, if ``time`` is already past)."""
        if math.isnan(time):
            raise ValueError("cannot schedule at NaN")
        self._seq += 1
        timer = Timer(max(time, self.now), self._seq, fn, args)
        heapq.heappush(self._heap, (timer.time, self._seq, timer))
        return timer

    def after(self, delay: float, fn: Callable[..., None], *args: Any) -> Timer:
        """Run ``fn(*args)`` ``delay`` seconds from now. ``math.inf`` means never (nothing is queued)."""
        if delay < 0 or math.isnan(delay):
            raise ValueError(f"delay must be >= 0, got {delay!r}")
        if math.isinf(delay):
            # A never-firing timer would sit in the heap forever; hand back a dead handle instead.
            timer = Timer(math.inf, 0, fn, args)
            timer.cancelled = True
            return timer
        # What ``at(now + delay)`` does, inlined (this is the sim's hottest call): a finite delay
        # >= 0 gives a time that is neither NaN nor before now, so it is the timer's time as it is.
        time = self.now + delay
        self._seq = seq = self._seq + 1
        timer = Timer(time, seq, fn, args)
        heappush(self._heap, (time, seq, timer))
        return timer

    def next_time(self) -> float | None:
        """When the earliest live action is due, or ``None`` if nothing is scheduled."""
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def pop_due(self, now: float) -> Timer | None:
        """Remove and return the earliest live action due at or before ``now``; moves the clock to it."""
        heap = self._heap
        while heap:
            timer = heap[0][2]
            if timer.cancelled:
                heapq.heappop(heap)
                continue
            if timer.time > now:
                return None
            heapq.heappop(heap)
            self.now = timer.time
            return timer
        return None

    def pop_next(self) -> Timer:
        """Remove and return the earliest action, known to be live (:meth:`next_time` just said when it
        is due); moves the clock to it. For a driver that has already checked it is due."""
        timer = heappop(self._heap)[2]
        self.now = timer.time
        return timer

    def advance_to(self, now: float) -> None:
        """Move the clock forward to ``now`` without running anything (time never goes back)."""
        if now > self.now:
            self.now = now

    def __len__(self) -> int:
        return sum(1 for entry in self._heap if not entry[2].cancelled)
