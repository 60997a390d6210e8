"""In-process callbacks on engine notifications: ``ctilink.on(CallAnswered, fn)``.

Rules: a callback never blocks or breaks the engine. Each call runs in its own greenlet under a
timeout; an exception or a timeout is logged and counted, and the next notification is delivered
as usual. Callbacks registered for a base class receive its subclasses too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import gevent
import structlog
from prometheus_client import CollectorRegistry, Counter

N = TypeVar("N")
Callback = Callable[[Any], object]

log = structlog.get_logger("ctilink.callbacks")


class Callbacks:
    """A registry of notification callbacks with isolated, time-limited execution."""

    def __init__(self, *, timeout_s: float = 5.0, registry: CollectorRegistry | None = None) -> None:
        self.timeout_s = timeout_s
        self._by_type: dict[type, list[Callback]] = {}
        self._resolved: dict[type, tuple[Callback, ...]] = {}
        self.failures = 0
        self._failures_metric = (
            Counter(
                "ctilink_callback_failures_total", "Callbacks that raised or timed out", ["type"], registry=registry
            )
            if registry is not None
            else None
        )

    def on(self, kind: type[N], fn: Callable[[N], object]) -> Callable[[N], object]:
        """Call ``fn(notification)`` for every notification of ``kind`` (or a subclass)."""
        self._by_type.setdefault(kind, []).append(fn)
        self._resolved.clear()
        return fn

    def off(self, kind: type, fn: Callback) -> None:
        self._by_type.get(kind, []).remove(fn)
        self._resolved.clear()

    def _for(self, kind: type) -> tuple[Callback, ...]:
        found = self._resolved.get(kind)
        if found is None:
            found = tuple(fn for base in kind.__mro__ for fn in self._by_type.get(base, ()))
            self._resolved[kind] = found
        return found

    def dispatch(self, note: object) -> list[gevent.Greenlet]:
        """Start every matching callback in its own greenlet; returns them (tests join them)."""
        return [gevent.spawn(self._run, fn, note) for fn in self._for(type(note))]

    def _run(self, fn: Callback, note: object) -> None:
        kind = type(note).__name__
        try:
            with gevent.Timeout(self.timeout_s):
                fn(note)
        except gevent.Timeout:
            self._failed(kind, fn, "timeout")
        except Exception as exc:
            self._failed(kind, fn, f"{type(exc).__name__}: {exc}")

    def _failed(self, kind: str, fn: Callback, why: str) -> None:
        self.failures += 1
        if self._failures_metric is not None:
            self._failures_metric.labels(kind).inc()
        log.warning(
            "callback_failed", notification=kind, callback=getattr(fn, "__qualname__", repr(fn)), error=why[:300]
        )


#: The process-wide registry behind :func:`ctilink.on`; the daemon dispatches through it.
default_callbacks = Callbacks()


def on(kind: type[N], fn: Callable[[N], object]) -> Callable[[N], object]:
    """Register ``fn`` for notifications of ``kind`` on the default registry."""
    return default_callbacks.on(kind, fn)
