"""End to end through the simulated switch and the real engine: answered calls, abandons,
no-answer rotation, busy agents, wrap-up, transfers, service-level figures and determinism."""

from __future__ import annotations

import math
import random
import uuid as uuidlib
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from ctilink.commands import Bridge, Originate
from ctilink.core import AgentProfile, AgentState, Disposition, Engine, EngineConfig, OfferOutcome, QueueConfig
from ctilink.core import notifications as nt
from ctilink.sim import (
    AgentBehaviour,
    CallerBehaviour,
    Exponential,
    Fixed,
    LogNormal,
    SimulatedSwitch,
    Uniform,
)
from ctilink.testing.invariants import check_invariants

PATIENT = CallerBehaviour(patience=Fixed(math.inf), talk=Fixed(30.0), hangs_up_first=1.0)
PROMPT = AgentBehaviour(ring_delay=Fixed(2.0))


def id_factory(seed: int) -> Callable[[], str]:
    rng = random.Random(f"ids:{seed}")
    return lambda: str(uuidlib.UUID(int=rng.getrandbits(128), version=4))


def build(
    n_agents: int = 1,
    *,
    queues: list[QueueConfig] | None = None,
    seed: int = 1,
    skills: dict[str, int] | None = None,
    **config: Any,
) -> tuple[Engine, SimulatedSwitch]:
    cfg = EngineConfig(
        queues=queues or [QueueConfig(name="support", ring_timeout_s=5, wrap_up_s=10)],
        agents=[
            AgentProfile(id=f"a{i}", endpoints=[f"sofia/internal/a{i}@127.0.0.1"], skills=skills or {})
            for i in range(1, n_agents + 1)
        ],
        **config,
    )
    engine = Engine(cfg, rng=random.Random(seed), id_factory=id_factory(seed))
    return engine, SimulatedSwitch(engine, seed=seed)


def of(sim: SimulatedSwitch, kind: type) -> list[Any]:
    return [n for n in sim.notifications if isinstance(n, kind)]


def states(sim: SimulatedSwitch, agent_id: str) -> list[tuple[str, str, float]]:
    return [(n.old.value, n.new.value, n.at) for n in of(sim, nt.AgentStateChanged) if n.agent_id == agent_id]


def assert_clean(engine: Engine, sim: SimulatedSwitch) -> None:
    """Nothing the live edge would refuse, no command on a channel that never existed, engine sound."""
    assert check_invariants(engine) == []
    assert [e for e in sim.errors if not e.stale] == []
    assert sim.rejected_requests == []
    ended = Counter(n.record.call_id for n in of(sim, nt.CallEnded))
    assert all(count == 1 for count in ended.values()), "a call ended twice"


def test_call_is_offered_answered_bridged_talked_and_wrapped_up() -> None:
    engine, sim = build(1)
    sim.add_agents(["a1"], PROMPT)
    sim.run_for(1.0)
    uuid = sim.inbound_call("support", caller_number="15551230001", behaviour=PATIENT)
    sim.run_for(120.0)

    originate = next(c for c in sim.commands_seen if isinstance(c, Originate))
    assert originate.dial_string == "sofia/internal/a1@127.0.0.1" and originate.variables["ctilink_agent_id"] == "a1"
    bridge = next(c for c in sim.commands_seen if isinstance(c, Bridge))
    assert (bridge.uuid, bridge.other_uuid) == (uuid, originate.uuid)
    (answered,) = of(sim, nt.CallAnswered)
    assert answered.agent_id == "a1" and answered.wait_s == pytest.approx(2.0 + 0.05, abs=0.05)
    (ended,) = of(sim, nt.CallEnded)
    rec = ended.record
    assert rec.uuid == uuid and rec.disposition is Disposition.ANSWERED and rec.caller_number == "15551230001"
    assert rec.talk_s == pytest.approx(30.0, abs=0.05) and rec.wrap_up_s == pytest.approx(10.0, abs=0.01)
    assert [o.result for o in rec.offers] == [OfferOutcome.ANSWERED]
    path = [(old, new) for old, new, _ in states(sim, "a1")]
    assert path == [
        ("logged-out", "available"),
        ("available", "reserved"),
        ("reserved", "on-call"),
        ("on-call", "wrap-up"),
        ("wrap-up", "available"),
    ]
    wrap_start, wrap_end = states(sim, "a1")[3][2], states(sim, "a1")[4][2]
    assert wrap_end - wrap_start == pytest.approx(10.0)
    assert sim.fabric.channels == {}, "both legs are gone"
    assert (sim.stats.offered, sim.stats.answered, sim.stats.abandoned) == (1, 1, 0)
    assert_clean(engine, sim)


