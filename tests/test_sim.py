"""The simulated switch on its own: scheduler, models and the channel fabric, driven by commands
(no engine). Event orders are the ones recorded from FreeSWITCH 1.10.12 in the ESL fixtures."""

from __future__ import annotations

import math
import random

import pytest

from ctilink.commands import (
    Answer,
    Break,
    Bridge,
    Hangup,
    Hold,
    Originate,
    Playback,
    PreAnswer,
    RecvDtmf,
    SetVariables,
    Transfer,
)
from ctilink.events import (
    ChannelBridged,
    ChannelCreated,
    ChannelEvent,
    ChannelHeld,
    ChannelHungUp,
    ChannelParked,
    ChannelProgress,
    ChannelUnheld,
    DtmfReceived,
    Event,
    ExecuteComplete,
    JobCompleted,
)
from ctilink.sim.fabric import SwitchFabric, dial_target
from ctilink.sim.models import (
    AgentBehaviour,
    CallerBehaviour,
    Exponential,
    Fixed,
    LegOutcome,
    LogNormal,
    Route,
    SwitchTiming,
    Uniform,
)
from ctilink.sim.parties import Parties
from ctilink.sim.scheduler import Scheduler

AGENT_UUID = "11111111-1111-4111-8111-111111111111"
JOB_UUID = "22222222-2222-4222-8222-222222222222"
AGENT2_UUID = "33333333-3333-4333-8333-333333333333"


class Rig:
    """A fabric with a scripted answer plan and helpers to run its clock."""

    def __init__(self, plan: dict[str, tuple[LegOutcome, float]] | None = None, **timing: float) -> None:
        self.plan = plan or {}
        self.sched = Scheduler(100.0)
        self.fabric = SwitchFabric(
            self.sched,
            self.decide,
            node="sim-test",
            rng=random.Random(7),
            timing=SwitchTiming(**{"command_latency": 0.0, "dialplan": 0.02, "progress": 0.05, **timing}),
            dialplan={
                "7000": Route({"ctilink_queue": "support", "ctilink_ivr_choice": "2"}),
                "7001": Route({"ctilink_queue": "sales"}, answer=True),
                "7099": Route(action="hangup", cause="CALL_REJECTED"),
            },
        )
        self.events: list[Event] = []

    def decide(self, cmd: Originate) -> tuple[LegOutcome, float]:
        return self.plan.get(cmd.uuid, ("answer", 1.0))

    def run(self, until: float = math.inf) -> list[Event]:
        """Run every due timer up to ``until``; return the events emitted meanwhile."""
        while True:
            timer = self.sched.pop_due(until)
            if timer is None:
                break
            timer.fn(*timer.args)
        out = list(self.fabric.outbox)
        self.fabric.outbox.clear()
        self.events.extend(out)
        return out

    def do(self, cmd: object) -> list[Event]:
        self.fabric.execute(cmd)  # type: ignore[arg-type]
        return self.run(self.sched.now)

    def parked_caller(self, dest: str = "7000") -> str:
        ch = self.fabric.inbound_call("15551230001", dest, caller_name="Alice Example")
        self.run()
        return ch.uuid

    def answered_agent(self, call_id: str = "call-1", uuid: str = AGENT_UUID) -> str:
        self.do(originate(uuid, call_id))
        self.run()
        return uuid


def originate(uuid: str = AGENT_UUID, call_id: str = "call-1", timeout: int = 15, job: str = JOB_UUID) -> Originate:
    return Originate(
        uuid=uuid,
        dial_string="sofia/external/agent1001@127.0.0.1:5090",
        job_uuid=job,
        variables={"ctilink_call_id": call_id, "ctilink_role": "agent", "ctilink_agent_id": "1001"},
        caller_id_number="15551230001",
        timeout_s=timeout,
    )


def kinds(events: list[Event]) -> list[str]:
    return [type(e).__name__ for e in events]


# -- scheduler ----------------------------------------------------------------------------------


