"""Blind transfers: chain on the record, talk time per agent leg by leg."""

from __future__ import annotations

from core_switch import Switch, agent, make_switch

from ctilink import commands as cmd
from ctilink.core import CallState, Disposition, QueueConfig
from ctilink.core import notifications as nt
from ctilink.core import requests as rq
from ctilink.core.errors import AgentUnavailable, CallNotConnected, InvalidValue, UnknownQueue
from ctilink.events import ChannelParked


def _setup() -> Switch:
    sw = make_switch(
        agents=[agent("a", {"t1": 1}), agent("b", {"t2": 1})],
        queues=[
            QueueConfig(name="tier1", required_skills={"t1": 1}, wrap_up_s=3),
            QueueConfig(name="tier2", required_skills={"t2": 1}, wrap_up_s=3),
        ],
    )
    sw.login("a", "b")
    sw.park("c1", queue="tier1")
    sw.answer(sw.leg_of("a"), at=2.0)
    return sw


def test_transfer_to_queue_attributes_talk_per_leg() -> None:
    sw = _setup()
    call_id = sw.call_id("c1")
    a_leg = sw.leg_of("a")
    sw.request(rq.AgentNotReady("b", "break"))
    effects = sw.send(rq.TransferCall(call_id, queue="tier2"), at=12.0)
    assert effects.commands[:2] == [cmd.Transfer("c1", "park", dialplan="inline"), cmd.Hangup(a_leg, "NORMAL_CLEARING")]
    assert sw.state("a") == "wrap-up"
    assert sw.engine.call_view(call_id).state is CallState.QUEUED
    # the switch confirms the re-park: hold music again
    assert sw.send(ChannelParked(uuid="c1", variables={"ctilink_queue": "tier1"})).commands == [
        cmd.Playback("c1", "local_stream://moh")
    ]
    sw.hangup(a_leg)
    sw.send(rq.AgentReady("b"), at=20.0)
    b_leg = sw.leg_of("b")
    sw.answer(b_leg, at=21.0)
    sw.hangup("c1", at=51.0)
    sw.hangup(b_leg)
    sw.advance(60)
    record = sw.record(call_id).record
    talk = {o.agent_id: o.talk_s for o in record.offers if o.answered_at is not None}
    assert talk == {"a": 10.0, "b": 30.0}
    assert record.talk_s == 40.0 and record.wait_s == 2.0 + 9.0
    assert [(t.kind, t.target, t.from_agent_id, t.from_queue) for t in record.transfers] == [
        ("queue", "tier2", "a", "tier1")
    ]
    assert record.disposition is Disposition.ANSWERED and record.queue == "tier2"
    assert record.wrap_up_s == 6.0
    views = {v.agent_id: v.talk_time_s for v in sw.engine.snapshot().agents}
    assert views == {"a": 10.0, "b": 30.0}


def test_transfer_to_agent_and_fallback_to_queue() -> None:
    sw = _setup()
    call_id = sw.call_id("c1")
    effects = sw.send(rq.TransferCall(call_id, agent_id="b"), at=5.0)
    assert sw.offers(effects)[0].variables["ctilink_agent_id"] == "b"
    assert sw.of(nt.CallTransferred)[-1].kind == "agent"
    sw.fail_leg(sw.leg_of("b"), "NO_ANSWER")
    view = sw.engine.call_view(call_id)
    assert view.state is CallState.QUEUED and view.queue == "tier1"  # back to its queue, not lost
    assert isinstance(sw.request(rq.TransferCall(call_id, agent_id="a")).error, CallNotConnected)


def test_transfer_to_number_leaves_our_control() -> None:
    sw = _setup()
    call_id = sw.call_id("c1")
    effects = sw.send(rq.TransferCall(call_id, number="9999", context="public"), at=4.0)
    assert effects.commands[0] == cmd.Transfer("c1", "9999", context="public")
    assert sw.of(nt.CallDisconnected)[-1].disposition is Disposition.TRANSFERRED_OUT
    # FreeSWITCH parks the caller in 9999 with its old ctilink variables: not a new call
    assert sw.send(ChannelParked(uuid="c1", variables={"ctilink_queue": "tier1"})).notifications == []
    sw.hangup(sw.leg_of("a"))
    sw.advance(10)
    record = sw.record(call_id).record
    assert record.disposition is Disposition.TRANSFERRED_OUT and record.talk_s == 2.0
    assert record.transfers[0].kind == "number"


def test_bad_transfers_are_refused_and_change_nothing() -> None:
    sw = _setup()
    call_id = sw.call_id("c1")
    sw.request(rq.AgentNotReady("b", "break"))
    for req, kind in (
        (rq.TransferCall(call_id, queue="nope"), UnknownQueue),
        (rq.TransferCall(call_id, agent_id="b"), AgentUnavailable),
        (rq.TransferCall(call_id, number="1; hangup"), InvalidValue),
        (rq.TransferCall(call_id), InvalidValue),
        (rq.TransferCall(call_id, queue="tier2", number="1"), InvalidValue),
    ):
        effects = sw.request(req)
        assert isinstance(effects.error, kind), req
        assert effects.commands == []
    assert sw.engine.call_view(call_id).state is CallState.CONNECTED and sw.state("a") == "on-call"


def test_transfer_to_agent_outside_every_queue() -> None:
    sw = make_switch(
        agents=[agent("a", {"t1": 1}), agent("boss", {})], queues=[QueueConfig(name="tier1", required_skills={"t1": 1})]
    )
    sw.login("a", "boss")
    sw.park("c1", queue="tier1")
    sw.answer(sw.leg_of("a"))
    assert sw.request(rq.TransferCall(sw.call_id("c1"), agent_id="boss")).error is None
    sw.answer(sw.leg_of("boss"), at=3.0)
    assert sw.engine.call_view(sw.call_id("c1")).agent_id == "boss"
