"""ESL operational metrics: one set of families per registry, one label set per node.

Rules:
- The registry is always passed in; the library never touches prometheus' global default
  registry (tests and several daemons in one process would collide on it).
- Labels are bounded: ``node`` (configured names), ``type`` (our event class names, not
  FreeSWITCH event names, which include free-form CUSTOM subclasses), ``verb`` (a command
  verb that passed :func:`verb_label`, else ``other``), ``reason`` (a fixed vocabulary).
- Several connections (one per node) share one registry: families are created once per
  registry and cached, and each connection takes its ``node`` children.

Theory of operation: :class:`EslMetrics` is what a connection holds; it pre-binds the node
label so the hot path (one counter increment per event) is a dict lookup and an ``inc``. It
knows nothing about sockets or events beyond their names.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["EslMetrics", "verb_label"]

_VERB_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

# Command latencies on a LAN are sub-millisecond to tens of ms; originate via api can block
# for the whole ring time, hence the long tail buckets.
_COMMAND_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def verb_label(verb: str) -> str:
    """A bounded metrics label for a command verb: the verb itself if it looks like one."""
    return verb if _VERB_RE.match(verb) else "other"


@dataclass(frozen=True)
class _Families:
    connected: Gauge
    reconnects: Counter
    resyncs: Counter
    events: Counter
    malformed: Counter
    buffer_depth: Gauge
    command_seconds: Histogram
    command_failures: Counter
    connect_failures: Counter
    disconnects: Counter
    dropped_events: Counter


_FAMILIES: weakref.WeakKeyDictionary[CollectorRegistry, _Families] = weakref.WeakKeyDictionary()
_FAMILIES_LOCK = threading.Lock()


# field of _Families -> (metric class, name, help, labels). One table, so a family's name, help
# text and labels are read in one place and every registry gets exactly the same set.
_SPECS: dict[str, tuple[type[Gauge] | type[Counter] | type[Histogram], str, str, tuple[str, ...]]] = {
    "connected": (Gauge, "ctilink_esl_connected", "1 while the ESL session to the node is up and resynced.", ("node",)),
    "reconnects": (Counter, "ctilink_esl_reconnects_total", "ESL sessions established after the first one.", ("node",)),
    "resyncs": (
        Counter,
        "ctilink_esl_resyncs_total",
        "Completed resyncs (channel snapshots turned into events).",
        ("node",),
    ),
    "events": (
        Counter,
        "ctilink_esl_events_total",
        "Typed events delivered to the consumer buffer, by event class.",
        ("node", "type"),
    ),
    "malformed": (
        Counter,
        "ctilink_esl_malformed_frames_total",
        "Frames or event bodies that could not be decoded.",
        ("node",),
    ),
    "buffer_depth": (Gauge, "ctilink_esl_buffer_depth", "Events waiting in the consumer buffer.", ("node",)),
    "command_seconds": (
        Histogram,
        "ctilink_esl_command_seconds",
        "Time from sending an api/bgapi command to its reply.",
        ("node", "verb"),
    ),
    "command_failures": (
        Counter,
        "ctilink_esl_command_failures_total",
        "api/bgapi commands that failed: -ERR reply, timeout or lost connection.",
        ("node", "verb"),
    ),
    "connect_failures": (
        Counter,
        "ctilink_esl_connect_failures_total",
        "Connection attempts that failed, by reason.",
        ("node", "reason"),
    ),
    "disconnects": (
        Counter,
        "ctilink_esl_disconnects_total",
        "Established sessions that ended, by reason.",
        ("node", "reason"),
    ),
    "dropped_events": (
        Counter,
        "ctilink_esl_dropped_events_total",
        "Live events discarded because the consumer buffer was full (a resync follows).",
        ("node",),
    ),
}


def _make_family(attr: str, registry: CollectorRegistry) -> Gauge | Counter | Histogram:
    kind, name, doc, labels = _SPECS[attr]
    if kind is Histogram:
        return Histogram(name, doc, list(labels), registry=registry, buckets=_COMMAND_BUCKETS)
    return kind(name, doc, list(labels), registry=registry)


def _families(registry: CollectorRegistry) -> _Families:
    with _FAMILIES_LOCK:
        fams = _FAMILIES.get(registry)
        if fams is None:
            # Any: each family's class is fixed by its row in _SPECS, which mypy cannot follow.
            made: dict[str, Any] = {attr: _make_family(attr, registry) for attr in _SPECS}
            fams = _Families(**made)
            _FAMILIES[registry] = fams
        return fams


class EslMetrics:
    """The ESL metrics of one node, bound to one registry."""

    def __init__(self, registry: CollectorRegistry, node: str) -> None:
        fams = _families(registry)
        self._fams = fams
        self.node = node
        self.connected = fams.connected.labels(node)
        self.reconnects = fams.reconnects.labels(node)
        self.resyncs = fams.resyncs.labels(node)
        self.malformed = fams.malformed.labels(node)
        self.buffer_depth = fams.buffer_depth.labels(node)
        self.dropped_events = fams.dropped_events.labels(node)
        self._events: dict[str, Counter] = {}
        self._command_seconds: dict[str, Histogram] = {}
        self._command_failures: dict[str, Counter] = {}
        self.connected.set(0)

    def event(self, type_name: str) -> None:
        """Count one event delivered to the consumer, by its class name."""
        child = self._events.get(type_name)
        if child is None:
            child = self._events[type_name] = self._fams.events.labels(self.node, type_name)
        child.inc()

    def command(self, verb: str, seconds: float, ok: bool) -> None:
        """Record one command round trip (and a failure if it did not succeed)."""
        label = verb_label(verb)
        hist = self._command_seconds.get(label)
        if hist is None:
            hist = self._command_seconds[label] = self._fams.command_seconds.labels(self.node, label)
        hist.observe(seconds)
        if not ok:
            self.command_failed(verb)

    def command_failed(self, verb: str) -> None:
        """Count a command failure that has no round-trip time (timeout, lost connection)."""
        label = verb_label(verb)
        child = self._command_failures.get(label)
        if child is None:
            child = self._command_failures[label] = self._fams.command_failures.labels(self.node, label)
        child.inc()

    def connect_failed(self, reason: str) -> None:
        self._fams.connect_failures.labels(self.node, reason).inc()

    def disconnected(self, reason: str) -> None:
        self._fams.disconnects.labels(self.node, reason).inc()

    def track_buffer(self, depth: Callable[[], float]) -> None:
        """Make the buffer-depth gauge read ``depth()`` at scrape time (no per-event cost)."""
        self.buffer_depth.set_function(depth)
