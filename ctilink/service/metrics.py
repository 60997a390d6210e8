"""Contact-centre KPI metrics for Prometheus, computed from the engine's notifications and snapshots.

Rules:
- The registry is passed in; nothing here touches prometheus' global default registry. One
  :class:`KpiMetrics` per registry (a second one on the same registry is a duplicate-metric error).
- Names are ``ctilink_*`` with the unit in the name (``_seconds``, ``_ratio``, ``_total``).
- Labels are bounded. ``queue``: names the engine reports (configured queues), at most
  ``max_queues`` distinct, then ``_other``; ``_none`` when a call had no queue. ``state``: the
  :class:`~ctilink.core.agent.AgentState` values. ``reason`` / ``code``: the configured not-ready
  reasons / disposition codes, anything else ``_other``. ``disposition``, ``result``, ``kind``:
  the engine's own enums. ``agent``: only with ``per_agent=True``, at most ``max_agents``.
  Anything else (input type names, list/sticky vocabularies of newer notifications) goes through
  a capped label set: plain names only, at most 64 distinct values per family, then ``_other``.
- Every metric here is fed by something: :meth:`KpiMetrics.observe` (each engine notification),
  :meth:`KpiMetrics.refresh` (an engine snapshot, about once a second), :meth:`observe_decision`
  and :meth:`observe_store_write` (the daemon's timings). No placeholders.
- :meth:`observe` runs on the engine's greenlet for every notification: it does dictionary
  lookups, counter increments and O(1) window updates, never a scan.

Theory of operation. Counters and histograms are *event* metrics: they change when a
notification says something happened. Each call is followed by a small tracker from its first
notification to its :class:`~ctilink.core.notifications.CallEnded` (which the engine emits exactly
once per call, so trackers never leak). The tracker knows the call's current *queue stay* (from
entering a queue until it is answered, abandoned, overflowed or otherwise leaves), so each stay is
offered once and ends in exactly one outcome, and the customer's current *wait* (which, like the
engine's, runs across overflows and failed offers and restarts after a transfer). Gauges are
*state* metrics, set from the snapshot by :meth:`refresh`; the derived KPI gauges (service level,
abandon rate, ASA, AHT, occupancy) are recomputed there from rolling-window sums
(:mod:`ctilink.service.kpi_window`), so a Grafana single-stat needs no PromQL. Exact definitions
are in ``docs/metrics.md``.

This module decides nothing about calls; it only counts what the engine reports. It knows
nothing about sockets, the store or HTTP.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ctilink.core.agent import AgentState
from ctilink.core.call import CallState, Disposition, OfferOutcome
from ctilink.core.config import EngineConfig, QueueConfig
from ctilink.core.notifications import (
    AgentStateChanged,
    CallAnswered,
    CallArrived,
    CallDisconnected,
    CallEnded,
    CallEscalated,
    CallOffered,
    CallOverflowed,
    CallQueued,
    CallTransferred,
    InputRejected,
    OfferResult,
)
from ctilink.core.snapshot import EngineSnapshot
from ctilink.service.kpi_window import RollingWindow

__all__ = [
    "DECISION_BUCKETS",
    "HANDLE_BUCKETS",
    "HOLD_BUCKETS",
    "NO_QUEUE",
    "OTHER",
    "QUEUE_WAIT_BUCKETS",
    "STORE_WRITE_BUCKETS",
    "WRAP_UP_BUCKETS",
    "DialerMetrics",
    "KpiMetrics",
]

#: Label value for "no queue" (a call whose ``ctilink_queue`` named no configured queue).
NO_QUEUE = "_none"
#: Label value for anything outside a bounded vocabulary (or beyond a label's cap).
OTHER = "_other"
_NO_CODE = "_none"

# Seconds of queueing: callers' patience and service-level thresholds live between 5 s and 2 min.
QUEUE_WAIT_BUCKETS = (1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600)
HANDLE_BUCKETS = (10, 30, 60, 90, 120, 180, 240, 300, 450, 600, 900, 1200, 1800, 3600)
HOLD_BUCKETS = (0.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200)
WRAP_UP_BUCKETS = (1, 5, 10, 15, 20, 30, 45, 60, 90, 120, 300, 600)
# One engine decision is tens to hundreds of microseconds (docs/engine.md figures).
DECISION_BUCKETS = (1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 0.1)
# A store batch commit: SQLite WAL fsync is around a millisecond, a slow disk tens to hundreds.
STORE_WRITE_BUCKETS = (1e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1.0, 5.0)

# A label value taken from a name we do not control the vocabulary of must look like a name.
_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+:-]{0,63}$")
_CAPPED_LABEL_VALUES = 64

# Per-queue window fields.
_ANS, _ANS_SL, _ABN, _ABN_SHORT, _OVF, _OTHER_END, _WAIT_SUM, _HANDLE_SUM, _HANDLE_N = range(9)
_QUEUE_FIELDS = 9
# Occupancy window fields: agent-seconds per state that matters for occupancy.
_OCC_STATES = (AgentState.ON_CALL, AgentState.WRAP_UP, AgentState.AVAILABLE, AgentState.RESERVED)

# Dispositions that end a queue stay on their own (abandon and overflow are counted apart).
_STAY_ENDING = {Disposition.TERMINATED, Disposition.FAILED, Disposition.TRANSFERRED_OUT, Disposition.REJECTED}
_BLOCK_REASONS = frozenset({"full", "empty", "default-route", "queue-removed", "max-wait"})


@dataclass(slots=True)
class _Track:
    """What the metrics remember about one live call (dropped at CallEnded)."""

    arrival_queue: str | None = None
    stay_queue: str | None = None  # the queue the call is waiting in now (None: not in a stay)
    ever_stayed: bool = False
    blocked: bool = False
    wait_start: float | None = None  # the customer's current wait began (None: not waiting)
    to_agent: bool = False  # a blind transfer to an agent: offers are outside queue statistics
    queue: str | None = None  # the last queue the call was in (for transfers)
    offers: dict[str, tuple[float, str]] = field(default_factory=dict)  # leg uuid -> (offered at, queue)


class _CappedLabel:
    """Maps free-form names to label values: plain names, at most ``cap`` distinct, else ``_other``."""

    __slots__ = ("allowed", "cap", "seen")

    def __init__(self, cap: int = _CAPPED_LABEL_VALUES, allowed: Collection[str] | None = None) -> None:
        self.cap = cap
        self.allowed = frozenset(allowed) if allowed is not None else None
        self.seen: set[str] = set()

    def __call__(self, value: object) -> str:
        if not isinstance(value, str):
            value = getattr(value, "value", None)  # enums
            if not isinstance(value, str):
                return OTHER
        if self.allowed is not None:
            return value if value in self.allowed else OTHER
        if value in self.seen:
            return value
        if len(self.seen) >= self.cap or not _PLAIN.match(value):
            return OTHER
        self.seen.add(value)
        return value


def _label_of(obj: object, *names: str) -> object:
    """The first attribute of ``obj`` among ``names`` that is set (tolerant of newer notifications)."""
    for name in names:
        value = getattr(obj, name, None)
        if value is not None:
            return value
    return None


class KpiMetrics:
    """Prometheus KPI metrics fed by engine notifications (:meth:`observe`) and snapshots (:meth:`refresh`)."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        short_abandon_s: float = 20.0,
        window_s: float = 900.0,
        per_agent: bool = False,
        service_level_s: Mapping[str, float] | None = None,
        default_service_level_s: float = 20.0,
        disposition_codes: Collection[str] | None = None,
        not_ready_reasons: Collection[str] | None = None,
        max_queues: int = 256,
        max_agents: int = 20_000,
        max_tracked_calls: int = 200_000,
    ) -> None:
        for name, value in (("short_abandon_s", short_abandon_s), ("default_service_level_s", default_service_level_s)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")
        self.short_abandon_s = float(short_abandon_s)
        self.window_s = float(window_s)
        self.per_agent = per_agent
        self.default_service_level_s = float(default_service_level_s)
        self._thresholds: dict[str, float] = {}
        self._queues: dict[str, RollingWindow] = {}  # every queue label in use -> its window
        self._max_queues = max_queues
        self._max_agents = max_agents
        self._agents_seen: set[str] = set()
        self._max_tracked = max_tracked_calls
        self._tracks: dict[str, _Track] = {}
        self._codes = _CappedLabel(allowed=disposition_codes) if disposition_codes is not None else _CappedLabel()
        # "no-answer" is the engine's own automatic pause reason, configured or not.
        self._reasons = (
            _CappedLabel(allowed={*not_ready_reasons, "no-answer"}) if not_ready_reasons is not None else _CappedLabel()
        )
        self._known_reasons = tuple(not_ready_reasons or ())
        self._types = _CappedLabel()
        self._inputs = _CappedLabel()
        self._errors = _CappedLabel()
        self._list_names = _CappedLabel()
        self._list_actions = _CappedLabel()
        self._list_ops = _CappedLabel()
        self._sticky_outcomes = _CappedLabel()
        self._occupancy = RollingWindow(len(_OCC_STATES), self.window_s)
        self._state_counts: dict[AgentState, int] = {s: 0 for s in AgentState}
        self._integrated_to: float | None = None
        self._agent_state_children: dict[str, tuple[str, str]] = {}
        self._seen_nr_reasons: set[str] = set()
        self._handlers: dict[str, Callable[[Any, float], None]] = {
            "AgentStateChanged": self._on_agent_state,
            "CallArrived": self._on_arrived,
            "CallQueued": self._on_queued,
            "CallOffered": self._on_offered,
            "OfferResult": self._on_offer_result,
            "CallAnswered": self._on_answered,
            "CallTransferred": self._on_transferred,
            "CallEscalated": self._on_escalated,
            "CallOverflowed": self._on_overflowed,
            "CallDisconnected": self._on_disconnected,
            "CallEnded": self._on_ended,
            "InputRejected": self._on_rejected,
            "CallScreened": self._on_screened,
            "ListChanged": self._on_list_changed,
            "StickyRouted": self._on_sticky,
            "StickyRemembered": self._on_sticky_remembered,
        }
        self._build(registry)
        if service_level_s:
            self.set_service_levels(service_level_s)

    @classmethod
    def from_config(cls, registry: CollectorRegistry, config: EngineConfig, **options: Any) -> KpiMetrics:
        """KpiMetrics whose thresholds, disposition codes and not-ready reasons come from the engine config."""
        options.setdefault("service_level_s", {q.name: q.service_level_s for q in config.queues})
        options.setdefault("disposition_codes", list(config.disposition_codes))
        options.setdefault("not_ready_reasons", list(config.not_ready_reasons))
        return cls(registry, **options)

    def set_queues(self, queues: Iterable[QueueConfig]) -> None:
        """Take the service-level thresholds of a (re)loaded queue set."""
        self.set_service_levels({q.name: q.service_level_s for q in queues})

    def set_service_levels(self, thresholds: Mapping[str, float]) -> None:
        """Per-queue service-level thresholds (seconds); queues not named use ``default_service_level_s``."""
        for name, seconds in thresholds.items():
            if not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds >= 0):
                raise ValueError(f"service_level_s[{name!r}] must be a finite number of seconds >= 0, got {seconds!r}")
            label = self._queue(name)
            if label not in (OTHER, NO_QUEUE):
                self._thresholds[label] = float(seconds)
                self._sl_threshold.labels(label).set(float(seconds))

    # ------------------------------------------------------------------ families

    def _build(self, registry: CollectorRegistry) -> None:
        r = registry
        q = ["queue"]

        def counter(name: str, doc: str, labels: list[str]) -> Counter:
            return Counter(name, doc, labels, registry=r)

        def gauge(name: str, doc: str, labels: list[str]) -> Gauge:
            return Gauge(name, doc, labels, registry=r)

        def hist(name: str, doc: str, labels: list[str], buckets: tuple[float, ...]) -> Histogram:
            return Histogram(name, doc, labels, registry=r, buckets=buckets)

        # -- per queue: volumes and outcomes (suffix _total is added by prometheus_client)
        self._arrived = counter("ctilink_calls_arrived", "Calls that reached ctilink, by the queue they asked for.", q)
        self._offered = counter(
            "ctilink_calls_offered", "Queue stays: calls that entered the queue (counted once per stay).", q
        )
        self._answered = counter("ctilink_calls_answered", "Queue stays answered by an agent.", q)
        self._answered_sl = counter(
            "ctilink_calls_answered_within_sl", "Answered with a wait within the queue's service-level threshold.", q
        )
        self._answered_now = counter(
            "ctilink_calls_answered_immediately",
            "Answered by an agent offered the call the moment it started waiting (no time queued for an agent).",
            q,
        )
        self._abandoned = counter(
            "ctilink_calls_abandoned", "Callers who hung up while waiting, after the short-abandon threshold.", q
        )
        self._abandoned_short = counter(
            "ctilink_calls_abandoned_short", "Callers who hung up while waiting, before the short-abandon threshold.", q
        )
        self._overflowed = counter(
            "ctilink_calls_overflowed",
            "Queue stays ended by overflow (max wait, emptied, queue removed), by reason.",
            ["queue", "reason"],
        )
        self._blocked = counter(
            "ctilink_calls_blocked",
            "Calls refused before they could wait in the queue (full, empty, unknown queue, screened), by reason.",
            ["queue", "reason"],
        )
        self._transferred = counter(
            "ctilink_calls_transferred", "Blind transfers, by kind (queue, agent, number).", ["queue", "kind"]
        )
        self._escalated = counter(
            "ctilink_calls_escalated", "Escalation steps reached by waiting calls.", ["queue", "step"]
        )
        self._ended = counter(
            "ctilink_calls_ended", "Calls ended, by final disposition (each call once).", ["queue", "disposition"]
        )
        self._offers = counter("ctilink_offers", "Offers of calls to agents, by outcome.", ["queue", "result"])
        self._codes_total = counter(
            "ctilink_calls_wrap_up_code",
            "Answered calls by wrap-up disposition code (_none: no code set).",
            ["queue", "code"],
        )
        # -- per queue: time distributions
        self._wait_h = hist(
            "ctilink_answer_wait_seconds",
            "Speed of answer: the caller's wait until an agent answered.",
            q,
            QUEUE_WAIT_BUCKETS,
        )
        self._abandon_h = hist(
            "ctilink_abandon_wait_seconds",
            "How long callers waited before hanging up (short abandons included).",
            q,
            QUEUE_WAIT_BUCKETS,
        )
        self._talk_h = hist(
            "ctilink_talk_seconds", "Talk time per answered agent leg, hold excluded.", q, HANDLE_BUCKETS
        )
        self._hold_h = hist(
            "ctilink_hold_seconds", "Hold time per answered agent leg (0 when never held).", q, HOLD_BUCKETS
        )
        self._wrap_h = hist(
            "ctilink_wrap_up_seconds", "Wrap-up (after-call work) time per answered agent leg.", q, WRAP_UP_BUCKETS
        )
        self._handle_h = hist(
            "ctilink_handle_seconds", "Handle time per answered agent leg: talk + hold + wrap-up.", q, HANDLE_BUCKETS
        )
        # -- per queue: now (snapshot)
        self._waiting = gauge("ctilink_queue_calls_waiting", "Calls waiting for an agent now (not yet ringing one).", q)
        self._offering = gauge("ctilink_queue_calls_offering", "Waiting calls ringing an agent now.", q)
        self._oldest = gauge(
            "ctilink_queue_oldest_wait_seconds",
            "The longest current wait among the queue's waiting and ringing calls (the caller's wait).",
            q,
        )
        self._q_logged_in = gauge("ctilink_queue_agents_logged_in", "Agents logged in and eligible for the queue.", q)
        self._q_available = gauge(
            "ctilink_queue_agents_available", "Agents eligible for the queue and free to take a call now.", q
        )
        # -- per queue: rolling window (refresh)
        self._sl_ratio = gauge(
            "ctilink_service_level_ratio",
            "Answered within threshold / (answered + abandoned after the short-abandon threshold), "
            "over the KPI window. NaN: no such calls.",
            q,
        )
        self._abandon_ratio = gauge(
            "ctilink_abandon_rate_ratio",
            "Abandoned (not short) / queue stays ended (short abandons excluded), over the KPI window.",
            q,
        )
        self._asa = gauge("ctilink_asa_seconds", "Average speed of answer over the KPI window.", q)
        self._aht = gauge("ctilink_aht_seconds", "Average handle time (talk + hold + wrap-up) over the KPI window.", q)
        self._sl_threshold = gauge("ctilink_service_level_threshold_seconds", "The queue's service-level threshold.", q)
        # -- agents
        self._agents = gauge("ctilink_agents", "Agents in each state now.", ["state"])
        self._agents_nr = gauge("ctilink_agents_not_ready", "Not-ready agents now, by reason.", ["reason"])
        self._state_seconds = counter(
            "ctilink_agents_state_seconds",
            "Agent-seconds spent in each state (counted when the state ends).",
            ["state"],
        )
        self._not_ready_total = counter("ctilink_agents_paused", "Changes into not-ready, by reason.", ["reason"])
        self._occupancy_ratio = gauge(
            "ctilink_occupancy_ratio",
            "(on-call + wrap-up) / (on-call + wrap-up + available + reserved) agent-seconds over the KPI window.",
            [],
        )
        self._window = gauge(
            "ctilink_kpi_window_seconds", "Width of the rolling window behind the *_ratio/asa/aht gauges.", []
        )
        self._window.set(self.window_s)
        self._short_abandon = gauge(
            "ctilink_short_abandon_threshold_seconds", "Abandons quicker than this are short abandons.", []
        )
        self._short_abandon.set(self.short_abandon_s)
        # -- engine, lists, store
        self._notes = counter("ctilink_engine_notifications", "Engine notifications, by type.", ["type"])
        self._rejected = counter(
            "ctilink_engine_inputs_rejected", "Inputs the engine refused, by error type.", ["error"]
        )
        self._decision = hist(
            "ctilink_engine_decision_seconds",
            "Time the engine took to handle one input, by input type.",
            ["input"],
            DECISION_BUCKETS,
        )
        self._store_write = hist(
            "ctilink_store_write_seconds", "Time to commit one batch of store writes.", [], STORE_WRITE_BUCKETS
        )
        self._store_failures = counter("ctilink_store_write_failures", "Store batches whose commit failed.", [])
        self._list_decisions = counter(
            "ctilink_list_decisions", "Inbound calls matched by a number list, by list and action.", ["list", "action"]
        )
        self._list_changes = counter(
            "ctilink_list_changes", "Number-list entries changed, by list and operation.", ["list", "op"]
        )
        self._sticky = counter(
            "ctilink_sticky_routing",
            "Sticky-agent routing outcomes (hit, wait, fallback, expired).",
            ["queue", "outcome"],
        )
        self._sticky_remembered = counter("ctilink_sticky_remembered", "Customer -> agent pairs remembered.", [])
        # -- per agent (opt-in: one series per agent)
        if self.per_agent:
            a = ["agent"]
            self._a_offers = counter("ctilink_agent_offers", "Offers to the agent, by outcome.", ["agent", "result"])
            self._a_handle = counter(
                "ctilink_agent_handle_seconds",
                "The agent's handle time, by part (talk, hold, wrap-up).",
                ["agent", "part"],
            )
            self._a_answered = counter("ctilink_agent_calls_answered", "Calls the agent answered.", a)
            self._a_state_seconds = counter(
                "ctilink_agent_state_seconds", "Seconds the agent spent in each state.", ["agent", "state"]
            )
            self._a_state = gauge(
                "ctilink_agent_time_in_state_seconds",
                "Time the agent has been in its current state (one series per agent: its state).",
                ["agent", "state"],
            )

    # ------------------------------------------------------------------ labels

    def _queue(self, name: str | None) -> str:
        """A bounded queue label; registers the queue's window on first sight."""
        if not name:
            label = NO_QUEUE
        elif name in self._queues:
            return name
        elif len(self._queues) >= self._max_queues or not _PLAIN.match(name):
            label = OTHER
        else:
            label = name
        if label not in self._queues:
            self._queues[label] = RollingWindow(_QUEUE_FIELDS, self.window_s)
        return label

    def _agent(self, agent_id: str) -> str:
        if agent_id in self._agents_seen:
            return agent_id
        if len(self._agents_seen) >= self._max_agents or not _PLAIN.match(agent_id):
            return OTHER
        self._agents_seen.add(agent_id)
        return agent_id

    def _threshold(self, queue: str) -> float:
        return self._thresholds.get(queue, self.default_service_level_s)

    def _track(self, call_id: str) -> _Track:
        track = self._tracks.get(call_id)
        if track is None:
            if len(self._tracks) >= self._max_tracked:
                # A call whose CallEnded we never saw (metrics started mid-call): forget the oldest.
                del self._tracks[next(iter(self._tracks))]
            track = self._tracks[call_id] = _Track()
        return track

    # ------------------------------------------------------------------ feeding

    def observe(self, notification: object, now: float) -> None:
        """Account one engine notification (in the order the engine produced them)."""
        name = type(notification).__name__
        self._notes.labels(self._types(name)).inc()
        handler = self._handlers.get(name)
        if handler is not None:
            handler(notification, now)

    def observe_decision(self, input_type: str, seconds: float) -> None:
        """Record how long the engine took for one input (``input_type``: the input's class name)."""
        self._decision.labels(self._inputs(input_type)).observe(seconds)

    def observe_store_write(self, seconds: float, *, ok: bool = True) -> None:
        """Record one store batch commit (and count it as failed when ``ok`` is False)."""
        self._store_write.observe(seconds)
        if not ok:
            self._store_failures.inc()

    # -- calls

    def _start_stay(self, track: _Track, queue: str, now: float) -> None:
        track.stay_queue = queue
        track.queue = queue
        track.ever_stayed = True
        track.to_agent = False
        if track.wait_start is None:
            track.wait_start = now
        self._offered.labels(queue).inc()

    def _on_arrived(self, n: CallArrived, now: float) -> None:
        queue = self._queue(n.queue)
        track = self._track(n.call_id)
        track.arrival_queue = queue
        track.queue = queue
        self._arrived.labels(queue).inc()

    def _on_queued(self, n: CallQueued, now: float) -> None:
        queue = self._queue(n.queue)
        track = self._track(n.call_id)
        if track.stay_queue != queue:  # a re-join of the same stay (after a failed direct offer) is not a new one
            self._start_stay(track, queue, now)

    def _on_offered(self, n: CallOffered, now: float) -> None:
        queue = self._queue(n.queue)
        track = self._track(n.call_id)
        if track.stay_queue is None and not track.to_agent:
            self._start_stay(track, queue, now)  # routed straight to an agent (screen): a stay without queueing
        if track.wait_start is None:
            track.wait_start = now
        track.offers[n.uuid] = (now, queue)

    def _on_offer_result(self, n: OfferResult, now: float) -> None:
        track = self._tracks.get(n.call_id)
        offer = track.offers.get(n.uuid) if track is not None else None
        queue = offer[1] if offer is not None else NO_QUEUE
        result = n.result.value if isinstance(n.result, OfferOutcome) else OTHER
        self._offers.labels(queue, result).inc()
        if self.per_agent:
            agent = self._agent(n.agent_id)
            self._a_offers.labels(agent, result).inc()
            if n.result is OfferOutcome.ANSWERED:
                self._a_answered.labels(agent).inc()

    def _on_answered(self, n: CallAnswered, now: float) -> None:
        track = self._tracks.get(n.call_id)
        in_stay = track is None or track.stay_queue is not None
        if in_stay:
            queue = track.stay_queue if track is not None and track.stay_queue else self._queue(n.queue)
            wait = n.wait_s
            self._answered.labels(queue).inc()
            self._wait_h.labels(queue).observe(wait)
            window = self._queues[queue]
            window.add(now, _ANS)
            window.add(now, _WAIT_SUM, wait)
            if wait <= self._threshold(queue):
                self._answered_sl.labels(queue).inc()
                window.add(now, _ANS_SL)
            if track is not None:
                offer = track.offers.get(n.uuid)
                if offer is not None and offer[0] == track.wait_start:
                    self._answered_now.labels(queue).inc()
        if track is not None:
            track.stay_queue = None
            track.wait_start = None
            track.to_agent = False

    def _on_transferred(self, n: CallTransferred, now: float) -> None:
        track = self._track(n.call_id)
        kind = n.kind if n.kind in ("queue", "agent", "number") else OTHER
        self._transferred.labels(track.queue or NO_QUEUE, kind).inc()
        track.to_agent = n.kind == "agent"

    def _on_escalated(self, n: CallEscalated, now: float) -> None:
        step = str(n.step) if isinstance(n.step, int) and 0 <= n.step < 100 else OTHER
        self._escalated.labels(self._queue(n.queue), step).inc()

    def _on_overflowed(self, n: CallOverflowed, now: float) -> None:
        queue = self._queue(n.from_queue)
        track = self._track(n.call_id)
        reason = n.reason if n.reason in _BLOCK_REASONS else OTHER
        if track.stay_queue is not None and track.stay_queue == queue:
            self._overflowed.labels(queue, reason).inc()
            self._queues[queue].add(now, _OVF)
            track.stay_queue = None
        else:
            # Never got to wait here: refused at the door (full, empty) or no such queue (default route).
            self._blocked.labels(queue, reason).inc()
            track.blocked = True

    def _on_disconnected(self, n: CallDisconnected, now: float) -> None:
        track = self._tracks.get(n.call_id)
        if track is None:
            return
        stay = track.stay_queue
        if stay is not None:
            if n.disposition is Disposition.ABANDONED:
                waited = max(0.0, now - track.wait_start) if track.wait_start is not None else 0.0
                self._abandon_h.labels(stay).observe(waited)
                if waited < self.short_abandon_s:
                    self._abandoned_short.labels(stay).inc()
                    self._queues[stay].add(now, _ABN_SHORT)
                else:
                    self._abandoned.labels(stay).inc()
                    self._queues[stay].add(now, _ABN)
            elif n.disposition in _STAY_ENDING:
                self._queues[stay].add(now, _OTHER_END)
            track.stay_queue = None
        elif not track.ever_stayed and not track.blocked:
            # Screened at arrival: rejected, or sent to an extension, before it could wait.
            if n.disposition is Disposition.REJECTED:
                self._blocked.labels(track.arrival_queue or NO_QUEUE, "screened").inc()
            elif n.disposition is Disposition.TRANSFERRED_OUT:
                self._blocked.labels(track.arrival_queue or NO_QUEUE, "diverted").inc()
            track.blocked = True
        track.wait_start = None

    def _on_ended(self, n: CallEnded, now: float) -> None:
        record = n.record
        self._tracks.pop(record.call_id, None)
        queue = self._queue(record.queue)
        disposition = record.disposition.value if isinstance(record.disposition, Disposition) else OTHER
        self._ended.labels(queue, disposition).inc()
        answered_any = False
        for offer in record.offers:
            if offer.answered_at is None:
                continue
            answered_any = True
            leg_queue = self._queue(offer.queue)
            talk = max(0.0, offer.talk_s - offer.hold_s)  # the leg's talk_s runs from answer to hangup
            handle = offer.talk_s + offer.wrap_up_s
            self._talk_h.labels(leg_queue).observe(talk)
            self._hold_h.labels(leg_queue).observe(offer.hold_s)
            self._wrap_h.labels(leg_queue).observe(offer.wrap_up_s)
            self._handle_h.labels(leg_queue).observe(handle)
            window = self._queues[leg_queue]
            window.add(now, _HANDLE_SUM, handle)
            window.add(now, _HANDLE_N)
            if self.per_agent:
                agent = self._agent(offer.agent_id)
                self._a_handle.labels(agent, "talk").inc(talk)
                self._a_handle.labels(agent, "hold").inc(offer.hold_s)
                self._a_handle.labels(agent, "wrap-up").inc(offer.wrap_up_s)
        if answered_any:
            code = self._codes(record.disposition_code) if record.disposition_code else _NO_CODE
            self._codes_total.labels(queue, code).inc()

    def _on_rejected(self, n: InputRejected, now: float) -> None:
        self._rejected.labels(self._errors(type(n.error).__name__)).inc()

    # -- agents

    def _integrate(self, now: float) -> None:
        """Advance the agent-state time integral to ``now`` with the counts held since the last step."""
        last = self._integrated_to
        if last is not None and now > last:
            counts = self._state_counts
            self._occupancy.integrate(last, now, [counts[s] for s in _OCC_STATES])
        if last is None or now > last:
            self._integrated_to = now

    def _on_agent_state(self, n: AgentStateChanged, now: float) -> None:
        self._integrate(now)
        old = n.old if isinstance(n.old, AgentState) else None
        new = n.new if isinstance(n.new, AgentState) else None
        if old is not None:
            self._state_counts[old] = max(0, self._state_counts[old] - 1)
            self._state_seconds.labels(old.value).inc(max(0.0, n.duration_s))
            if self.per_agent:
                self._a_state_seconds.labels(self._agent(n.agent_id), old.value).inc(max(0.0, n.duration_s))
        if new is not None:
            self._state_counts[new] += 1
            if new is AgentState.NOT_READY and old is not AgentState.NOT_READY:
                self._not_ready_total.labels(self._reasons(n.reason) if n.reason else _NO_CODE).inc()

    # -- lists and sticky routing (notifications added by the lists/sticky work; fields read tolerantly)

    def _on_screened(self, n: object, now: float) -> None:
        self._list_decisions.labels(
            self._list_names(_label_of(n, "list", "list_name")),
            self._list_actions(_label_of(n, "action", "decision")),
        ).inc()

    def _on_list_changed(self, n: object, now: float) -> None:
        entry = getattr(n, "entry", None)
        list_name = _label_of(n, "list", "list_name")
        if list_name is None and entry is not None:
            list_name = _label_of(entry, "list", "list_name")
        self._list_changes.labels(
            self._list_names(list_name), self._list_ops(_label_of(n, "op", "kind", "change"))
        ).inc()

    def _on_sticky(self, n: object, now: float) -> None:
        queue = getattr(n, "queue", None)
        self._sticky.labels(
            self._queue(queue if isinstance(queue, str) else None),
            self._sticky_outcomes(_label_of(n, "outcome", "result")),
        ).inc()

    def _on_sticky_remembered(self, n: object, now: float) -> None:
        self._sticky_remembered.inc()

    # ------------------------------------------------------------------ snapshot

    def refresh(self, snapshot: EngineSnapshot, now: float) -> None:
        """Set the state gauges from a snapshot and recompute the rolling-window KPIs."""
        self._integrate(now)
        counts = {s: 0 for s in AgentState}
        not_ready: dict[str, int] = {r: 0 for r in self._known_reasons}
        live_agents: dict[str, tuple[str, str]] = {}
        for view in snapshot.agents:
            counts[view.state] += 1
            if view.state is AgentState.NOT_READY:
                reason = self._reasons(view.reason) if view.reason else _NO_CODE
                not_ready[reason] = not_ready.get(reason, 0) + 1
            if self.per_agent:
                key = (self._agent(view.agent_id), view.state.value)
                live_agents[view.agent_id] = key
                self._a_state.labels(*key).set(view.time_in_state_s)
        # The snapshot is the truth: it corrects counts that events alone could not know (a restart).
        self._state_counts = counts
        for state, count in counts.items():
            self._agents.labels(state.value).set(count)
        for reason, count in not_ready.items():
            self._agents_nr.labels(reason).set(count)
        for reason in self._seen_nr_reasons - not_ready.keys():
            self._agents_nr.labels(reason).set(0)
        self._seen_nr_reasons |= not_ready.keys()
        if self.per_agent:
            for agent_id, key in self._agent_state_children.items():
                if live_agents.get(agent_id) != key:
                    with contextlib.suppress(KeyError):
                        self._a_state.remove(*key)
            self._agent_state_children = live_agents

        # From the calls, not QueueView.waiting: ringing calls count too, and the wait shown is the
        # caller's (across overflows), the same wait the service level is judged on.
        waiting: dict[str, int] = {}
        offering: dict[str, int] = {}
        oldest: dict[str, float] = {}
        for call in snapshot.calls:
            if call.state is CallState.QUEUED:
                counts_by_queue = waiting
            elif call.state is CallState.OFFERING:
                counts_by_queue = offering
            else:
                continue
            label = self._queue(call.queue)
            counts_by_queue[label] = counts_by_queue.get(label, 0) + 1
            if call.wait_s > oldest.get(label, 0.0):
                oldest[label] = call.wait_s
        for queue_view in snapshot.queues:
            label = self._queue(queue_view.name)
            self._q_logged_in.labels(label).set(queue_view.logged_in_agents)
            self._q_available.labels(label).set(queue_view.available_agents)
            if label not in self._thresholds:
                self._sl_threshold.labels(label).set(self.default_service_level_s)
        # Every queue label ever used is set, so a queue that emptied reads 0, not its last value.
        for label in self._queues:
            self._waiting.labels(label).set(waiting.get(label, 0))
            self._offering.labels(label).set(offering.get(label, 0))
            self._oldest.labels(label).set(oldest.get(label, 0.0))

        for label, window in self._queues.items():
            t = window.totals(now)
            handled = t[_ANS] + t[_ABN]
            ended = handled + t[_OVF] + t[_OTHER_END]
            self._sl_ratio.labels(label).set(t[_ANS_SL] / handled if handled else math.nan)
            self._abandon_ratio.labels(label).set(t[_ABN] / ended if ended else math.nan)
            self._asa.labels(label).set(t[_WAIT_SUM] / t[_ANS] if t[_ANS] else math.nan)
            self._aht.labels(label).set(t[_HANDLE_SUM] / t[_HANDLE_N] if t[_HANDLE_N] else math.nan)
        occ = self._occupancy.totals(now)
        busy = occ[0] + occ[1]
        staffed = busy + occ[2] + occ[3]
        self._occupancy_ratio.set(busy / staffed if staffed else math.nan)


