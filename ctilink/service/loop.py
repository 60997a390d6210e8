"""The engine greenlet: the single writer of engine state (DESIGN.md, "Service").

Rules:
- Only this greenlet calls ``engine.handle``/``engine.tick``. Every other greenlet (ESL pumps, the
  HTTP API, signal handlers) sends inputs through :meth:`EngineLoop.submit`, which returns an
  ``AsyncResult`` holding the :class:`~ctilink.core.Effects` once handled.
- Timers are data: the loop waits for the next input at most until ``engine.next_deadline()``
  and then ticks. No polling interval decides routing.
- The clock is injected (``clock``); the live daemon passes ``time.time``.
- Effects leave through two callables: ``dispatch(commands)`` (to the switch) and
  ``notify(notification, now)`` (metrics, store, callbacks). Neither may block for long: they
  queue work for greenlets of their own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import gevent
import gevent.event
import gevent.queue
import structlog

from ctilink.commands import Command
from ctilink.core import Effects, Engine, EngineSnapshot
from ctilink.core.errors import InputError

log = structlog.get_logger("ctilink.loop")

Notify = Callable[[object, float], None]
Dispatch = Callable[[Sequence[Command]], None]
DecisionObserver = Callable[[str, float], None]


class EngineLoop:
    """Runs an :class:`Engine` in one greenlet, fed by a queue of inputs."""

    def __init__(
        self,
        engine: Engine,
        *,
        dispatch: Dispatch,
        notify: Notify,
        clock: Callable[[], float] = time.time,
        observe_decision: DecisionObserver | None = None,
        snapshot_every_s: float = 1.0,
        on_snapshot: Callable[[EngineSnapshot, float], None] | None = None,
    ) -> None:
        self.engine = engine
        self._dispatch = dispatch
        self._notify = notify
        self._clock = clock
        self._observe_decision = observe_decision
        self._inbox: gevent.queue.Queue = gevent.queue.Queue()
        self._greenlet: gevent.Greenlet | None = None
        self._snapshot_every_s = snapshot_every_s
        self._on_snapshot = on_snapshot
        self._next_snapshot = 0.0
        self.snapshot: EngineSnapshot | None = None
        self.accepting = True
        self.handled = 0

    # -- inputs from other greenlets -----------------------------------------------------------

    def submit(self, item: object) -> gevent.event.AsyncResult:
        """Queue an event or request; the result is set to its Effects once handled."""
        result = gevent.event.AsyncResult()
        self._inbox.put((item, result))
        return result

    def post(self, item: object) -> None:
        """Queue an input whose effects nobody waits for (switch events)."""
        self._inbox.put((item, None))

    @property
    def depth(self) -> int:
        return int(self._inbox.qsize())

    # -- the greenlet ---------------------------------------------------------------------------

    def start(self) -> None:
        self._greenlet = gevent.spawn(self._run)

    def stop(self, timeout: float = 5.0) -> None:
        self._inbox.put((_STOP, None))
        if self._greenlet is not None:
            self._greenlet.join(timeout)

    def _run(self) -> None:
        inbox = self._inbox
        while True:
            now = self._clock()
            deadline = self.engine.next_deadline()
            wait = None if deadline is None else max(0.0, deadline - now)
            if self._on_snapshot is not None:
                until_snap = max(0.0, self._next_snapshot - now)
                wait = until_snap if wait is None else min(wait, until_snap)
            try:
                item, result = inbox.get(timeout=wait)
            except gevent.queue.Empty:
                item, result = None, None
            if item is _STOP:
                return
            now = self._clock()
            if item is not None:
                self._handle(item, result, now)
            deadline = self.engine.next_deadline()
            if deadline is not None and deadline <= now:
                self._apply(self._timed("tick", self.engine.tick, now), now)
            if self._on_snapshot is not None and now >= self._next_snapshot:
                self._next_snapshot = now + self._snapshot_every_s
                self.refresh_snapshot(now)

    def refresh_snapshot(self, now: float) -> EngineSnapshot:
        self.snapshot = self.engine.snapshot(now)
        if self._on_snapshot is not None:
            self._on_snapshot(self.snapshot, now)
        return self.snapshot

    def _handle(self, item: object, result: gevent.event.AsyncResult | None, now: float) -> None:
        try:
            effects = self._timed(type(item).__name__, self.engine.handle, item, now)
        except InputError as exc:
            # An ordinary refusal raised by a layer over the engine (the dialer's unknown campaign,
            # contact already being dialled): the caller gets it; it is no failure of ctilink's.
            log.info("input_refused", input=type(item).__name__, code=exc.code, error=str(exc)[:200])
            if result is not None:
                result.set_exception(exc)
            return
        except Exception as exc:
            log.exception("engine_input_failed", input=type(item).__name__)
            if result is not None:
                result.set_exception(exc)
            return
        self.handled += 1
        self._apply(effects, now)
        if result is not None:
            result.set(effects)

    def _timed(self, label: str, fn: Callable[..., Effects], *args: Any) -> Effects:
        if self._observe_decision is None:
            return fn(*args)
        started = time.perf_counter()
        effects = fn(*args)
        self._observe_decision(label, time.perf_counter() - started)
        return effects

    def _apply(self, effects: Effects, now: float) -> None:
        if effects.commands:
            self._dispatch(effects.commands)
            if effects.notifications:
                # Let the node senders put the commands on the wire before the fan-out (metrics,
                # store, screen pops, SSE) runs: the caller waits on the switch, not on our books.
                gevent.sleep(0)
        for note in effects.notifications:
            self._notify(note, now)


_STOP = object()
