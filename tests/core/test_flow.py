"""The inbound call flow, end to end, with explicit times."""

from __future__ import annotations

import random

from core_switch import Switch, agent, make_switch

from ctilink import commands as cmd
from ctilink.core import AgentState, CallState, Disposition, OfferOutcome, QueueConfig
from ctilink.core import notifications as nt
from ctilink.core import requests as rq
from ctilink.core.errors import InvalidValue, UnknownQueue
from ctilink.core.ids import seeded_ids
from ctilink.esl.render import render
from ctilink.events import ChannelAnswered, ChannelHungUp, ChannelParked, JobCompleted, SwitchShutdown


def test_answered_call_commands_in_order_and_record(switch: Switch) -> None:
    effects = switch.park("cust-1")
    call_id = switch.call_id("cust-1")
    kinds = [type(c).__name__ for c in effects.commands]
    assert kinds == ["SetVariables", "Answer", "Playback", "Originate"]
    setvar, _, playback, originate = effects.commands
    assert setvar == cmd.SetVariables("cust-1", {"ctilink_call_id": call_id})
    assert playback == cmd.Playback("cust-1", "local_stream://moh")
    assert isinstance(originate, cmd.Originate)
    assert originate.dial_string == "user/1001"
    assert originate.variables == {"ctilink_call_id": call_id, "ctilink_role": "agent", "ctilink_agent_id": "1001"}
    assert originate.caller_id_number == "15551230001"
    assert originate.timeout_s == 15 and originate.application == "park"
    assert originate.uuid != originate.job_uuid
    assert switch.state("1001") == "reserved"

    leg = originate.uuid
    switch.ring(leg)
    effects = switch.answer(leg, at=3.0)
    # The originate still owns the leg: no bridge until its job returns (else FreeSWITCH cancels it).
    assert effects.commands == []
    answered = switch.of(nt.CallAnswered)
    assert answered[0].wait_s == 3.0 and answered[0].agent_id == "1001"
    assert switch.state("1001") == "on-call"
    # FreeSWITCH's order: agent leg parks after answering, then the job reports +OK: now bridge.
    assert switch.send(ChannelParked(uuid=leg, variables=switch.agent_vars(leg))).commands == []
    effects = switch.job(leg, f"+OK {leg}")
    assert effects.commands == [cmd.Break("cust-1"), cmd.Bridge("cust-1", leg)]
    assert switch.job(leg, f"+OK {leg}").commands == []  # a repeated job result bridges nothing twice

    switch.advance(10.0)
    switch.hangup("cust-1")
    assert switch.of(nt.CallDisconnected)[-1].disposition is Disposition.ANSWERED
    switch.hangup(leg)
    assert switch.state("1001") == "wrap-up"
    assert not switch.of(nt.CallEnded), "the record waits for wrap-up"
    switch.request(rq.SetDisposition("1001", "sale"))
    switch.advance(15.0)
    assert switch.state("1001") == "available"
    record = switch.record(call_id).record
    assert record.disposition is Disposition.ANSWERED
    assert (record.arrived_at, record.answered_at, record.ended_at) == (0.0, 3.0, 10.0)
    assert record.wait_s == 3.0 and record.talk_s == 7.0 and record.wrap_up_s == 5.0
    assert record.disposition_code == "sale"
    assert record.service_level_met is True
    assert [(o.agent_id, o.result) for o in record.offers] == [("1001", OfferOutcome.ANSWERED)]


def test_every_agent_change_notified_with_old_new_reason_duration(switch: Switch) -> None:
    switch.park("c1")
    leg = switch.leg_of("1001")
    switch.answer(leg, at=2.0)
    switch.hangup("c1", at=12.0)
    switch.advance(30.0)
    changes = [(n.old.value, n.new.value, n.duration_s, n.at) for n in switch.of(nt.AgentStateChanged)]
    assert changes == [
        ("logged-out", "available", 0.0, 0.0),
        ("available", "reserved", 0.0, 0.0),
        ("reserved", "on-call", 2.0, 2.0),
        ("on-call", "wrap-up", 10.0, 12.0),
        ("wrap-up", "available", 5.0, 17.0),
    ]


def test_caller_abandons_while_queued_records_wait() -> None:
    sw = make_switch()
    sw.park("c1")
    call_id = sw.call_id("c1")
    sw.hangup("c1", "ORIGINATOR_CANCEL", at=7.5)
    record = sw.record(call_id).record
    assert record.disposition is Disposition.ABANDONED
    assert record.wait_s == 7.5 and record.answered_at is None
    assert sw.engine.snapshot().queue("support").waiting == ()
    assert sw.engine.snapshot().calls == ()