def test_caller_who_runs_out_of_patience_is_abandoned_once() -> None:
    engine, sim = build(1)
    sim.add_agents(["a1"], ready=False)  # logged in, on break: nobody takes the call
    sim.inbound_call("support", behaviour=CallerBehaviour(patience=Fixed(15.0)))
    sim.run_for(60.0)
    (ended,) = of(sim, nt.CallEnded)
    assert ended.record.disposition is Disposition.ABANDONED
    assert ended.record.wait_s == pytest.approx(15.0, abs=0.1) and ended.record.offers == ()
    assert sim.parties.counts.gave_up_waiting == 1 == sim.stats.abandoned
    assert sim.stats.service_level == 0.0 and sim.stats.asa_s is None
    assert_clean(engine, sim)


def test_no_answer_moves_the_call_to_the_next_agent_and_pauses_the_first() -> None:
    engine, sim = build(2, max_no_answer=1)
    sim.add_agents(["a1"], AgentBehaviour(p_no_answer=1.0), login_at=0.0)
    sim.add_agents(["a2"], PROMPT, login_at=1.0)  # a1 has been idle longer: offered first
    sim.inbound_call("support", behaviour=PATIENT, at=5.0)
    sim.run_for(60.0)
    offers = [(n.agent_id, n.attempt) for n in of(sim, nt.CallOffered)]
    results = [(n.agent_id, n.result) for n in of(sim, nt.OfferResult)]
    assert offers == [("a1", 1), ("a2", 2)]
    assert results == [("a1", OfferOutcome.NO_ANSWER), ("a2", OfferOutcome.ANSWERED)]
    (answered,) = of(sim, nt.CallAnswered)
    assert answered.agent_id == "a2" and answered.wait_s == pytest.approx(5.0 + 0.05 + 2.0, abs=0.1)
    assert ("reserved", "not-ready") in [(o, n) for o, n, _ in states(sim, "a1")]
    assert engine.agent_view("a1").reason == "no-answer"
    assert_clean(engine, sim)


def test_busy_agent_gets_a_pause_and_the_call_goes_to_another() -> None:
    engine, sim = build(2, busy_delay_s=10.0)
    sim.add_agents(["a1"], AgentBehaviour(p_busy=1.0), login_at=0.0)
    sim.add_agents(["a2"], PROMPT, login_at=1.0)
    sim.inbound_call("support", behaviour=PATIENT, at=5.0)
    sim.run_for(8.0)
    assert [(n.agent_id, n.result) for n in of(sim, nt.OfferResult)][:1] == [("a1", OfferOutcome.BUSY)]
    view = engine.agent_view("a1")
    assert view.state is AgentState.AVAILABLE and view.delayed_until == pytest.approx(15.05, abs=0.05)
    assert not view.offerable
    sim.run_for(60.0)
    assert [n.agent_id for n in of(sim, nt.CallAnswered)] == ["a2"]
    assert engine.agent_view("a1").offerable
    assert_clean(engine, sim)


def test_agent_hanging_up_ends_the_customer_leg_too() -> None:
    engine, sim = build(1)
    sim.add_agents(["a1"], PROMPT)
    sim.inbound_call("support", behaviour=CallerBehaviour(patience=Fixed(math.inf), talk=Fixed(20), hangs_up_first=0.0))
    sim.run_for(60.0)
    assert sim.parties.counts.ended_by_agent == 1
    (ended,) = of(sim, nt.CallEnded)
    assert ended.record.disposition is Disposition.ANSWERED and ended.record.talk_s == pytest.approx(20.0, abs=0.05)
    assert sim.fabric.channels == {}
    assert_clean(engine, sim)


def test_agent_ending_wrap_up_early_is_available_before_the_timer() -> None:
    engine, sim = build(1)
    sim.add_agents(["a1"], AgentBehaviour(ring_delay=Fixed(1.0), p_end_wrap_up_early=1.0, wrap_up_time=Fixed(3.0)))
    sim.inbound_call("support", behaviour=PATIENT)
    sim.run_for(100.0)
    wrap = [(o, n, t) for o, n, t in states(sim, "a1") if "wrap-up" in (o, n)]
    assert [(o, n) for o, n, _ in wrap] == [("on-call", "wrap-up"), ("wrap-up", "available")]
    assert wrap[1][2] - wrap[0][2] == pytest.approx(3.0)
    (ended,) = of(sim, nt.CallEnded)
    assert ended.record.wrap_up_s == pytest.approx(3.0)
    assert_clean(engine, sim)


