"""Known failures of incumbent ACDs that ctilink must not have: one scenario each."""

from __future__ import annotations

import pytest
from core_switch import agent, make_switch

from ctilink import commands as cmd
from ctilink.core import Announcement, QueueConfig, Strategy
from ctilink.core import notifications as nt
from ctilink.core import requests as rq
from ctilink.core.errors import UnknownCall
from ctilink.events import ChannelAnswered, ChannelCreated, ChannelHungUp, EndpointRegistered


def test_ring_all_answer_while_other_leg_still_starting_no_stuck_no_zombie() -> None:
    sw = make_switch(
        agents=[agent("a"), agent("b")],
        queues=[QueueConfig(name="support", strategy=Strategy.RING_ALL, wrap_up_s=0)],
        cancel_grace_s=8,
    )
    sw.login("a", "b")
    sw.park("c1")
    legs = {o.variables["ctilink_agent_id"]: o.uuid for o in sw.offers()}
    sw.ring(legs["a"])
    effects = sw.answer(legs["a"], at=1.0)  # b's leg has not even been created yet
    assert cmd.Hangup(legs["b"], "LOSE_RACE") in effects.commands
    # the kill raced the channel's creation: it shows up now and is killed again, then even answers
    assert sw.send(ChannelCreated(uuid=legs["b"], variables=sw.agent_vars(legs["b"]))).commands == [
        cmd.Hangup(legs["b"], "LOSE_RACE")
    ]
    assert sw.send(ChannelAnswered(uuid=legs["b"], variables=sw.agent_vars(legs["b"]))).commands == [
        cmd.Hangup(legs["b"], "LOSE_RACE")
    ]
    assert sw.engine.call_view(sw.call_id("c1")).agent_id == "a"  # no second bridge
    assert sw.state("b") == "reserved"
    sw.park("c2", caller="2")
    assert len(sw.offers()) == 2, "b must not be rung again while its old leg may still ring"
    sw.hangup(legs["b"], "LOSE_RACE", at=2.0)
    assert sw.state("b") == "reserved" and sw.leg_of("b") != legs["b"]  # now rung for c2, once


def test_leg_that_never_reports_back_releases_agent_and_is_killed_on_sight() -> None:
    sw = make_switch(agents=[agent("a")], cancel_grace_s=5)
    sw.login("a")
    sw.park("c1")
    leg = sw.leg_of("a")
    sw.hangup("c1", "ORIGINATOR_CANCEL", at=1.0)
    assert sw.state("a") == "reserved"
    sw.advance(6.0)
    assert sw.state("a") == "available"  # not stuck
    effects = sw.send(ChannelAnswered(uuid=leg, variables=sw.agent_vars(leg)), at=7.0)
    assert effects.commands == [cmd.Hangup(leg, "LOSE_RACE")]  # a late zombie leg is killed
    assert sw.state("a") == "available"


def test_no_member_shown_after_its_call_ended() -> None:
    sw = make_switch(agents=[agent("a")])
    sw.login("a")
    sw.park("c1")
    sw.park("c2", caller="2")
    ids = [sw.call_id("c1"), sw.call_id("c2")]
    sw.hangup("c2", "ORIGINATOR_CANCEL", at=3.0)  # queued caller gives up
    sw.hangup("c1", "ORIGINATOR_CANCEL", at=4.0)  # ringing caller gives up
    snap = sw.engine.snapshot()
    assert snap.calls == () and snap.queue("support").waiting == ()
    for call_id in ids:
        with pytest.raises(UnknownCall):
            sw.engine.queue_position(call_id)
    assert {n.record.call_id: n.record.wait_s for n in sw.of(nt.CallEnded)} == {ids[1]: 3.0, ids[0]: 4.0}


def test_linear_unavailable_first_agent_does_not_halt_the_rest() -> None:
    sw = make_switch(
        agents=[agent("first", endpoints=["user/1"], track_presence=True), agent("second"), agent("third")],
        queues=[QueueConfig(name="support", strategy=Strategy.LINEAR, agent_order=["first", "second", "third"])],
    )
    sw.login("first", "second", "third")  # first's phone is not registered
    sw.park("c1")
    sw.park("c2", caller="2")
    assert [o.variables["ctilink_agent_id"] for o in sw.offers()] == ["second", "third"]
    sw.send(EndpointRegistered(user="1", realm="pbx", call_id="r"))
    sw.park("c3", caller="3")
    assert sw.offers()[-1].variables["ctilink_agent_id"] == "first"


def test_outbound_call_from_agent_phone_is_not_available() -> None:
    sw = make_switch(agents=[agent("a", endpoints=["user/1001"]), agent("b", endpoints=["user/1002"])])
    sw.login("a", "b")
    sw.send(
        ChannelCreated(
            uuid="out",
            channel_name="sofia/internal/1001@127.0.0.1:5072",
            caller_number="1001",
            destination_number="15557654321",
        )
    )
    sw.park("c1")
    assert sw.offers()[-1].variables["ctilink_agent_id"] == "b"
    assert sw.state("a") == "on-call"
    sw.send(ChannelHungUp(uuid="out"))
    assert sw.state("a") == "available"


def test_agent_answering_during_announcement_gets_no_dead_air() -> None:
    sw = make_switch(
        agents=[agent("a")],
        queues=[QueueConfig(name="support", announcement=Announcement(path="ivr/p{position}.wav", every_s=10))],
    )
    sw.login("a")
    sw.request(rq.AgentNotReady("a", "break"))
    sw.park("c1")
    assert cmd.Playback("c1", "ivr/p1.wav") in sw.advance(10).commands  # announcement now playing
    sw.request(rq.AgentReady("a"))
    effects = sw.answer_and_return(sw.leg_of("a"), at=11)
    assert effects.commands == [cmd.Break("c1", all=True), cmd.Bridge("c1", sw.leg_of("a"))]
    assert sw.advance(60).commands == []  # no announcement on a connected call


def test_removing_a_queue_loses_no_waiting_call_and_logs_nobody_out() -> None:
    sw = make_switch(
        agents=[agent("a", {"x": 1})],
        queues=[QueueConfig(name="support"), QueueConfig(name="x", required_skills={"x": 1})],
    )
    sw.login("a")
    sw.request(rq.AgentNotReady("a", "break"))
    sw.park("c1", queue="x")
    sw.request(rq.ReplaceQueues((QueueConfig(name="support"),)))
    view = sw.engine.call_view(sw.call_id("c1"))
    assert view.queue == "support" and sw.of(nt.CallOverflowed)[-1].reason == "queue-removed"
    assert sw.state("a") == "not-ready"