def test_caller_hangs_up_while_agent_rings_kills_agent_leg(switch: Switch) -> None:
    switch.park("c1")
    leg = switch.leg_of("1001")
    switch.ring(leg)
    effects = switch.hangup("c1", "ORIGINATOR_CANCEL")
    assert cmd.Hangup(leg, "ORIGINATOR_CANCEL") in effects.commands
    assert switch.state("1001") == "reserved", "reserved until the leg is confirmed gone"
    switch.hangup(leg, "ORIGINATOR_CANCEL")
    assert switch.state("1001") == "available"
    record = switch.of(nt.CallEnded)[0].record
    assert record.disposition is Disposition.ABANDONED
    assert record.offers[0].result is OfferOutcome.CANCELLED


def test_agent_leg_fails_call_keeps_its_place_and_goes_to_next_agent() -> None:
    sw = make_switch(agents=[agent("a1"), agent("a2")], busy_delay_s=30)
    sw.login("a1")
    sw.advance(1.0)
    sw.login("a2")
    sw.park("early", caller="100")  # offered to a1 (longest idle)
    leg = sw.leg_of("a1")
    sw.park("late", caller="200", at=2.0)  # offered to a2
    assert sw.leg_of("a2")
    effects = sw.fail_leg(leg, "USER_BUSY", 486)
    assert sw.of(nt.OfferResult)[0].result is OfferOutcome.BUSY
    # nobody free now: "early" waits, still ahead of anything later
    sw.park("later", caller="300", at=3.0)
    waiting = sw.engine.snapshot().queue("support").waiting
    assert [w.call_id for w in waiting] == [sw.call_id("early"), sw.call_id("later")]
    assert sw.engine.queue_position(sw.call_id("early"))[0] == 1
    assert sw.state("a1") == "available" and sw.engine.agent_view("a1").delayed_until == 32.0
    assert effects.commands == [] or all(not isinstance(c, cmd.Originate) for c in effects.commands)
    # a2 finishes: it takes "early" (the head), not "later"
    leg2 = sw.leg_of("a2")
    sw.answer(leg2)
    sw.hangup("late", at=4.0)
    sw.hangup(leg2)
    sw.advance(9.0)  # a2 wrap-up (5 s) ends at 9
    assert sw.offers()[-1].variables["ctilink_call_id"] == sw.call_id("early")
    sw.answer(sw.leg_of("a2"))
    # busy delay ends at 32: a1 takes "later"
    sw.advance(32.0)
    assert sw.offers()[-1].variables == {
        "ctilink_call_id": sw.call_id("later"),
        "ctilink_role": "agent",
        "ctilink_agent_id": "a1",
    }


def test_job_error_without_channel_events_fails_the_offer(switch: Switch) -> None:
    switch.park("c1")
    leg = switch.leg_of("1001")
    switch.job(leg, "-ERR NORMAL_TEMPORARY_FAILURE\n")
    assert switch.of(nt.OfferResult)[-1].result is OfferOutcome.FAILED
    # the single agent is offered again (only choice), the call was never dropped
    assert len(switch.offers()) == 2
    assert switch.engine.call_view(switch.call_id("c1")).state is CallState.OFFERING


def test_ring_timeout_engine_gives_up_and_counts_no_answer() -> None:
    sw = make_switch(queues=[QueueConfig(name="support", ring_timeout_s=5)], max_no_answer=2, ring_grace_s=1)
    sw.login("1001")
    sw.park("c1")
    leg = sw.leg_of("1001")
    sw.ring(leg)
    effects = sw.advance(6.0)
    assert cmd.Hangup(leg, "NO_ANSWER") in effects.commands
    assert sw.of(nt.OfferResult)[-1].result is OfferOutcome.NO_ANSWER
    sw.hangup(leg, "ORIGINATOR_CANCEL")
    assert sw.engine.agent_view("1001").no_answer_streak == 1
    leg2 = sw.leg_of("1001")
    assert leg2 != leg
    # FreeSWITCH reports the timeout itself this time: job first, then hangup (as recorded)
    sw.job(leg2, "-ERR NO_ANSWER\n")
    sw.hangup(leg2, "NO_ANSWER")
    view = sw.engine.agent_view("1001")
    assert view.state is AgentState.NOT_READY and view.reason == "no-answer"
    assert view.no_answer_streak == 0
    assert sw.engine.call_view(sw.call_id("c1")).state is CallState.QUEUED


