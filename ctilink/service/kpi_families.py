"""The Prometheus metric families of the contact-centre KPIs: names, help texts, labels, buckets.

Rules:
- Names are ``ctilink_*`` with the unit in the name (``_seconds``, ``_ratio``, ``_total``); the
  counters' ``_total`` suffix is added by prometheus_client.
- Every family registers on the registry passed in, never on prometheus' global default; building
  a second :class:`KpiFamilies` on the same registry is a duplicate-metric error.
- Families are registered in a fixed order (the order of the sections below), so the exposition
  reads the same on every start.
- The per-agent families exist only with ``per_agent=True``: one series per agent is a choice.

What each family counts, and when, is :class:`~ctilink.service.metrics.KpiMetrics`'s business and
``docs/metrics.md``'s; this module only declares them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = [
    "DECISION_BUCKETS",
    "HANDLE_BUCKETS",
    "HOLD_BUCKETS",
    "QUEUE_WAIT_BUCKETS",
    "STORE_WRITE_BUCKETS",
    "WRAP_UP_BUCKETS",
    "KpiFamilies",
]

# Seconds of queueing: callers' patience and service-level thresholds live between 5 s and 2 min.
QUEUE_WAIT_BUCKETS = (1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600)
HANDLE_BUCKETS = (10, 30, 60, 90, 120, 180, 240, 300, 450, 600, 900, 1200, 1800, 3600)
HOLD_BUCKETS = (0.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200)
WRAP_UP_BUCKETS = (1, 5, 10, 15, 20, 30, 45, 60, 90, 120, 300, 600)
# One engine decision is tens to hundreds of microseconds (docs/engine.md figures).
DECISION_BUCKETS = (1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 0.1)
# A store batch commit: SQLite WAL fsync is around a millisecond, a slow disk tens to hundreds.
STORE_WRITE_BUCKETS = (1e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1.0, 5.0)

_QUEUE = ["queue"]


class KpiFamilies:
    """Every KPI metric family, registered on ``registry``; the KPI settings gauges are set here."""

    def __init__(
        self, registry: CollectorRegistry, *, per_agent: bool, window_s: float, short_abandon_s: float
    ) -> None:
        self._registry = registry
        self._queue_counters()
        self._queue_histograms()
        self._queue_gauges()
        self._agent_families(window_s, short_abandon_s)
        self._engine_families()
        if per_agent:
            self._per_agent_families()

    def _counter(self, name: str, doc: str, labels: list[str]) -> Counter:
        return Counter(name, doc, labels, registry=self._registry)

    def _gauge(self, name: str, doc: str, labels: list[str]) -> Gauge:
        return Gauge(name, doc, labels, registry=self._registry)

    def _hist(self, name: str, doc: str, labels: list[str], buckets: tuple[float, ...]) -> Histogram:
        return Histogram(name, doc, labels, registry=self._registry, buckets=buckets)

    def _queue_counters(self) -> None:
        """Per queue: volumes and outcomes (``_total`` is added by prometheus_client)."""
        q = _QUEUE
        self.arrived = self._counter(
            "ctilink_calls_arrived", "Calls that reached ctilink, by the queue they asked for.", q
        )
        self.offered = self._counter(
            "ctilink_calls_offered", "Queue stays: calls that entered the queue (counted once per stay).", q
        )
        self.answered = self._counter("ctilink_calls_answered", "Queue stays answered by an agent.", q)
        self.answered_sl = self._counter(
            "ctilink_calls_answered_within_sl", "Answered with a wait within the queue's service-level threshold.", q
        )
        self.answered_now = self._counter(
            "ctilink_calls_answered_immediately",
            "Answered by an agent offered the call the moment it started waiting (no time queued for an agent).",
            q,
        )
        self.abandoned = self._counter(
            "ctilink_calls_abandoned", "Callers who hung up while waiting, after the short-abandon threshold.", q
        )
        self.abandoned_short = self._counter(
            "ctilink_calls_abandoned_short", "Callers who hung up while waiting, before the short-abandon threshold.", q
        )
        self.overflowed = self._counter(
            "ctilink_calls_overflowed",
            "Queue stays ended by overflow (max wait, emptied, queue removed), by reason.",
            ["queue", "reason"],
        )
        self.blocked = self._counter(
            "ctilink_calls_blocked",
            "Calls refused before they could wait in the queue (full, empty, unknown queue, screened), by reason.",
            ["queue", "reason"],
        )
        self.transferred = self._counter(
            "ctilink_calls_transferred", "Blind transfers, by kind (queue, agent, number).", ["queue", "kind"]
        )
        self.escalated = self._counter(
            "ctilink_calls_escalated", "Escalation steps reached by waiting calls.", ["queue", "step"]
        )
        self.ended = self._counter(
            "ctilink_calls_ended", "Calls ended, by final disposition (each call once).", ["queue", "disposition"]
        )
        self.offers = self._counter("ctilink_offers", "Offers of calls to agents, by outcome.", ["queue", "result"])
        self.codes_total = self._counter(
            "ctilink_calls_wrap_up_code",
            "Answered calls by wrap-up disposition code (_none: no code set).",
            ["queue", "code"],
        )

    def _queue_histograms(self) -> None:
        """Per queue: time distributions."""
        q = _QUEUE
        self.wait_h = self._hist(
            "ctilink_answer_wait_seconds",
            "Speed of answer: the caller's wait until an agent answered.",
            q,
            QUEUE_WAIT_BUCKETS,
        )
        self.abandon_h = self._hist(
            "ctilink_abandon_wait_seconds",
            "How long callers waited before hanging up (short abandons included).",
            q,
            QUEUE_WAIT_BUCKETS,
        )
        self.talk_h = self._hist(
            "ctilink_talk_seconds", "Talk time per answered agent leg, hold excluded.", q, HANDLE_BUCKETS
        )
        self.hold_h = self._hist(
            "ctilink_hold_seconds", "Hold time per answered agent leg (0 when never held).", q, HOLD_BUCKETS
        )
        self.wrap_h = self._hist(
            "ctilink_wrap_up_seconds", "Wrap-up (after-call work) time per answered agent leg.", q, WRAP_UP_BUCKETS
        )
        self.handle_h = self._hist(
            "ctilink_handle_seconds", "Handle time per answered agent leg: talk + hold + wrap-up.", q, HANDLE_BUCKETS
        )

    def _queue_gauges(self) -> None:
        """Per queue: the state now (snapshot) and the rolling-window KPIs (refresh)."""
        q = _QUEUE
        self.waiting = self._gauge(
            "ctilink_queue_calls_waiting", "Calls waiting for an agent now (not yet ringing one).", q
        )
        self.offering = self._gauge("ctilink_queue_calls_offering", "Waiting calls ringing an agent now.", q)
        self.oldest = self._gauge(
            "ctilink_queue_oldest_wait_seconds",
            "The longest current wait among the queue's waiting and ringing calls (the caller's wait).",
            q,
        )
        self.q_logged_in = self._gauge(
            "ctilink_queue_agents_logged_in", "Agents logged in and eligible for the queue.", q
        )
        self.q_available = self._gauge(
            "ctilink_queue_agents_available", "Agents eligible for the queue and free to take a call now.", q
        )
        self.sl_ratio = self._gauge(
            "ctilink_service_level_ratio",
            "Answered within threshold / (answered + abandoned after the short-abandon threshold), "
            "over the KPI window. NaN: no such calls.",
            q,
        )
        self.abandon_ratio = self._gauge(
            "ctilink_abandon_rate_ratio",
            "Abandoned (not short) / queue stays ended (short abandons excluded), over the KPI window.",
            q,
        )
        self.asa = self._gauge("ctilink_asa_seconds", "Average speed of answer over the KPI window.", q)
        self.aht = self._gauge(
            "ctilink_aht_seconds", "Average handle time (talk + hold + wrap-up) over the KPI window.", q
        )
        self.sl_threshold = self._gauge(
            "ctilink_service_level_threshold_seconds", "The queue's service-level threshold.", q
        )

    def _agent_families(self, window_s: float, short_abandon_s: float) -> None:
        """Agents: state counts, state time, pauses, occupancy, and the KPI settings they are read with."""
        self.agents = self._gauge("ctilink_agents", "Agents in each state now.", ["state"])
        self.agents_nr = self._gauge("ctilink_agents_not_ready", "Not-ready agents now, by reason.", ["reason"])
        self.state_seconds = self._counter(
            "ctilink_agents_state_seconds",
            "Agent-seconds spent in each state (counted when the state ends).",
            ["state"],
        )
        self.not_ready_total = self._counter("ctilink_agents_paused", "Changes into not-ready, by reason.", ["reason"])
        self.occupancy_ratio = self._gauge(
            "ctilink_occupancy_ratio",
            "(on-call + wrap-up) / (on-call + wrap-up + available + reserved) agent-seconds over the KPI window.",
            [],
        )
        self.window = self._gauge(
            "ctilink_kpi_window_seconds", "Width of the rolling window behind the *_ratio/asa/aht gauges.", []
        )
        self.window.set(window_s)
        self.short_abandon = self._gauge(
            "ctilink_short_abandon_threshold_seconds", "Abandons quicker than this are short abandons.", []
        )
        self.short_abandon.set(short_abandon_s)

    def _engine_families(self) -> None:
        """The engine, the store, number lists and sticky routing."""
        self.notes = self._counter("ctilink_engine_notifications", "Engine notifications, by type.", ["type"])
        self.rejected = self._counter(
            "ctilink_engine_inputs_rejected", "Inputs the engine refused, by error type.", ["error"]
        )
        self.decision = self._hist(
            "ctilink_engine_decision_seconds",
            "Time the engine took to handle one input, by input type.",
            ["input"],
            DECISION_BUCKETS,
        )
        self.store_write = self._hist(
            "ctilink_store_write_seconds", "Time to commit one batch of store writes.", [], STORE_WRITE_BUCKETS
        )
        self.store_failures = self._counter("ctilink_store_write_failures", "Store batches whose commit failed.", [])
        self.list_decisions = self._counter(
            "ctilink_list_decisions", "Inbound calls matched by a number list, by list and action.", ["list", "action"]
        )
        self.list_changes = self._counter(
            "ctilink_list_changes", "Number-list entries changed, by list and operation.", ["list", "op"]
        )
        self.sticky = self._counter(
            "ctilink_sticky_routing",
            "Sticky-agent routing outcomes (hit, wait, fallback, expired).",
            ["queue", "outcome"],
        )
        self.sticky_remembered = self._counter("ctilink_sticky_remembered", "Customer -> agent pairs remembered.", [])

    def _per_agent_families(self) -> None:
        """Per agent (opt-in): one series per agent."""
        a = ["agent"]
        self.a_offers = self._counter("ctilink_agent_offers", "Offers to the agent, by outcome.", ["agent", "result"])
        self.a_handle = self._counter(
            "ctilink_agent_handle_seconds",
            "The agent's handle time, by part (talk, hold, wrap-up).",
            ["agent", "part"],
        )
        self.a_answered = self._counter("ctilink_agent_calls_answered", "Calls the agent answered.", a)
        self.a_state_seconds = self._counter(
            "ctilink_agent_state_seconds", "Seconds the agent spent in each state.", ["agent", "state"]
        )
        self.a_state = self._gauge(
            "ctilink_agent_time_in_state_seconds",
            "Time the agent has been in its current state (one series per agent: its state).",
            ["agent", "state"],
        )
