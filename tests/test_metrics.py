"""KPI metrics: a real Engine plays calls, its notifications feed KpiMetrics, the registry is read back."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from ctilink.core import AgentState, EngineConfig, OverflowAction, QueueConfig, ScreenDecision
from ctilink.core import notifications as nt
from ctilink.core import requests as rq
from ctilink.core.effects import Effects
from ctilink.events import ChannelHeld, ChannelUnheld
from ctilink.service.kpi_window import RollingWindow
from ctilink.service.metrics import NO_QUEUE, OTHER, KpiMetrics

sys.path.insert(0, str(Path(__file__).parent / "core"))
from core_switch import Switch, agent


class MeteredSwitch(Switch):
    """The core tests' switch, with every notification fed to KpiMetrics at the engine's time."""

    def __init__(self, config: EngineConfig, metrics: KpiMetrics, **kw: object) -> None:
        self.metrics = metrics
        super().__init__(config, **kw)

    def _record(self, effects: Effects) -> Effects:
        for note in effects.notifications:
            self.metrics.observe(note, self.now)
        return super()._record(effects)

    def refresh(self, at: float | None = None) -> None:
        if at is not None:
            self.advance(at)
        self.metrics.refresh(self.engine.snapshot(self.now), self.now)


def build(
    agents: list[str],
    queues: list[QueueConfig] | None = None,
    *,
    per_agent: bool = False,
    window_s: float = 900.0,
    **config: object,
) -> tuple[MeteredSwitch, KpiMetrics, CollectorRegistry]:
    engine_kwargs = {k: config.pop(k) for k in ("screen",) if k in config}
    cfg = EngineConfig(
        queues=queues if queues is not None else [QueueConfig(name="support", wrap_up_s=5, service_level_s=20)],
        agents=[agent(a) for a in agents],
        disposition_codes=["sale", "no-sale"],
        **config,  # type: ignore[arg-type]
    )
    registry = CollectorRegistry()
    metrics = KpiMetrics.from_config(registry, cfg, per_agent=per_agent, window_s=window_s)
    return MeteredSwitch(cfg, metrics, **engine_kwargs), metrics, registry


def val(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_answered_call_counts_times_code_and_window_kpis() -> None:
    sw, _, reg = build(["1001"])
    sw.login("1001")
    sw.park("c1")
    leg = sw.leg_of("1001")
    sw.ring(leg)
    sw.answer(leg, at=3.0)
    sw.send(ChannelHeld(uuid=leg), at=5.0)
    sw.send(ChannelUnheld(uuid=leg), at=8.0)
    sw.hangup("c1", at=10.0)
    sw.hangup(leg)
    sw.request(rq.SetDisposition("1001", "sale"))
    sw.refresh(at=20.0)

    q = {"queue": "support"}
    assert val(reg, "ctilink_calls_arrived_total", **q) == 1
    assert val(reg, "ctilink_calls_offered_total", **q) == 1
    assert val(reg, "ctilink_calls_answered_total", **q) == 1
    assert val(reg, "ctilink_calls_answered_within_sl_total", **q) == 1
    assert val(reg, "ctilink_calls_answered_immediately_total", **q) == 1
    assert val(reg, "ctilink_answer_wait_seconds_sum", **q) == 3.0
    assert val(reg, "ctilink_answer_wait_seconds_bucket", queue="support", le="2.0") == 0
    assert val(reg, "ctilink_answer_wait_seconds_bucket", queue="support", le="5.0") == 1
    # talk_s on the record is 3..10 = 7 s including 3 s of hold; talk excludes hold
    assert val(reg, "ctilink_talk_seconds_sum", **q) == 4.0
    assert val(reg, "ctilink_hold_seconds_sum", **q) == 3.0
    assert val(reg, "ctilink_wrap_up_seconds_sum", **q) == 5.0
    assert val(reg, "ctilink_handle_seconds_sum", **q) == 12.0
    assert val(reg, "ctilink_calls_wrap_up_code_total", queue="support", code="sale") == 1
    assert val(reg, "ctilink_calls_ended_total", queue="support", disposition="answered") == 1
    assert val(reg, "ctilink_offers_total", queue="support", result="answered") == 1
    assert val(reg, "ctilink_calls_abandoned_total", **q) == 0

    assert val(reg, "ctilink_service_level_ratio", **q) == 1.0
    assert val(reg, "ctilink_abandon_rate_ratio", **q) == 0.0
    assert val(reg, "ctilink_asa_seconds", **q) == 3.0
    assert val(reg, "ctilink_aht_seconds", **q) == 12.0
    assert val(reg, "ctilink_service_level_threshold_seconds", **q) == 20.0
    # agent-seconds 0..20: reserved 0-3, on-call 3-10, wrap-up 10-15, available 15-20
    assert val(reg, "ctilink_occupancy_ratio") == pytest.approx(12 / 20)
    assert val(reg, "ctilink_agents_state_seconds_total", state="on-call") == 7.0
    assert val(reg, "ctilink_agents_state_seconds_total", state="wrap-up") == 5.0
    assert val(reg, "ctilink_agents", state="available") == 1
    assert val(reg, "ctilink_agents", state="on-call") == 0
    assert val(reg, "ctilink_engine_notifications_total", type="CallEnded") == 1


def test_short_and_long_abandons_service_level_and_placement() -> None:
    sw, _, reg = build(["a1", "a2"])
    sw.park("c1")  # nobody logged in: every call waits
    sw.park("c2")
    sw.park("c3")
    sw.hangup("c1", "ORIGINATOR_CANCEL", at=5.0)  # short abandon (< 20 s)
    sw.hangup("c2", "ORIGINATOR_CANCEL", at=40.0)  # counted abandon
    sw.send(rq.AgentLogin("a1"), at=50.0)  # takes c3, waiting since 0
    sw.answer(sw.leg_of("a1"), at=52.0)
    sw.send(rq.AgentLogin("a2"), at=55.0)
    sw.park("c4", at=60.0)  # a2 is free: offered at once
    sw.answer(sw.leg_of("a2"), at=63.0)
    sw.refresh(at=64.0)

    q = {"queue": "support"}
    assert val(reg, "ctilink_calls_offered_total", **q) == 4
    assert val(reg, "ctilink_calls_abandoned_short_total", **q) == 1
    assert val(reg, "ctilink_calls_abandoned_total", **q) == 1
    assert val(reg, "ctilink_abandon_wait_seconds_count", **q) == 2
    assert val(reg, "ctilink_abandon_wait_seconds_sum", **q) == 45.0
    assert val(reg, "ctilink_calls_answered_total", **q) == 2
    assert val(reg, "ctilink_calls_answered_within_sl_total", **q) == 1
    assert val(reg, "ctilink_calls_answered_immediately_total", **q) == 1  # c4 only: c3 queued
    assert val(reg, "ctilink_answer_wait_seconds_sum", **q) == 55.0
    # SL = 1 within / (2 answered + 1 abandoned after 20 s); the short abandon is left out
    assert val(reg, "ctilink_service_level_ratio", **q) == pytest.approx(1 / 3)
    assert val(reg, "ctilink_abandon_rate_ratio", **q) == pytest.approx(1 / 3)
    assert val(reg, "ctilink_asa_seconds", **q) == 27.5
    assert math.isnan(val(reg, "ctilink_aht_seconds", **q))  # nobody finished a call yet
    assert val(reg, "ctilink_calls_ended_total", queue="support", disposition="abandoned") == 2
    assert val(reg, "ctilink_agents", state="on-call") == 2


def test_threshold_per_queue_and_short_abandon_threshold_are_configurable() -> None:
    queues = [QueueConfig(name="vip", service_level_s=5)]
    cfg = EngineConfig(queues=queues, agents=[agent("a1")])
    reg = CollectorRegistry()
    metrics = KpiMetrics.from_config(reg, cfg, short_abandon_s=3.0)
    sw = MeteredSwitch(cfg, metrics)
    sw.park("c1")
    sw.hangup("c1", "ORIGINATOR_CANCEL", at=4.0)  # beyond the 3 s short threshold
    sw.send(rq.AgentLogin("a1"))
    sw.park("c2", at=10.0)
    sw.answer(sw.leg_of("a1"), at=16.0)  # 6 s: outside the vip queue's 5 s
    sw.refresh()
    assert val(reg, "ctilink_calls_abandoned_total", queue="vip") == 1
    assert val(reg, "ctilink_calls_answered_within_sl_total", queue="vip") == 0
    assert val(reg, "ctilink_service_level_ratio", queue="vip") == 0.0
    assert val(reg, "ctilink_service_level_threshold_seconds", queue="vip") == 5.0
    assert val(reg, "ctilink_short_abandon_threshold_seconds") == 3.0


def test_overflow_blocked_and_default_route() -> None:
    queues = [
        QueueConfig(name="support", wrap_up_s=5),
        QueueConfig(
            name="sales",
            required_skills={"sales": 1},
            max_wait_s=30,
            overflow=OverflowAction(kind="queue", target="support"),
        ),
        QueueConfig(name="tiny", max_length=0, overflow=OverflowAction(kind="hangup")),
    ]
    sw, _, reg = build(["1001"], queues)
    sw.login("1001")
    sw.request(rq.AgentNotReady("1001", "break"))
    sw.park("c1", queue="sales")
    sw.park("c2", queue="tiny")  # full at the door
    sw.park("c3", queue="nope")  # unknown queue: default route (first queue)
    sw.send(rq.AgentReady("1001"), at=31.0)  # c1 overflowed at 30 into support; c3 waits there too
    sw.refresh()

    assert val(reg, "ctilink_calls_offered_total", queue="sales") == 1
    assert val(reg, "ctilink_calls_overflowed_total", queue="sales", reason="max-wait") == 1
    assert val(reg, "ctilink_calls_blocked_total", queue="tiny", reason="full") == 1
    assert val(reg, "ctilink_calls_offered_total", queue="tiny") == 0
    assert val(reg, "ctilink_calls_arrived_total", queue=NO_QUEUE) == 1
    assert val(reg, "ctilink_calls_blocked_total", queue=NO_QUEUE, reason="default-route") == 1
    assert val(reg, "ctilink_calls_offered_total", queue="support") == 2  # c1 overflowed in, c3 by default route
    assert val(reg, "ctilink_engine_inputs_rejected_total", error="UnknownQueue") == 1
    # an overflowed stay is concluded: it weighs on the abandon rate's denominator, not on SL
    assert val(reg, "ctilink_abandon_rate_ratio", queue="sales") == 0.0
    assert math.isnan(val(reg, "ctilink_service_level_ratio", queue="sales"))
    assert val(reg, "ctilink_agents_paused_total", reason="break") == 1
    assert val(reg, "ctilink_queue_calls_offering", queue="support") == 1
    assert val(reg, "ctilink_queue_calls_waiting", queue="support") == 1
    assert val(reg, "ctilink_queue_oldest_wait_seconds", queue="support") == 31.0  # c3 since 0
    assert val(reg, "ctilink_queue_agents_logged_in", queue="support") == 1
    sw.hangup("c2", at=32.0)
    assert val(reg, "ctilink_calls_ended_total", queue="tiny", disposition="overflowed") == 1


def test_screened_calls_are_blocked_before_reaching_the_queue() -> None:
    def screen(info: object) -> ScreenDecision:
        number = getattr(info, "caller_number", "")
        if number == "666":
            return ScreenDecision.reject()
        if number == "777":
            return ScreenDecision.to_extension("voicemail")
        return ScreenDecision.accept()

    sw, _, reg = build(["1001"], screen=screen)
    sw.park("c1", caller="666")
    sw.park("c2", caller="777")
    assert val(reg, "ctilink_calls_arrived_total", queue="support") == 2
    assert val(reg, "ctilink_calls_blocked_total", queue="support", reason="screened") == 1
    assert val(reg, "ctilink_calls_blocked_total", queue="support", reason="diverted") == 1
    assert val(reg, "ctilink_calls_offered_total", queue="support") == 0


def test_transfers_start_new_stays_and_attribute_handle_time_per_leg() -> None:
    queues = [
        QueueConfig(name="tier1", required_skills={"t1": 1}, wrap_up_s=3),
        QueueConfig(name="tier2", required_skills={"t2": 1}, wrap_up_s=3),
    ]
    cfg = EngineConfig(queues=queues, agents=[agent("a", {"t1": 1}), agent("b", {"t2": 1}), agent("c", {})])
    reg = CollectorRegistry()
    sw = MeteredSwitch(cfg, KpiMetrics.from_config(reg, cfg, per_agent=True))
    sw.login("a", "b", "c")
    sw.park("c1", queue="tier1")
    a_leg = sw.leg_of("a")
    sw.answer(a_leg, at=2.0)
    sw.send(rq.TransferCall(sw.call_id("c1"), queue="tier2"), at=12.0)
    sw.hangup(a_leg)
    b_leg = sw.leg_of("b")
    sw.answer(b_leg, at=15.0)
    sw.send(rq.TransferCall(sw.call_id("c1"), agent_id="c"), at=20.0)
    sw.hangup(b_leg)
    sw.answer(sw.leg_of("c"), at=21.0)
    sw.hangup("c1", at=30.0)
    sw.refresh(at=40.0)

    assert val(reg, "ctilink_calls_transferred_total", queue="tier1", kind="queue") == 1
    assert val(reg, "ctilink_calls_transferred_total", queue="tier2", kind="agent") == 1
    assert val(reg, "ctilink_calls_offered_total", queue="tier1") == 1
    assert val(reg, "ctilink_calls_offered_total", queue="tier2") == 1
    assert val(reg, "ctilink_calls_answered_total", queue="tier1") == 1
    # the tier2 stay: 12..15, the wait restarted at the transfer; the agent transfer is outside queue stats
    assert val(reg, "ctilink_calls_answered_total", queue="tier2") == 1
    assert val(reg, "ctilink_answer_wait_seconds_sum", queue="tier2") == 3.0
    assert val(reg, "ctilink_handle_seconds_sum", queue="tier1") == 10.0 + 3.0
    # b (tier2 leg, 15..20) and c (offered from the call's queue tier2, 21..30)
    assert val(reg, "ctilink_handle_seconds_count", queue="tier2") == 2
    assert val(reg, "ctilink_talk_seconds_sum", queue="tier2") == 5.0 + 9.0
    assert val(reg, "ctilink_calls_ended_total", queue="tier2", disposition="answered") == 1
    assert val(reg, "ctilink_calls_wrap_up_code_total", queue="tier2", code="_none") == 1
    # per agent
    assert val(reg, "ctilink_agent_calls_answered_total", agent="c") == 1
    assert val(reg, "ctilink_agent_handle_seconds_total", agent="a", part="talk") == 10.0
    assert val(reg, "ctilink_agent_handle_seconds_total", agent="b", part="wrap-up") == 3.0
    assert val(reg, "ctilink_agent_state_seconds_total", agent="a", state="on-call") == 10.0


def test_transfer_to_number_ends_without_queue_outcome() -> None:
    sw, _, reg = build(["1001"])
    sw.login("1001")
    sw.park("c1")
    sw.answer(sw.leg_of("1001"), at=1.0)
    sw.send(rq.TransferCall(sw.call_id("c1"), number="9999"), at=4.0)
    sw.hangup(sw.leg_of("1001"))
    sw.refresh(at=20.0)
    assert val(reg, "ctilink_calls_transferred_total", queue="support", kind="number") == 1
    assert val(reg, "ctilink_calls_ended_total", queue="support", disposition="transferred-out") == 1
    assert val(reg, "ctilink_abandon_rate_ratio", queue="support") == 0.0
    assert val(reg, "ctilink_service_level_ratio", queue="support") == 1.0


def test_offer_failures_counted_and_call_keeps_one_stay() -> None:
    sw, _, reg = build(["a1", "a2"], busy_delay_s=0)
    sw.login("a1", "a2")
    sw.park("c1")
    first = sw.offers()[-1]
    sw.advance(4.0)
    sw.fail_leg(first.uuid, "USER_BUSY", 486)
    second = sw.offers()[-1]
    assert second.uuid != first.uuid
    sw.answer(second.uuid, at=9.0)
    assert val(reg, "ctilink_offers_total", queue="support", result="busy") == 1
    assert val(reg, "ctilink_offers_total", queue="support", result="answered") == 1
    assert val(reg, "ctilink_calls_offered_total", queue="support") == 1
    assert val(reg, "ctilink_calls_answered_immediately_total", queue="support") == 0


def test_window_forgets_old_calls() -> None:
    sw, _, reg = build(["1001"], window_s=60.0)
    sw.login("1001")
    sw.park("c1")
    sw.answer(sw.leg_of("1001"), at=2.0)
    sw.refresh(at=3.0)
    assert val(reg, "ctilink_service_level_ratio", queue="support") == 1.0
    sw.refresh(at=200.0)
    assert math.isnan(val(reg, "ctilink_service_level_ratio", queue="support"))
    assert math.isnan(val(reg, "ctilink_asa_seconds", queue="support"))
    assert val(reg, "ctilink_calls_answered_total", queue="support") == 1  # counters never forget
    assert val(reg, "ctilink_occupancy_ratio") == 1.0  # on the call for the whole window


def test_snapshot_gauges_reasons_and_per_agent_series() -> None:
    sw, _, reg = build(["a1", "a2", "a3"], per_agent=True)
    sw.login("a1", "a2")
    sw.request(rq.AgentNotReady("a2", "lunch"))
    sw.refresh(at=10.0)
    assert val(reg, "ctilink_agents", state="available") == 1
    assert val(reg, "ctilink_agents", state="not-ready") == 1
    assert val(reg, "ctilink_agents", state="logged-out") == 1
    assert val(reg, "ctilink_agents_not_ready", reason="lunch") == 1
    assert val(reg, "ctilink_agents_not_ready", reason="break") == 0  # configured reasons always present
    assert val(reg, "ctilink_agent_time_in_state_seconds", agent="a2", state="not-ready") == 10.0
    sw.send(rq.AgentReady("a2"), at=12.0)
    sw.refresh(at=15.0)
    assert val(reg, "ctilink_agents_not_ready", reason="lunch") == 0
    assert reg.get_sample_value("ctilink_agent_time_in_state_seconds", {"agent": "a2", "state": "not-ready"}) is None
    assert val(reg, "ctilink_agent_time_in_state_seconds", agent="a2", state="available") == 3.0


def test_occupancy_recovers_from_a_mid_run_start() -> None:
    """Metrics created while agents are already busy: the first snapshot sets the truth."""
    cfg = EngineConfig(queues=[QueueConfig(name="support", wrap_up_s=0)], agents=[agent("a1"), agent("a2")])
    sw = MeteredSwitch(cfg, KpiMetrics(CollectorRegistry()))
    sw.login("a1", "a2")
    sw.park("c1")
    sw.answer(sw.leg_of(sw.offers()[-1].variables["ctilink_agent_id"]), at=1.0)
    reg = CollectorRegistry()
    sw.metrics = KpiMetrics(reg)  # a fresh set, as after a daemon restart
    sw.refresh(at=2.0)
    sw.refresh(at=12.0)
    assert val(reg, "ctilink_occupancy_ratio") == pytest.approx(0.5)  # one on a call, one available


def test_decision_store_and_hostile_labels() -> None:
    reg = CollectorRegistry()
    metrics = KpiMetrics(reg)
    metrics.observe_decision("ChannelParked", 0.0002)
    metrics.observe_decision("x\n} evil{", 0.001)
    for i in range(100):
        metrics.observe_decision(f"Input{i}", 0.001)
    metrics.observe_store_write(0.003)
    metrics.observe_store_write(0.5, ok=False)
    assert val(reg, "ctilink_engine_decision_seconds_count", input="ChannelParked") == 1
    assert val(reg, "ctilink_engine_decision_seconds_bucket", input="ChannelParked", le="0.00025") == 1
    assert val(reg, "ctilink_engine_decision_seconds_count", input=OTHER) == 1 + 100 - 63
    labels = {
        s.labels["input"] for m in reg.collect() if m.name == "ctilink_engine_decision_seconds" for s in m.samples
    }
    assert len(labels) == 65  # 64 distinct names + _other
    assert val(reg, "ctilink_store_write_seconds_count") == 2
    assert val(reg, "ctilink_store_write_failures_total") == 1


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="short_abandon_s"):
        KpiMetrics(CollectorRegistry(), short_abandon_s=float("nan"))
    with pytest.raises(ValueError, match=r"service_level_s\['q'\]"):
        KpiMetrics(CollectorRegistry(), service_level_s={"q": -1})
    with pytest.raises(ValueError, match="window_s"):
        KpiMetrics(CollectorRegistry(), window_s=0)


def test_per_agent_off_exports_no_agent_label() -> None:
    sw, _, reg = build(["1001"])
    sw.login("1001")
    sw.park("c1")
    sw.answer(sw.leg_of("1001"), at=1.0)
    sw.refresh(at=2.0)
    for family in reg.collect():
        for sample in family.samples:
            assert "agent" not in sample.labels, sample


# Stand-ins named like the lists/sticky notifications: KpiMetrics dispatches on the class name and
# reads their fields tolerantly, so it counts them whichever fields the final classes carry.
@dataclass(frozen=True)
class CallScreened(nt.Notification):
    call_id: str
    list: str
    action: str
    at: float


@dataclass(frozen=True)
class StickyRouted(nt.Notification):
    call_id: str
    agent_id: str
    outcome: str
    at: float


@dataclass(frozen=True)
class _Entry:
    list: str


@dataclass(frozen=True)
class ListChanged(nt.Notification):
    op: str
    entry: _Entry


@dataclass(frozen=True)
class Novel(nt.Notification):
    at: float


def test_list_and_sticky_notifications_counted_by_name() -> None:
    reg = CollectorRegistry()
    metrics = KpiMetrics(reg)
    metrics.observe(CallScreened("c1", "blacklist", "reject", 1.0), 1.0)
    metrics.observe(CallScreened("c2", "whitelist", "vip", 1.0), 1.0)
    metrics.observe(StickyRouted("c3", "a1", "hit", 2.0), 2.0)
    metrics.observe(StickyRouted("c4", "a1", "fall back; DROP", 2.0), 2.0)
    metrics.observe(ListChanged("add", _Entry("dnc")), 3.0)
    metrics.observe(Novel(4.0), 4.0)
    assert val(reg, "ctilink_list_decisions_total", list="blacklist", action="reject") == 1
    assert val(reg, "ctilink_list_decisions_total", list="whitelist", action="vip") == 1
    assert val(reg, "ctilink_sticky_routing_total", queue=NO_QUEUE, outcome="hit") == 1
    assert val(reg, "ctilink_sticky_routing_total", queue=NO_QUEUE, outcome=OTHER) == 1
    assert val(reg, "ctilink_list_changes_total", list="dnc", op="add") == 1
    assert val(reg, "ctilink_engine_notifications_total", type="Novel") == 1


@pytest.mark.skipif(
    not (hasattr(rq, "AddListEntry") and hasattr(nt, "StickyRouted")),
    reason="the engine has no number lists / sticky routing yet",
)
def test_engine_list_screening_and_sticky_routing_are_counted() -> None:
    sw, _, reg = build(["1001"], sticky={"enabled": True})
    assert sw.request(rq.AddListEntry(list_name="blacklist", number="+15551230666", action="reject")).error is None
    sw.login("1001")
    sw.park("bad", caller="+15551230666")
    assert val(reg, "ctilink_list_changes_total", list="blacklist", op="add") == 1
    assert val(reg, "ctilink_list_decisions_total", list="blacklist", action="reject") == 1
    assert val(reg, "ctilink_calls_blocked_total", queue="support", reason="screened") == 1
    # a caller who talked to 1001 calls again: sticky routing offers 1001 first
    sw.park("first", caller="+15551230001", at=1.0)
    leg = sw.leg_of("1001")
    sw.answer(leg, at=2.0)
    sw.hangup("first", at=10.0)
    sw.hangup(leg)
    sw.advance(20.0)
    assert val(reg, "ctilink_sticky_remembered_total") == 1
    sw.park("again", caller="+15551230001", at=30.0)
    assert val(reg, "ctilink_sticky_routing_total", queue="support", outcome="hit") == 1


# -- the rolling window on its own -------------------------------------------------------------


def test_window_sums_expire_slot_by_slot() -> None:
    w = RollingWindow(2, window_s=60.0, slots=6)  # 10 s slots
    w.add(5.0, 0)
    w.add(25.0, 0, 2.0)
    w.add(25.0, 1, 7.0)
    assert w.totals(30.0) == [3.0, 7.0]
    assert w.totals(65.0) == [2.0, 7.0]  # the slot of t=5 left the window
    assert w.totals(90.0) == [0.0, 0.0]
    w.add(95.0, 0)
    w.add(20.0, 0)  # older than the window: dropped, not raised, and it does not wipe t=95
    assert w.totals(95.0) == [1.0, 0.0]


def test_window_integrates_across_slot_edges() -> None:
    w = RollingWindow(2, window_s=60.0, slots=6)
    w.integrate(5.0, 35.0, [2.0, 0.5])
    assert w.totals(35.0) == pytest.approx([60.0, 15.0])
    assert w.totals(71.0) == pytest.approx([30.0, 7.5])  # the window is slots 20..80: 20..35 remains
    w.integrate(100.0, 1000.0, [1.0, 0.0])  # longer than the window: only the last 60 s can count
    assert w.totals(999.0) == pytest.approx([60.0, 0.0])


def test_agent_state_enum_covered() -> None:
    reg = CollectorRegistry()
    metrics = KpiMetrics(reg)
    sw = MeteredSwitch(EngineConfig(queues=[QueueConfig(name="support")], agents=[agent("1001")]), metrics)
    sw.refresh()
    for state in AgentState:
        assert reg.get_sample_value("ctilink_agents", {"state": state.value}) is not None