class DialerMetrics:
    """Outbound campaign metrics (docs/dialer.md), fed by the dialer's notifications and stats.

    Labels: ``campaign`` (configured campaign names, at most ``max_campaigns`` distinct, then
    ``_other``); ``outcome`` (:class:`~ctilink.dialer.campaign.AttemptOutcome` values);
    ``reason`` (refusal reasons: ``dnc``, ``blacklist``, ``window``, ``max-attempts``, else ``_other``).
    Counters move in :meth:`observe`; gauges are set from ``Dialer.stats`` by :meth:`refresh`.
    Families with no campaign configured export no samples (no placeholder series).
    """

    def __init__(self, registry: CollectorRegistry, *, max_campaigns: int = 64) -> None:
        from ctilink.dialer.campaign import AttemptOutcome

        self._campaigns = _CappedLabel(cap=max_campaigns)
        self._outcomes = _CappedLabel(allowed={o.value for o in AttemptOutcome})
        self._reasons = _CappedLabel(allowed={"dnc", "blacklist", "window", "max-attempts"})
        r = registry
        self._dials = Counter(
            "ctilink_dialer_dials_total",
            "Campaign dial attempts ended, by outcome (refusals are not dials: see ctilink_dialer_refusals_total)",
            ["campaign", "outcome"],
            registry=r,
        )
        self._refusals = Counter(
            "ctilink_dialer_refusals_total",
            "Contacts not dialed: DNC, blacklist, window, attempts",
            ["campaign", "reason"],
            registry=r,
        )
        self._abandon = Gauge(
            "ctilink_dialer_abandon_ratio", "Abandoned / live answers over the last hour", ["campaign"], registry=r
        )
        self._abandon_life = Gauge(
            "ctilink_dialer_abandon_lifetime_ratio",
            "Abandoned / live answers since the campaign was loaded",
            ["campaign"],
            registry=r,
        )
        self._lines = Gauge(
            "ctilink_dialer_lines_in_flight",
            "Customer legs the dialer holds (ringing, answered, waiting for an agent, announcing)",
            ["campaign"],
            registry=r,
        )
        self._level = Gauge(
            "ctilink_dialer_dial_level_ratio",
            "Lines in flight per agent working the campaign (what the pacer runs at)",
            ["campaign"],
            registry=r,
        )
        self._pending = Gauge(
            "ctilink_dialer_contacts_pending",
            "Contacts waiting to be dialed (pending or callback)",
            ["campaign"],
            registry=r,
        )
        self._running = Gauge(
            "ctilink_dialer_campaign_running", "1 while the campaign is running", ["campaign"], registry=r
        )

    def observe(self, note: object, now: float) -> None:
        kind = type(note).__name__
        if kind == "AttemptRecorded":
            attempt: Any = note.attempt  # type: ignore[attr-defined]  # dispatched on the class name
            if attempt.ended_at is None or attempt.outcome in (None, "refused"):
                return
            self._dials.labels(self._campaigns(attempt.campaign), self._outcomes(attempt.outcome)).inc()
        elif kind == "DialRefused":
            n: Any = note
            self._refusals.labels(self._campaigns(n.campaign), self._reasons(n.reason)).inc()

    def refresh(self, stats: Iterable[Any]) -> None:
        for s in stats:
            label = self._campaigns(s.campaign)
            self._abandon.labels(label).set(s.abandon_rate_window)
            self._abandon_life.labels(label).set(s.abandon_rate)
            self._lines.labels(label).set(s.dials_in_flight)
            self._level.labels(label).set(s.dial_level)
            self._pending.labels(label).set(s.pending)
            self._running.labels(label).set(1.0 if getattr(s.state, "value", s.state) == "running" else 0.0)
