"""Runs a :class:`~ctilink.sim.SimulatedSwitch` against real time, ``speed`` times faster.

Rules: the simulated switch owns the engine calls (it is the switch *and* the edge, exactly as the
live edge drives the engine); this driver only maps virtual time to wall time and feeds requests
from other greenlets (the HTTP API) into the simulation at the current virtual instant. It is
the single writer of engine state in demo mode, as :class:`~ctilink.service.loop.EngineLoop` is
in live mode.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import gevent
import gevent.event
import gevent.queue

from ctilink.core import EngineSnapshot
from ctilink.sim import SimulatedSwitch


class SimDriver:
    """Virtual clock = start + (wall - wall_start) * speed."""

    def __init__(
        self,
        sim: SimulatedSwitch,
        *,
        speed: float = 1.0,
        wall_clock: Callable[[], float] = time.monotonic,
        max_wait_s: float = 0.25,
        snapshot_every_s: float = 1.0,
        on_snapshot: Callable[[EngineSnapshot, float], None] | None = None,
    ) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed!r}")
        self.sim = sim
        self.speed = float(speed)
        self._wall = wall_clock
        self._max_wait_s = max_wait_s
        self._inbox: gevent.queue.Queue = gevent.queue.Queue()
        self._greenlet: gevent.Greenlet | None = None
        self._wall0 = 0.0
        self._virt0 = sim.now
        self._snapshot_every_s = snapshot_every_s
        self._on_snapshot = on_snapshot
        self._next_snapshot = 0.0
        self.snapshot: EngineSnapshot | None = None
        self.accepting = True

    def virtual_now(self) -> float:
        return self._virt0 + (self._wall() - self._wall0) * self.speed

    def submit(self, item: object) -> gevent.event.AsyncResult:
        """Send a request into the simulation; the result is set once it was handled."""
        result = gevent.event.AsyncResult()
        self._inbox.put((item, result))
        return result

    def start(self) -> None:
        self._wall0 = self._wall()
        self._virt0 = self.sim.now
        self._greenlet = gevent.spawn(self._run)

    def stop(self, timeout: float = 5.0) -> None:
        self._inbox.put((None, None))
        if self._greenlet is not None:
            self._greenlet.join(timeout)

    def _run(self) -> None:
        sim = self.sim
        while True:
            now_v = self.virtual_now()
            sim.process_due(now_v)
            if self._on_snapshot is not None and now_v >= self._next_snapshot:
                self._next_snapshot = now_v + self._snapshot_every_s * self.speed
                self.snapshot = sim.engine.snapshot(now_v)  # type: ignore[attr-defined]
                self._on_snapshot(self.snapshot, now_v)
            nxt = sim.next_time()
            wait = self._max_wait_s if nxt is None else min(self._max_wait_s, max(0.0, (nxt - now_v) / self.speed))
            try:
                item, result = self._inbox.get(timeout=wait)
            except gevent.queue.Empty:
                continue
            if item is None and result is None:
                return
            sim.process_due(self.virtual_now())
            before = len(sim.rejected_requests)
            try:
                sim.request(item)
            except Exception as exc:
                if result is not None:
                    result.set_exception(exc)
                continue
            if result is not None:
                rejected = sim.rejected_requests[before:]
                result.set(rejected[0][2] if rejected else None)