def test_scheduler_runs_in_time_then_fifo_order_and_skips_cancelled() -> None:
    s = Scheduler(10.0)
    seen: list[str] = []
    s.at(12.0, seen.append, "late")
    s.at(11.0, seen.append, "first-at-11")
    dead = s.at(11.0, seen.append, "cancelled")
    s.at(11.0, seen.append, "second-at-11")
    s.at(5.0, seen.append, "past-runs-now")
    dead.cancel()
    assert s.next_time() == 10.0
    while (t := s.pop_due(11.5)) is not None:
        t.fn(*t.args)
    assert seen == ["past-runs-now", "first-at-11", "second-at-11"]
    assert s.now == 11.0 and s.next_time() == 12.0 and len(s) == 1


def test_scheduler_infinite_delay_is_never_and_bad_delays_are_refused() -> None:
    s = Scheduler()
    never = s.after(math.inf, print)
    assert never.cancelled and s.next_time() is None
    with pytest.raises(ValueError, match="delay must be >= 0"):
        s.after(-1.0, print)
    with pytest.raises(ValueError, match="NaN"):
        s.at(math.nan, print)
    s.advance_to(5.0)
    s.advance_to(1.0)
    assert s.now == 5.0


# -- models -------------------------------------------------------------------------------------


def test_distributions_sample_plausibly_and_reproducibly() -> None:
    rng = random.Random(3)
    draws = [LogNormal(180.0, 0.6).sample(rng) for _ in range(4000)]
    assert 150 < sorted(draws)[2000] < 215  # the median is the parameter
    assert all(d > 0 for d in draws)
    exp = [Exponential(20.0).sample(rng) for _ in range(4000)]
    assert 18 < sum(exp) / len(exp) < 22
    assert all(2.0 <= Uniform(2.0, 3.0).sample(rng) <= 3.0 for _ in range(100))
    assert Fixed(math.inf).sample(rng) == math.inf and Exponential(math.inf).sample(rng) == math.inf
    assert [LogNormal(10).sample(random.Random(1)) for _ in range(2)] == [LogNormal(10).sample(random.Random(1))] * 2


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Exponential(-1.0), "Exponential.mean"),
        (lambda: Exponential(0.0), "Exponential.mean"),
        (lambda: LogNormal(math.nan), "LogNormal.median"),
        (lambda: Uniform(5.0, 1.0), "Uniform.high"),
        (lambda: Fixed("3"), "Fixed.value"),  # type: ignore[arg-type]
        (lambda: CallerBehaviour(hangs_up_first=1.5), "hangs_up_first"),
        (lambda: AgentBehaviour(p_busy=0.6, p_no_answer=0.6), "must not exceed 1"),
        (lambda: AgentBehaviour(p_transfer=0.5), "transfer_to"),
        (lambda: SwitchTiming(command_latency=-0.1), "command_latency"),
    ],
)
def test_models_refuse_bad_parameters_naming_the_field(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


def test_dial_target_parses_the_user_and_channel_name() -> None:
    assert dial_target("{a=b}sofia/external/agent1001@127.0.0.1:5090") == (
        "sofia/external/agent1001@127.0.0.1:5090",
        "agent1001",
    )
    assert dial_target("user/1001@default") == ("sofia/internal/1001@default", "1001")
    assert dial_target("loopback/7200/public") == ("loopback/7200/public", "public")


# -- inbound calls ------------------------------------------------------------------------------


def test_inbound_call_is_created_then_parked_with_its_queue_like_extension_7000() -> None:
    rig = Rig()
    ch = rig.fabric.inbound_call("15551230001", "7000", caller_name="Alice Example")
    ev = rig.run()
    assert kinds(ev) == ["ChannelCreated", "ChannelParked"]
    created, parked = ev
    assert isinstance(created, ChannelCreated) and isinstance(parked, ChannelParked)
    assert created.variables == {} and created.timestamp == 100.0
    assert parked.variables == {"ctilink_queue": "support", "ctilink_ivr_choice": "2"}
    assert parked.timestamp == pytest.approx(100.02)
    for e in ev:
        assert isinstance(e, ChannelEvent)
        assert (e.uuid, e.direction, e.node, e.core_uuid) == (ch.uuid, "inbound", "sim-test", rig.fabric.core_uuid)
        assert (e.caller_number, e.caller_name, e.destination_number) == ("15551230001", "Alice Example", "7000")
    assert parked.answer_state == "ringing"
    assert [e.sequence for e in ev] == [1, 2]


def test_extension_that_answers_first_emits_progress_media_and_answer_before_park() -> None:
    rig = Rig()
    rig.fabric.inbound_call("15551230004", "7001")
    ev = rig.run()
    assert kinds(ev) == ["ChannelCreated", "ChannelProgress", "ChannelAnswered", "ChannelParked"]
    assert isinstance(ev[1], ChannelProgress) and ev[1].media
    assert ev[3].answer_state == "answered" and ev[3].variables == {"ctilink_queue": "sales"}


def test_unknown_extension_and_hangup_route_end_the_call_once() -> None:
    rig = Rig()
    rig.fabric.inbound_call("1", "nowhere")
    rig.fabric.inbound_call("2", "7099")
    ev = rig.run()
    hungup = [e for e in ev if isinstance(e, ChannelHungUp)]
    assert [(h.cause, h.sip_code) for h in hungup] == [("NO_ROUTE_DESTINATION", 404), ("CALL_REJECTED", None)]
    assert rig.fabric.channels == {}


def test_caller_giving_up_before_answer_is_originator_cancel_after_unpark() -> None:
    rig = Rig()
    uuid = rig.parked_caller()
    rig.sched.advance_to(103.0)
    assert rig.fabric.remote_hangup(uuid)
    ev = rig.run()
    assert kinds(ev) == ["ChannelUnparked", "ChannelHungUp"]
    hup = ev[1]
    assert isinstance(hup, ChannelHungUp)
    assert (hup.cause, hup.sip_code, hup.answered_at, hup.billsec) == ("ORIGINATOR_CANCEL", 487, None, 0.0)
    assert hup.duration == pytest.approx(3.0) and hup.variables["ctilink_queue"] == "support"
    assert not rig.fabric.remote_hangup(uuid), "a channel ends exactly once"


def test_pre_answer_then_answer_then_hangup_is_normal_clearing() -> None:
    rig = Rig()
    uuid = rig.parked_caller()
    assert kinds(rig.do(PreAnswer(uuid))) == ["ChannelProgress"]
    assert kinds(rig.do(PreAnswer(uuid))) == []
    ev = rig.do(Answer(uuid))
    assert kinds(ev) == ["ChannelAnswered"] and ev[0].answer_state == "answered"
    rig.fabric.remote_hangup(uuid)
    hup = rig.run()[-1]
    assert isinstance(hup, ChannelHungUp) and (hup.cause, hup.sip_code) == ("NORMAL_CLEARING", 200)


# -- originated legs ----------------------------------------------------------------------------


def test_originate_answered_follows_the_recorded_order_and_carries_ctilink_variables() -> None:
    rig = Rig({AGENT_UUID: ("answer", 1.5)})
    ev = rig.do(originate())
    assert kinds(ev) == ["ChannelCreated"]
    ev += rig.run()
    assert kinds(ev) == ["ChannelCreated", "ChannelProgress", "ChannelAnswered", "JobCompleted", "ChannelParked"]
    job = ev[3]
    assert isinstance(job, JobCompleted) and job.job_uuid == JOB_UUID and job.body == f"+OK {AGENT_UUID}\n" and job.ok
    assert ev[2].timestamp == pytest.approx(100.0 + 0.05 + 1.5)
    for e in ev:
        if isinstance(e, ChannelEvent):
            assert e.uuid == AGENT_UUID and e.direction == "outbound"
            assert e.variables == {"ctilink_call_id": "call-1", "ctilink_role": "agent", "ctilink_agent_id": "1001"}
            assert e.destination_number == "agent1001" and e.caller_number == "15551230001"
    seqs = [e.sequence for e in ev]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


@pytest.mark.parametrize(
    ("outcome", "cause", "sip"),
    [("busy", "USER_BUSY", 486), ("reject", "CALL_REJECTED", 603), ("unreachable", "NORMAL_TEMPORARY_FAILURE", 503)],
)
def test_originate_refused_by_the_phone_hangs_up_then_fails_the_job(outcome: LegOutcome, cause: str, sip: int) -> None:
    rig = Rig({AGENT_UUID: (outcome, 0.0)})
    rig.do(originate())
    ev = rig.run()
    assert kinds(ev) == ["ChannelHungUp", "JobCompleted"]
    hup, job = ev
    assert isinstance(hup, ChannelHungUp) and (hup.cause, hup.sip_code) == (cause, sip)
    assert isinstance(job, JobCompleted) and job.body == f"-ERR {cause}\n" and not job.ok
    assert rig.fabric.channels == {}


def test_originate_not_answered_ends_no_answer_at_the_originate_timeout() -> None:
    rig = Rig({AGENT_UUID: ("answer", 60.0)})  # slower than the timeout: still NO_ANSWER
    rig.do(originate(timeout=5))
    ev = rig.run()
    assert kinds(ev) == ["ChannelProgress", "JobCompleted", "ChannelHungUp"]
    assert ev[1].body == "-ERR NO_ANSWER\n"  # type: ignore[union-attr]
    assert ev[2].cause == "NO_ANSWER" and ev[2].timestamp == pytest.approx(105.0)  # type: ignore[union-attr]


def test_hangup_of_a_ringing_leg_cancels_the_ring_and_fails_the_job_with_that_cause() -> None:
    rig = Rig({AGENT_UUID: ("answer", 3.0)})
    rig.do(originate())
    rig.run(100.5)
    ev = rig.do(Hangup(AGENT_UUID, "ORIGINATOR_CANCEL"))
    assert kinds(ev) == ["JobCompleted", "ChannelHungUp"]
    assert ev[0].body == "-ERR ORIGINATOR_CANCEL\n"  # type: ignore[union-attr]
    assert rig.run() == [], "the answer that was scheduled must not happen"


def test_originate_with_a_uuid_in_use_is_refused_with_a_failed_job() -> None:
    rig = Rig()
    rig.answered_agent()
    ev = rig.do(originate(job="44444444-4444-4444-8444-444444444444"))
    assert kinds(ev) == ["JobCompleted"] and not ev[0].ok  # type: ignore[union-attr]
    assert "already in use" in rig.fabric.errors[-1].reason


# -- bridge, hangup of bridged legs -------------------------------------------------------------


def test_bridge_unparks_both_then_bridges_and_a_hangup_takes_the_partner_down() -> None:
    rig = Rig()
    caller = rig.parked_caller("7001")
    rig.do(Playback(caller, "local_stream://moh"))
    agent = rig.answered_agent()
    ev = rig.do(Bridge(caller, agent))
    # As recorded (inbound_queue_answered): the agent unparks, the caller's hold music stops, it unparks.
    assert [(type(e).__name__, e.uuid) for e in ev] == [  # type: ignore[union-attr]
        ("ChannelUnparked", agent),
        ("ExecuteComplete", caller),
        ("ChannelUnparked", caller),
        ("ChannelBridged", caller),
    ]
    assert isinstance(ev[1], ExecuteComplete) and ev[1].application_data == "local_stream://moh"
    bridged = ev[3]
    assert isinstance(bridged, ChannelBridged) and (bridged.uuid, bridged.other_uuid) == (caller, agent)
    rig.sched.advance_to(110.0)
    rig.fabric.remote_hangup(caller)
    ev = rig.run()
    assert kinds(ev) == ["ChannelUnbridged", "ChannelHungUp", "ChannelHungUp"]
    assert (ev[0].uuid, ev[0].other_uuid) == (caller, agent)  # type: ignore[union-attr]
    assert [(e.uuid, e.cause) for e in ev[1:]] == [(agent, "NORMAL_CLEARING"), (caller, "NORMAL_CLEARING")]  # type: ignore[union-attr]
    assert rig.fabric.channels == {}
    ends = [e.uuid for e in rig.events if isinstance(e, ChannelHungUp)]
    assert sorted(ends) == sorted({caller, agent})


def test_bridge_answers_an_unanswered_inbound_leg_but_refuses_a_ringing_agent_leg() -> None:
    rig = Rig({AGENT_UUID: ("answer", 5.0)})
    caller = rig.parked_caller("7000")
    rig.do(originate())
    rig.run(101.0)
    assert rig.do(Bridge(caller, AGENT_UUID)) == []
    assert "not answered" in rig.fabric.errors[-1].reason
    rig.run()
    ev = rig.do(Bridge(caller, AGENT_UUID))
    assert kinds(ev)[:2] == ["ChannelProgress", "ChannelAnswered"] and ev[1].uuid == caller
    assert kinds(ev)[-1] == "ChannelBridged"


def test_bridge_to_a_new_leg_steals_it_and_the_old_partner_parks() -> None:
    rig = Rig()
    caller = rig.parked_caller("7001")
    agent1 = rig.answered_agent()
    rig.do(Bridge(caller, agent1))
    agent2 = rig.answered_agent(uuid=AGENT2_UUID)
    ev = rig.do(Bridge(caller, agent2))
    assert kinds(ev) == ["ChannelUnbridged", "ChannelParked", "ChannelUnparked", "ChannelBridged"]
    assert ev[1].uuid == agent1 and ev[-1].other_uuid == agent2  # type: ignore[union-attr]
    assert rig.fabric.channels[agent1].bridged_to is None


def test_commands_on_unknown_channels_change_nothing_and_are_recorded() -> None:
    rig = Rig()
    ghost = "99999999-9999-4999-8999-999999999999"
    for cmd in (Hangup(ghost), Bridge(ghost, AGENT_UUID), Answer(ghost), Hold(ghost), Transfer(ghost, "7000")):
        assert rig.do(cmd) == []
    assert [e.reason for e in rig.fabric.errors] == ["-ERR No such channel!"] * 5
    caller = rig.parked_caller()
    assert rig.do(Bridge(caller, caller)) == [] and "itself" in rig.fabric.errors[-1].reason


# -- mid-call features --------------------------------------------------------------------------


def test_hold_and_unhold_on_the_agent_leg_name_the_partner() -> None:
    rig = Rig()
    caller = rig.parked_caller("7001")
    agent = rig.answered_agent()
    rig.do(Bridge(caller, agent))
    ev = rig.do(Hold(agent)) + rig.do(Hold(agent)) + rig.do(Hold(agent, on=False))
    assert kinds(ev) == ["ChannelHeld", "ChannelUnheld"]
    assert isinstance(ev[0], ChannelHeld) and (ev[0].uuid, ev[0].other_uuid) == (agent, caller)
    assert isinstance(ev[1], ChannelUnheld)
    assert "already" in rig.fabric.errors[-1].reason


def test_transfer_hangs_up_the_agent_and_reparks_the_caller_in_the_new_queue() -> None:
    rig = Rig()
    caller = rig.parked_caller("7000")
    agent = rig.answered_agent()
    rig.do(Bridge(caller, agent))
    ev = rig.do(Transfer(caller, "7001"))
    assert kinds(ev) == ["ChannelHungUp", "ChannelUnbridged"]
    assert ev[0].uuid == agent and ev[1].destination_number == "7001"  # type: ignore[union-attr]
    ev = rig.run()
    assert kinds(ev) == ["ChannelParked"]
    assert ev[0].uuid == caller and ev[0].variables["ctilink_queue"] == "sales"  # type: ignore[union-attr]
    assert ev[0].destination_number == "7001"  # type: ignore[union-attr]


def test_transfer_bleg_moves_the_partner_and_hangs_up_the_named_leg() -> None:
    rig = Rig()
    caller = rig.parked_caller("7000")
    agent = rig.answered_agent()
    rig.do(Bridge(caller, agent))
    ev = rig.do(Transfer(agent, "7001", leg="-bleg"))
    assert [(type(e).__name__, e.uuid) for e in ev] == [("ChannelHungUp", agent), ("ChannelUnbridged", caller)]  # type: ignore[union-attr]
    assert kinds(rig.run()) == ["ChannelParked"]


def test_set_variables_ride_on_later_events_and_dtmf_and_break_emit_events() -> None:
    rig = Rig()
    caller = rig.parked_caller("7001")
    rig.do(SetVariables(caller, {"ctilink_call_id": "c-9", "other": "x"}))
    rig.do(Playback(caller, "local_stream://moh"))
    ev = rig.do(Break(caller)) + rig.do(Break(caller)) + rig.do(RecvDtmf(caller, "12#"))
    assert kinds(ev) == ["ExecuteComplete", "DtmfReceived", "DtmfReceived", "DtmfReceived"]
    assert [e.digit for e in ev if isinstance(e, DtmfReceived)] == ["1", "2", "#"]
    assert all(e.variables == {"ctilink_queue": "sales", "ctilink_call_id": "c-9"} for e in ev)  # type: ignore[union-attr]


def test_same_seed_same_uuids_and_latency_delays_commands() -> None:
    a, b = Rig(command_latency=0.25), Rig(command_latency=0.25)
    assert a.fabric.core_uuid == b.fabric.core_uuid
    assert a.fabric.inbound_call("1", "7001").uuid == b.fabric.inbound_call("1", "7001").uuid
    a.run()
    uuid = next(iter(a.fabric.channels))
    a.fabric.submit(Hangup(uuid))
    assert a.run(a.sched.now + 0.2) == []
    assert kinds(a.run()) == ["ChannelUnparked", "ChannelHungUp"]


# -- remote parties (fabric only) -----------------------------------------------------------------


def _with_parties(behaviour: CallerBehaviour) -> tuple[Rig, Parties, str]:
    rig = Rig()
    parties = Parties(rig.sched, rig.fabric, random.Random(4))
    ch = rig.fabric.inbound_call("15551230009", "7001")
    parties.attach(ch.uuid, behaviour)
    return rig, parties, ch.uuid


def _run_observed(rig: Rig, parties: Parties, until: float = math.inf) -> list[Event]:
    seen: list[Event] = []
    while True:
        while rig.fabric.outbox:
            event = rig.fabric.outbox.popleft()
            parties.observe(event)
            seen.append(event)
        timer = rig.sched.pop_due(until)
        if timer is None:
            return seen
        timer.fn(*timer.args)


def test_party_gives_up_after_its_patience_while_parked() -> None:
    rig, parties, uuid = _with_parties(CallerBehaviour(patience=Fixed(30.0)))
    ev = _run_observed(rig, parties)
    hup = ev[-1]
    assert isinstance(hup, ChannelHungUp) and hup.uuid == uuid and hup.cause == "NORMAL_CLEARING"
    assert hup.timestamp == pytest.approx(100.0 + 0.02 + 30.0)
    assert parties.counts.gave_up_waiting == 1 and parties.parties == {}


def test_party_stops_waiting_at_the_bridge_and_talks_then_the_agent_hangs_up() -> None:
    rig, parties, uuid = _with_parties(CallerBehaviour(patience=Fixed(30.0), talk=Fixed(50.0), hangs_up_first=0.0))
    _run_observed(rig, parties, 110.0)
    rig.sched.advance_to(110.0)
    rig.fabric.execute(originate())
    _run_observed(rig, parties, 120.0)
    rig.sched.advance_to(120.0)
    rig.fabric.execute(Bridge(uuid, AGENT_UUID))
    ev = _run_observed(rig, parties)
    hangups = [(e.uuid, e.timestamp) for e in ev if isinstance(e, ChannelHungUp)]
    assert [u for u, _ in hangups] == [uuid, AGENT_UUID], "the agent's phone ended it: the caller leg follows first"
    assert hangups[0][1] == pytest.approx(170.0)
    assert parties.counts.gave_up_waiting == 0 and parties.counts.ended_by_agent == 1 and parties.counts.talked == 1


def test_phone_hold_is_reported_only_for_answered_legs_and_only_on_change() -> None:
    rig = Rig()
    caller = rig.parked_caller("7000")
    assert not rig.fabric.phone_hold(caller, True), "not answered"
    rig.answered_agent()
    assert rig.fabric.phone_hold(AGENT_UUID, True) and not rig.fabric.phone_hold(AGENT_UUID, True)
    assert rig.fabric.phone_hold(AGENT_UUID, False)
    assert kinds(rig.run()) == ["ChannelHeld", "ChannelUnheld"]


def test_stale_command_errors_are_told_apart_from_unknown_channels() -> None:
    rig = Rig()
    caller = rig.parked_caller()
    rig.fabric.remote_hangup(caller)
    rig.run()
    rig.do(Hangup(caller))
    rig.do(Hangup("99999999-9999-4999-8999-999999999999"))
    assert [e.stale for e in rig.fabric.errors] == [True, False]


def test_every_emitted_event_is_a_valid_model_of_its_type() -> None:
    rig = Rig()
    caller = rig.parked_caller("7001")
    rig.answered_agent()
    rig.do(Bridge(caller, AGENT_UUID))
    rig.do(Hold(AGENT_UUID))
    rig.fabric.remote_hangup(caller)
    rig.run()
    assert len(rig.events) >= 10
    for event in rig.events:
        assert type(event).model_validate(event.model_dump()) == event