def test_unknown_queue_goes_to_default_route_never_dropped() -> None:
    sw = make_switch(queues=[QueueConfig(name="support"), QueueConfig(name="sales")])
    effects = sw.park("c1", queue="no-such-queue\r\nX: y")
    assert isinstance(effects.error, UnknownQueue)
    assert "no-such-queue" in str(effects.error) and "\r\n" not in str(effects.error).replace("\\r\\n", "")
    view = sw.engine.call_view(sw.call_id("c1"))
    assert view.queue == "support" and view.state is CallState.QUEUED  # default: first queue


def test_unknown_queue_default_route_extension() -> None:
    from ctilink.core import OverflowAction

    sw = make_switch(default_route=OverflowAction(kind="extension", target="9999", context="public"))
    sw.park("c1", queue="nope")
    assert cmd.Transfer("c1", "9999", context="public") in sw.commands
    record = sw.of(nt.CallEnded)[0].record
    assert record.disposition is Disposition.TRANSFERRED_OUT
    # later events for the transferred leg (it re-parks in the target extension) change nothing
    effects = sw.park("c1", queue="support")
    assert effects.commands == [] and effects.notifications == []
    sw.hangup("c1")
    assert len(sw.of(nt.CallEnded)) == 1


def test_priority_variable_and_classes() -> None:
    sw = make_switch(queues=[QueueConfig(name="support", priority_classes={"vip": 50})], agents=[agent("a")])
    sw.park("low", caller="1")
    sw.park("mid", caller="2", ctilink_priority="10", at=1.0)
    sw.park("vip", caller="3", ctilink_priority="vip", at=2.0)
    effects = sw.park("bad", caller="4", ctilink_priority="９", at=3.0)  # fullwidth digit: hostile
    assert isinstance(effects.error, InvalidValue)
    order = [w.call_id for w in sw.engine.snapshot().queue("support").waiting]
    assert order == [sw.call_id(u) for u in ("vip", "mid", "low", "bad")]
    sw.login("a")
    assert sw.offers()[-1].variables["ctilink_call_id"] == sw.call_id("vip")


def test_pre_answer_mode() -> None:
    sw = make_switch(queues=[QueueConfig(name="support", answer="pre-answer")])
    effects = sw.park("c1")
    assert cmd.PreAnswer("c1") in effects.commands and not sw.cmds(cmd.Answer)


def test_events_for_unknown_uuids_change_nothing(switch: Switch) -> None:
    before = switch.engine.snapshot()
    for item in (ChannelAnswered(uuid="ghost"), ChannelHungUp(uuid="ghost"), JobCompleted(job_uuid="x", body="+OK")):
        effects = switch.send(item)
        assert effects.commands == [] and effects.notifications == []
    assert switch.engine.snapshot() == before


def test_hangup_request_terminates() -> None:
    sw = make_switch()
    sw.park("c1")
    call_id = sw.call_id("c1")
    effects = sw.request(rq.HangupCall(call_id, cause="NORMAL_CLEARING"))
    assert effects.commands == [cmd.Hangup("c1", "NORMAL_CLEARING")]
    sw.hangup("c1")
    assert sw.record(call_id).record.disposition is Disposition.TERMINATED
    assert isinstance(sw.request(rq.HangupCall(call_id)).error, Exception)


def test_switch_shutdown_ends_calls_and_frees_agents(switch: Switch) -> None:
    switch.park("c1")
    switch.answer(switch.leg_of("1001"))
    switch.park("c2", caller="2")
    switch.send(SwitchShutdown())
    assert switch.engine.snapshot().calls == ()
    assert {n.record.disposition for n in switch.of(nt.CallEnded) if n.record.uuid == "c2"} == {Disposition.FAILED}
    assert switch.state("1001") == "wrap-up"


def test_an_auto_answer_queue_asks_the_agents_phone_to_answer_at_once() -> None:
    ids = seeded_ids(random.Random(0))  # uuids, as the daemon's: the renderer checks them
    switch = make_switch(queues=[QueueConfig(name="support", auto_answer=True)], id_factory=ids)
    switch.login("1001")
    (originate,) = [c for c in switch.park("cust-1").commands if isinstance(c, cmd.Originate)]
    assert originate.variables["sip_auto_answer"] == "true"
    # FreeSWITCH reads it from the originate's own variables (mod_sofia: Call-Info answer-after=0).
    assert render(originate).text.startswith("originate {") and "sip_auto_answer=true" in render(originate).text
    plain = make_switch()
    plain.login("1001")
    (ringing,) = [c for c in plain.park("cust-2").commands if isinstance(c, cmd.Originate)]
    assert "sip_auto_answer" not in ringing.variables