@pytest.mark.parametrize(
    "validate",
    [True, False],
    ids=["as-the-edge-renders", "unrendered"],
)
def test_transfer_to_another_queue_reaches_an_agent_there(validate: bool) -> None:
    queues = [
        QueueConfig(name="support", required_skills={"support": 1}, wrap_up_s=5),
        QueueConfig(name="sales", required_skills={"sales": 1}, wrap_up_s=5),
    ]
    engine = Engine(
        EngineConfig(
            queues=queues,
            agents=[
                AgentProfile(id="s1", endpoints=["sofia/internal/s1@127.0.0.1"], skills={"support": 5}),
                AgentProfile(id="x1", endpoints=["sofia/internal/x1@127.0.0.1"], skills={"sales": 5}),
            ],
        ),
        rng=random.Random(1),
        id_factory=id_factory(1),
    )
    sim = SimulatedSwitch(engine, seed=1, validate_commands=validate)
    sim.add_agents(
        ["s1"], AgentBehaviour(ring_delay=Fixed(1.0), p_transfer=1.0, transfer_after=Fixed(10.0), transfer_to="sales")
    )
    sim.add_agents(["x1"], PROMPT)
    uuid = sim.inbound_call(
        "support", behaviour=CallerBehaviour(patience=Fixed(math.inf), talk=Fixed(60.0), hangs_up_first=1.0)
    )
    sim.run_for(200.0)
    (transferred,) = of(sim, nt.CallTransferred)
    assert (transferred.from_agent_id, transferred.kind, transferred.target) == ("s1", "queue", "sales")
    assert [n.agent_id for n in of(sim, nt.CallAnswered)] == ["s1", "x1"]
    (ended,) = of(sim, nt.CallEnded)
    rec = ended.record
    assert rec.uuid == uuid and rec.first_queue == "support" and rec.queue == "sales"
    assert rec.disposition is Disposition.ANSWERED and [t.kind for t in rec.transfers] == ["queue"]
    assert_clean(engine, sim)


def _contact_centre(n_agents: int, seed: int, hours: float = 2.0) -> tuple[Engine, SimulatedSwitch]:
    engine, sim = build(n_agents, seed=seed, queues=[QueueConfig(name="support", ring_timeout_s=15, wrap_up_s=10)])
    sim.add_agents(
        [f"a{i}" for i in range(1, n_agents + 1)],
        AgentBehaviour(ring_delay=Uniform(1.0, 4.0), p_no_answer=0.03, p_busy=0.01, p_end_wrap_up_early=0.3),
    )
    sim.add_caller_stream(
        "support", 1 / 30, CallerBehaviour(patience=Exponential(60.0), talk=LogNormal(120.0, 0.5)), stop=hours * 3600
    )
    sim.run_for(hours * 3600 + 1800)
    return engine, sim


def test_more_agents_give_a_better_service_level_and_figures_add_up() -> None:
    results = {}
    for n in (4, 7):
        engine, sim = _contact_centre(n, seed=5)
        s = sim.stats
        assert s.offered == s.arrived > 150, "every call ended after the streams stopped"
        assert s.offered == s.answered + s.abandoned
        assert s.abandoned == sim.parties.counts.gave_up_waiting, "engine and phones agree on abandons"
        assert s.answered == sim.parties.counts.talked
        assert 0 < s.occupancy < 1  # type: ignore[operator]
        assert_clean(engine, sim)
        results[n] = s
    few, many = results[4], results[7]
    assert many.service_level > few.service_level + 0.1  # type: ignore[operator]
    assert many.asa_s < few.asa_s  # type: ignore[operator]
    assert many.abandon_rate < few.abandon_rate  # type: ignore[operator]
    assert many.occupancy < few.occupancy  # type: ignore[operator]


def test_same_seed_same_notifications_and_a_different_seed_differs() -> None:
    runs = [_contact_centre(3, seed=s, hours=0.5)[1].notifications for s in (11, 11, 12)]
    assert runs[0] == runs[1]
    assert len(runs[0]) > 100
    assert runs[0] != runs[2]


