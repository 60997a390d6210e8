"""Rolling-window sums for the derived KPI gauges (service level, abandon rate, ASA, AHT, occupancy).

Rules:
- Time is the ``now: float`` passed in; nothing here reads a clock. Times that go backwards by
  more than the window are dropped (they can only come from a confused caller), never raised.
- Memory is fixed at construction: ``slots`` rows of ``fields`` floats. Adding is O(1); reading
  the totals is O(slots * fields).
- The window is ``window_s`` wide and moves in steps of ``window_s / slots``: :meth:`totals`
  sums the slot holding ``now`` and the ``slots - 1`` slots before it, so it covers between
  ``window_s - window_s/slots`` and ``window_s`` seconds of history. With the default 60 slots
  and a 15-minute window that is a 15 s step, far below what a wallboard can show.

Theory of operation: a ring of slots, each tagged with the absolute slot number it holds
(``floor(t / step)``). Writing into a ring position whose tag is older than the slot being
written recycles it (zeroes the row first), so expired data disappears without a sweep.
:meth:`integrate` spreads a rate (agents in a state x seconds) over the slots a time interval
crosses, which is how agent-state time is accounted exactly across slot edges.

This module knows nothing about calls, agents or Prometheus.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["RollingWindow"]


class RollingWindow:
    """Per-field sums over the last ``window_s`` seconds."""

    __slots__ = ("_rows", "_tags", "fields", "slots", "step_s", "window_s")

    def __init__(self, fields: int, window_s: float, slots: int = 60) -> None:
        if fields < 1:
            raise ValueError(f"fields must be >= 1, got {fields!r}")
        if not (isinstance(window_s, (int, float)) and math.isfinite(window_s) and window_s > 0):
            raise ValueError(f"window_s must be a finite number of seconds > 0, got {window_s!r}")
        if slots < 2:
            raise ValueError(f"slots must be >= 2, got {slots!r}")
        self.fields = fields
        self.window_s = float(window_s)
        self.slots = slots
        self.step_s = self.window_s / slots
        self._tags = [-1] * slots
        self._rows = [[0.0] * fields for _ in range(slots)]

    def _row(self, tag: int) -> list[float] | None:
        pos = tag % self.slots
        held = self._tags[pos]
        if held == tag:
            return self._rows[pos]
        if held > tag:  # that position already moved on: the time is older than the window
            return None
        self._tags[pos] = tag
        row = self._rows[pos]
        for i in range(self.fields):
            row[i] = 0.0
        return row

    def add(self, now: float, field: int, value: float = 1.0) -> None:
        """Add ``value`` to ``field`` at time ``now``."""
        row = self._row(int(now // self.step_s))
        if row is not None:
            row[field] += value

    def integrate(self, start: float, end: float, rates: Sequence[float]) -> None:
        """Add ``rates[i] * seconds`` to field ``i`` for every second of ``[start, end)``, slot by slot."""
        if end <= start:
            return
        start = max(start, end - self.window_s)  # older time would only be recycled away
        step = self.step_s
        while start < end:
            tag = int(start // step)
            seg_end = min(end, (tag + 1) * step)
            if seg_end <= start:  # float edge: start sits on a boundary that rounds down
                seg_end = min(end, start + step)
            row = self._row(tag)
            seconds = seg_end - start
            if row is not None:
                for i, rate in enumerate(rates):
                    if rate:
                        row[i] += rate * seconds
            start = seg_end

    def totals(self, now: float) -> list[float]:
        """Sums of every field over the window ending at ``now``."""
        current = int(now // self.step_s)
        oldest = current - self.slots
        out = [0.0] * self.fields
        for tag, row in zip(self._tags, self._rows, strict=False):
            if oldest < tag <= current:
                for i, value in enumerate(row):
                    out[i] += value
        return out
