"""Contact-centre KPI metrics for Prometheus, computed from the engine's notifications and snapshots.

Rules:
- The registry is passed in; nothing here touches prometheus' global default registry. One
  :class:`KpiMetrics` per registry (a second one on the same registry is a duplicate-metric error).
- Names are ``ctilink_*`` with the unit in the name (``_seconds``, ``_ratio``, ``_total``); the
  families are declared in :mod:`ctilink.service.kpi_families`.
- Labels are bounded. ``queue``: names the engine reports (configured queues), at most
  ``max_queues`` distinct, then ``_other``; ``_none`` when a call had no queue. ``state``: the
  :class:`~ctilink.core.agent.AgentState` values. ``reason`` / ``code``: the configured not-ready
  reasons / disposition codes, anything else ``_other``. ``disposition``, ``result``, ``kind``:
  the engine's own enums. ``agent``: only with ``per_agent=True``, at most ``max_agents``.
  Anything else (input type names, list/sticky vocabularies of newer notifications) goes through
  a capped label set (:mod:`ctilink.service.metric_labels`): plain names only, at most 64
  distinct values per family, then ``_other``.
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
(:mod:`ctilink.service.kpi_window`, laid out by :mod:`ctilink.service.kpi_fields`), so a Grafana
single-stat needs no PromQL. What a snapshot counts and how the ratios divide is
:mod:`ctilink.service.kpi_snapshot`; exact definitions are in ``docs/metrics.md``. The dialer's
metrics are :mod:`ctilink.service.dialer_metrics` (re-exported here).

This module decides nothing about calls; it only counts what the engine reports. It knows
nothing about sockets, the store or HTTP.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

from ctilink.core.agent import AgentState
from ctilink.core.call import Disposition, OfferOutcome
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
from ctilink.service.dialer_metrics import DialerMetrics
from ctilink.service.kpi_families import (
    DECISION_BUCKETS,
    HANDLE_BUCKETS,
    HOLD_BUCKETS,
    QUEUE_WAIT_BUCKETS,
    STORE_WRITE_BUCKETS,
    WRAP_UP_BUCKETS,
    KpiFamilies,
)
from ctilink.service.kpi_fields import (
    ABN,
    ABN_SHORT,
    ANS,
    ANS_SL,
    HANDLE_N,
    HANDLE_SUM,
    OCC_STATES,
    OTHER_END,
    OVF,
    QUEUE_FIELDS,
    WAIT_SUM,
)
from ctilink.service.kpi_snapshot import count_agents, count_queue_calls, occupancy_ratio, queue_ratios
from ctilink.service.kpi_window import RollingWindow
from ctilink.service.metric_labels import NO_CODE, NO_QUEUE, OTHER, PLAIN, CappedLabel, label_of

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


def _check_seconds(name: str, value: object) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")


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
        _check_seconds("short_abandon_s", short_abandon_s)
        _check_seconds("default_service_level_s", default_service_level_s)
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
        self._init_labels(disposition_codes, not_ready_reasons)
        self._occupancy = RollingWindow(len(OCC_STATES), self.window_s)
        self._state_counts: dict[AgentState, int] = {s: 0 for s in AgentState}
        self._integrated_to: float | None = None
        self._agent_state_children: dict[str, tuple[str, str]] = {}
        self._seen_nr_reasons: set[str] = set()
        self._handlers = self._handler_table()
        self._m = KpiFamilies(
            registry, per_agent=per_agent, window_s=self.window_s, short_abandon_s=self.short_abandon_s
        )
        if service_level_s:
            self.set_service_levels(service_level_s)

    def _init_labels(
        self, disposition_codes: Collection[str] | None, not_ready_reasons: Collection[str] | None
    ) -> None:
        self._codes = CappedLabel(allowed=disposition_codes) if disposition_codes is not None else CappedLabel()
        # "no-answer" is the engine's own automatic pause reason, configured or not.
        self._reasons = (
            CappedLabel(allowed={*not_ready_reasons, "no-answer"}) if not_ready_reasons is not None else CappedLabel()
        )
        self._known_reasons = tuple(not_ready_reasons or ())
        self._types = CappedLabel()
        self._inputs = CappedLabel()
        self._errors = CappedLabel()
        self._list_names = CappedLabel()
        self._list_actions = CappedLabel()
        self._list_ops = CappedLabel()
        self._sticky_outcomes = CappedLabel()

    def _handler_table(self) -> dict[str, Callable[[Any, float], None]]:
        # By class name, so notifications this version does not import (newer ones) can be listed.
        return {
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
                self._m.sl_threshold.labels(label).set(float(seconds))

    # ------------------------------------------------------------------ labels

    def _queue(self, name: str | None) -> str:
        """A bounded queue label; registers the queue's window on first sight."""
        if not name:
            label = NO_QUEUE
        elif name in self._queues:
            return name
        elif len(self._queues) >= self._max_queues or not PLAIN.match(name):
            label = OTHER
        else:
            label = name
        if label not in self._queues:
            self._queues[label] = RollingWindow(QUEUE_FIELDS, self.window_s)
        return label

    def _agent(self, agent_id: str) -> str:
        if agent_id in self._agents_seen:
            return agent_id
        if len(self._agents_seen) >= self._max_agents or not PLAIN.match(agent_id):
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
        self._m.notes.labels(self._types(name)).inc()
        handler = self._handlers.get(name)
        if handler is not None:
            handler(notification, now)

    def observe_decision(self, input_type: str, seconds: float) -> None:
        """Record how long the engine took for one input (``input_type``: the input's class name)."""
        self._m.decision.labels(self._inputs(input_type)).observe(seconds)

    def observe_store_write(self, seconds: float, *, ok: bool = True) -> None:
        """Record one store batch commit (and count it as failed when ``ok`` is False)."""
        self._m.store_write.observe(seconds)
        if not ok:
            self._m.store_failures.inc()

    # -- calls

    def _start_stay(self, track: _Track, queue: str, now: float) -> None:
        track.stay_queue = queue
        track.queue = queue
        track.ever_stayed = True
        track.to_agent = False
        if track.wait_start is None:
            track.wait_start = now
        self._m.offered.labels(queue).inc()

    def _on_arrived(self, n: CallArrived, now: float) -> None:
        queue = self._queue(n.queue)
        track = self._track(n.call_id)
        track.arrival_queue = queue
        track.queue = queue
        self._m.arrived.labels(queue).inc()

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
        self._m.offers.labels(queue, result).inc()
        if self.per_agent:
            agent = self._agent(n.agent_id)
            self._m.a_offers.labels(agent, result).inc()
            if n.result is OfferOutcome.ANSWERED:
                self._m.a_answered.labels(agent).inc()

    def _on_answered(self, n: CallAnswered, now: float) -> None:
        track = self._tracks.get(n.call_id)
        in_stay = track is None or track.stay_queue is not None
        if in_stay:
            queue = track.stay_queue if track is not None and track.stay_queue else self._queue(n.queue)
            wait = n.wait_s
            self._m.answered.labels(queue).inc()
            self._m.wait_h.labels(queue).observe(wait)
            window = self._queues[queue]
            window.add(now, ANS)
            window.add(now, WAIT_SUM, wait)
            if wait <= self._threshold(queue):
                self._m.answered_sl.labels(queue).inc()
                window.add(now, ANS_SL)
            if track is not None:
                offer = track.offers.get(n.uuid)
                if offer is not None and offer[0] == track.wait_start:
                    self._m.answered_now.labels(queue).inc()
        if track is not None:
            track.stay_queue = None
            track.wait_start = None
            track.to_agent = False

    def _on_transferred(self, n: CallTransferred, now: float) -> None:
        track = self._track(n.call_id)
        kind = n.kind if n.kind in ("queue", "agent", "number") else OTHER
        self._m.transferred.labels(track.queue or NO_QUEUE, kind).inc()
        track.to_agent = n.kind == "agent"

    def _on_escalated(self, n: CallEscalated, now: float) -> None:
        step = str(n.step) if isinstance(n.step, int) and 0 <= n.step < 100 else OTHER
        self._m.escalated.labels(self._queue(n.queue), step).inc()

    def _on_overflowed(self, n: CallOverflowed, now: float) -> None:
        queue = self._queue(n.from_queue)
        track = self._track(n.call_id)
        reason = n.reason if n.reason in _BLOCK_REASONS else OTHER
        if track.stay_queue is not None and track.stay_queue == queue:
            self._m.overflowed.labels(queue, reason).inc()
            self._queues[queue].add(now, OVF)
            track.stay_queue = None
        else:
            # Never got to wait here: refused at the door (full, empty) or no such queue (default route).
            self._m.blocked.labels(queue, reason).inc()
            track.blocked = True

    def _on_disconnected(self, n: CallDisconnected, now: float) -> None:
        track = self._tracks.get(n.call_id)
        if track is None:
            return
        stay = track.stay_queue
        if stay is not None:
            if n.disposition is Disposition.ABANDONED:
                waited = max(0.0, now - track.wait_start) if track.wait_start is not None else 0.0
                self._m.abandon_h.labels(stay).observe(waited)
                if waited < self.short_abandon_s:
                    self._m.abandoned_short.labels(stay).inc()
                    self._queues[stay].add(now, ABN_SHORT)
                else:
                    self._m.abandoned.labels(stay).inc()
                    self._queues[stay].add(now, ABN)
            elif n.disposition in _STAY_ENDING:
                self._queues[stay].add(now, OTHER_END)
            track.stay_queue = None
        elif not track.ever_stayed and not track.blocked:
            # Screened at arrival: rejected, or sent to an extension, before it could wait.
            if n.disposition is Disposition.REJECTED:
                self._m.blocked.labels(track.arrival_queue or NO_QUEUE, "screened").inc()
            elif n.disposition is Disposition.TRANSFERRED_OUT:
                self._m.blocked.labels(track.arrival_queue or NO_QUEUE, "diverted").inc()
            track.blocked = True
        track.wait_start = None

    def _on_ended(self, n: CallEnded, now: float) -> None:
        record = n.record
        self._tracks.pop(record.call_id, None)
        queue = self._queue(record.queue)
        disposition = record.disposition.value if isinstance(record.disposition, Disposition) else OTHER
        self._m.ended.labels(queue, disposition).inc()
        answered_any = False
        for offer in record.offers:
            if offer.answered_at is None:
                continue
            answered_any = True
            leg_queue = self._queue(offer.queue)
            talk = max(0.0, offer.talk_s - offer.hold_s)  # the leg's talk_s runs from answer to hangup
            handle = offer.talk_s + offer.wrap_up_s
            self._m.talk_h.labels(leg_queue).observe(talk)
            self._m.hold_h.labels(leg_queue).observe(offer.hold_s)
            self._m.wrap_h.labels(leg_queue).observe(offer.wrap_up_s)
            self._m.handle_h.labels(leg_queue).observe(handle)
            window = self._queues[leg_queue]
            window.add(now, HANDLE_SUM, handle)
            window.add(now, HANDLE_N)
            if self.per_agent:
                agent = self._agent(offer.agent_id)
                self._m.a_handle.labels(agent, "talk").inc(talk)
                self._m.a_handle.labels(agent, "hold").inc(offer.hold_s)
                self._m.a_handle.labels(agent, "wrap-up").inc(offer.wrap_up_s)
        if answered_any:
            code = self._codes(record.disposition_code) if record.disposition_code else NO_CODE
            self._m.codes_total.labels(queue, code).inc()

    def _on_rejected(self, n: InputRejected, now: float) -> None:
        self._m.rejected.labels(self._errors(type(n.error).__name__)).inc()

    # -- agents

    def _integrate(self, now: float) -> None:
        """Advance the agent-state time integral to ``now`` with the counts held since the last step."""
        last = self._integrated_to
        if last is not None and now > last:
            counts = self._state_counts
            self._occupancy.integrate(last, now, [counts[s] for s in OCC_STATES])
        if last is None or now > last:
            self._integrated_to = now

    def _on_agent_state(self, n: AgentStateChanged, now: float) -> None:
        self._integrate(now)
        old = n.old if isinstance(n.old, AgentState) else None
        new = n.new if isinstance(n.new, AgentState) else None
        if old is not None:
            self._state_counts[old] = max(0, self._state_counts[old] - 1)
            self._m.state_seconds.labels(old.value).inc(max(0.0, n.duration_s))
            if self.per_agent:
                self._m.a_state_seconds.labels(self._agent(n.agent_id), old.value).inc(max(0.0, n.duration_s))
        if new is not None:
            self._state_counts[new] += 1
            if new is AgentState.NOT_READY and old is not AgentState.NOT_READY:
                self._m.not_ready_total.labels(self._reasons(n.reason) if n.reason else NO_CODE).inc()

    # -- lists and sticky routing (notifications added by the lists/sticky work; fields read tolerantly)

    def _on_screened(self, n: object, now: float) -> None:
        self._m.list_decisions.labels(
            self._list_names(label_of(n, "list", "list_name")),
            self._list_actions(label_of(n, "action", "decision")),
        ).inc()

    def _on_list_changed(self, n: object, now: float) -> None:
        entry = getattr(n, "entry", None)
        list_name = label_of(n, "list", "list_name")
        if list_name is None and entry is not None:
            list_name = label_of(entry, "list", "list_name")
        self._m.list_changes.labels(
            self._list_names(list_name), self._list_ops(label_of(n, "op", "kind", "change"))
        ).inc()

    def _on_sticky(self, n: object, now: float) -> None:
        queue = getattr(n, "queue", None)
        self._m.sticky.labels(
            self._queue(queue if isinstance(queue, str) else None),
            self._sticky_outcomes(label_of(n, "outcome", "result")),
        ).inc()

    def _on_sticky_remembered(self, n: object, now: float) -> None:
        self._m.sticky_remembered.inc()

    # ------------------------------------------------------------------ snapshot

    def refresh(self, snapshot: EngineSnapshot, now: float) -> None:
        """Set the state gauges from a snapshot and recompute the rolling-window KPIs."""
        self._integrate(now)
        self._refresh_agents(snapshot)
        if self.per_agent:
            self._refresh_per_agent(snapshot)
        self._refresh_queues(snapshot)
        self._refresh_kpis(now)

    def _refresh_agents(self, snapshot: EngineSnapshot) -> None:
        counts, not_ready = count_agents(snapshot, self._reasons, self._known_reasons)
        # The snapshot is the truth: it corrects counts that events alone could not know (a restart).
        self._state_counts = counts
        for state, count in counts.items():
            self._m.agents.labels(state.value).set(count)
        for reason, count in not_ready.items():
            self._m.agents_nr.labels(reason).set(count)
        for reason in self._seen_nr_reasons - not_ready.keys():
            self._m.agents_nr.labels(reason).set(0)
        self._seen_nr_reasons |= not_ready.keys()

    def _refresh_per_agent(self, snapshot: EngineSnapshot) -> None:
        live_agents: dict[str, tuple[str, str]] = {}
        for view in snapshot.agents:
            key = (self._agent(view.agent_id), view.state.value)
            live_agents[view.agent_id] = key
            self._m.a_state.labels(*key).set(view.time_in_state_s)
        # An agent's old state series goes when it changes state or leaves the snapshot.
        for agent_id, key in self._agent_state_children.items():
            if live_agents.get(agent_id) != key:
                with contextlib.suppress(KeyError):
                    self._m.a_state.remove(*key)
        self._agent_state_children = live_agents

    def _refresh_queues(self, snapshot: EngineSnapshot) -> None:
        waiting, offering, oldest = count_queue_calls(snapshot, self._queue)
        for queue_view in snapshot.queues:
            label = self._queue(queue_view.name)
            self._m.q_logged_in.labels(label).set(queue_view.logged_in_agents)
            self._m.q_available.labels(label).set(queue_view.available_agents)
            if label not in self._thresholds:
                self._m.sl_threshold.labels(label).set(self.default_service_level_s)
        # Every queue label ever used is set, so a queue that emptied reads 0, not its last value.
        for label in self._queues:
            self._m.waiting.labels(label).set(waiting.get(label, 0))
            self._m.offering.labels(label).set(offering.get(label, 0))
            self._m.oldest.labels(label).set(oldest.get(label, 0.0))

    def _refresh_kpis(self, now: float) -> None:
        for label, window in self._queues.items():
            service_level, abandon_rate, asa, aht = queue_ratios(window.totals(now))
            self._m.sl_ratio.labels(label).set(service_level)
            self._m.abandon_ratio.labels(label).set(abandon_rate)
            self._m.asa.labels(label).set(asa)
            self._m.aht.labels(label).set(aht)
        self._m.occupancy_ratio.set(occupancy_ratio(self._occupancy.totals(now)))