def test_real_time_style_driving_matches_run_until() -> None:
    def scenario() -> tuple[Engine, SimulatedSwitch]:
        engine, sim = build(2, seed=3)
        sim.add_agents(["a1", "a2"], AgentBehaviour(p_no_answer=0.2))
        sim.add_caller_stream("support", 1 / 20, CallerBehaviour(patience=Exponential(40), talk=LogNormal(60, 0.5)))
        return engine, sim

    _, whole = scenario()
    whole.run_until(1800.0)
    _, stepped = scenario()
    # An outer loop that wakes at odd wall-clock moments: process_due must run each action at its
    # own time, whatever the wake-up granularity.
    wake = random.Random(9)
    now = 0.0
    while now < 1800.0:
        nxt = stepped.next_time()
        assert nxt is not None and nxt >= stepped.now
        now = min(1800.0, max(now + wake.uniform(0.0, 7.0), 0.0))
        stepped.process_due(now)
    assert stepped.notifications == whole.notifications and len(whole.notifications) > 100
    assert stepped.now == whole.now == 1800.0


def test_busy_day_with_breaks_holds_and_pauses_keeps_every_rule() -> None:
    queues = [
        QueueConfig(name="support", required_skills={"support": 1}, wrap_up_s=8, ring_timeout_s=10),
        QueueConfig(name="sales", required_skills={"sales": 1}, wrap_up_s=8, ring_timeout_s=10),
    ]
    agents = [
        AgentProfile(
            id=f"a{i}",
            endpoints=[f"sofia/internal/a{i}@127.0.0.1"],
            skills={"support": 3, "sales": 2} if i % 2 else {"support": 4},
        )
        for i in range(1, 9)
    ]
    engine = Engine(EngineConfig(queues=queues, agents=agents), rng=random.Random(2), id_factory=id_factory(2))
    sim = SimulatedSwitch(engine, seed=2)
    behaviour = AgentBehaviour(
        ring_delay=Uniform(1.0, 5.0),
        p_no_answer=0.05,
        p_busy=0.02,
        p_reject=0.02,
        p_end_wrap_up_early=0.4,
        p_hold=0.3,
        hold_after=Uniform(5, 20),
        hold_time=Uniform(5, 20),
        breaks_per_hour=1.0,
        break_time=Uniform(120, 300),
    )
    sim.add_agents([a.id for a in agents], behaviour)
    talk = CallerBehaviour(patience=Exponential(90.0), talk=LogNormal(90.0, 0.6))
    sim.add_caller_stream("support", 1 / 25, talk, stop=3 * 3600)
    sim.add_caller_stream("sales", 1 / 90, talk, stop=3 * 3600)
    sim.run_for(4 * 3600)
    for agent in agents:
        sim.agents.logout(agent.id)
    sim.run_for(3600)

    arrived = {n.call_id for n in of(sim, nt.CallArrived)}
    ended = Counter(n.record.call_id for n in of(sim, nt.CallEnded))
    assert len(arrived) > 400 and set(ended) == arrived and set(ended.values()) == {1}
    records = [n.record for n in of(sim, nt.CallEnded)]
    assert any(r.hold_s > 0 for r in records), "holds reach the records"
    assert any(n.new is AgentState.NOT_READY and n.reason == "break" for n in of(sim, nt.AgentStateChanged))
    assert {n.new for n in of(sim, nt.AgentStateChanged)} >= set(AgentState)
    assert all(v.state is AgentState.LOGGED_OUT for v in engine.snapshot().agents)
    assert sim.fabric.channels == {} and engine.snapshot().calls == ()
    assert_clean(engine, sim)


def test_presence_tracked_agent_is_offered_only_while_the_phone_is_registered() -> None:
    engine, sim = build(1, presence_tracking=True)
    sim.add_agents(["a1"], PROMPT)
    sim.inbound_call("support", behaviour=PATIENT, at=1.0)
    sim.run_for(20.0)
    assert of(sim, nt.CallOffered) == [], "an unregistered phone is never rung"
    sim.register("a1", "127.0.0.1")
    sim.run_for(60.0)
    (presence,) = of(sim, nt.AgentPresenceChanged)
    assert presence.registered and presence.agent_id == "a1"
    assert [n.agent_id for n in of(sim, nt.CallAnswered)] == ["a1"]
    sim.unregister("a1", "127.0.0.1")
    sim.inbound_call("support", behaviour=PATIENT)
    sim.run_for(20.0)
    assert len(of(sim, nt.CallOffered)) == 1 and not of(sim, nt.AgentPresenceChanged)[-1].registered
    assert_clean(engine, sim)
