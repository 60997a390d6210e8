"""Agent state machine, requests, presence and direct calls."""

from __future__ import annotations

import pytest
from core_switch import Switch, agent, make_switch

from ctilink.core import AgentState, QueueConfig
from ctilink.core import notifications as nt
from ctilink.core import requests as rq
from ctilink.core.agent import TRANSITIONS, AgentEvent, channel_user, registration_key, transition
from ctilink.core.errors import (
    AgentBusy,
    IllegalTransition,
    InvalidValue,
    NoCallForAgent,
    UnknownAgent,
    UnknownDisposition,
    UnknownReason,
    UnknownSkill,
)
from ctilink.events import (
    ChannelCreated,
    ChannelHeld,
    ChannelHungUp,
    ChannelUnheld,
    EndpointExpired,
    EndpointRegistered,
    EndpointUnregistered,
)


def test_table_covers_every_state_and_rejects_the_rest() -> None:
    assert set(TRANSITIONS) == set(AgentState)
    for state in AgentState:
        for event in AgentEvent:
            if event in TRANSITIONS[state]:
                assert transition(state, event, "a") is TRANSITIONS[state][event]
            else:
                with pytest.raises(IllegalTransition) as info:
                    transition(state, event, "a")
                assert state.value in str(info.value) and event.value in str(info.value)


def test_illegal_request_is_typed_error_and_changes_nothing() -> None:
    sw = make_switch()
    effects = sw.request(rq.AgentReady("1001"))  # logged out -> ready: not in the table
    assert isinstance(effects.error, IllegalTransition)
    assert effects.error.state == "logged-out" and effects.error.event == "ready"
    assert sw.state("1001") == "logged-out"
    assert isinstance(sw.request(rq.AgentLogout("1001")).error, IllegalTransition)
    assert isinstance(sw.request(rq.EndWrapUp("1001")).error, IllegalTransition)
    sw.login("1001")
    assert isinstance(sw.request(rq.AgentLogin("1001")).error, IllegalTransition)
    assert isinstance(sw.request(rq.AgentLogin("nobody")).error, UnknownAgent)


def test_not_ready_reasons_validated_and_ready_again(switch: Switch) -> None:
    effects = switch.request(rq.AgentNotReady("1001", "coffee"))
    assert isinstance(effects.error, UnknownReason) and switch.state("1001") == "available"
    switch.send(rq.AgentNotReady("1001", "lunch"), at=10.0)
    switch.send(rq.AgentNotReady("1001", "break"), at=12.0)  # change of reason is a change
    switch.send(rq.AgentReady("1001"), at=20.0)
    changes = [(n.old.value, n.new.value, n.reason, n.duration_s) for n in switch.of(nt.AgentStateChanged)][1:]
    assert changes == [
        ("available", "not-ready", "lunch", 10.0),
        ("not-ready", "not-ready", "break", 2.0),
        ("not-ready", "available", None, 8.0),
    ]
    # ready while available: idempotent, no notification
    assert switch.request(rq.AgentReady("1001")).notifications == []


def test_not_ready_parks_agent_out_of_routing(switch: Switch) -> None:
    switch.request(rq.AgentNotReady("1001", "break"))
    switch.park("c1")
    assert switch.offers() == []
    switch.request(rq.AgentReady("1001"))
    assert switch.leg_of("1001")


def test_pending_not_ready_applies_after_wrap_up(switch: Switch) -> None:
    switch.park("c1")
    leg = switch.leg_of("1001")
    switch.answer(leg)
    switch.request(rq.AgentNotReady("1001", "lunch"))
    assert switch.state("1001") == "on-call"
    assert switch.engine.agent_view("1001").pending_not_ready == "lunch"
    switch.hangup("c1", at=10.0)
    assert switch.state("1001") == "wrap-up"
    switch.park("c2", caller="2")  # must not be offered during wrap-up nor after
    switch.advance(15.0)
    view = switch.engine.agent_view("1001")
    assert view.state is AgentState.NOT_READY and view.reason == "lunch"
    assert len(switch.offers()) == 1
    last = switch.of(nt.AgentStateChanged)[-1]
    assert (last.old, last.new, last.duration_s) == (AgentState.WRAP_UP, AgentState.NOT_READY, 5.0)


def test_pending_not_ready_while_ringing_and_cancel_with_ready(switch: Switch) -> None:
    switch.park("c1")
    leg = switch.leg_of("1001")
    switch.request(rq.AgentNotReady("1001", "break"))
    switch.request(rq.AgentReady("1001"))  # changed mind: pending cleared
    switch.fail_leg(leg, "NO_ANSWER")
    changes = [(n.old.value, n.new.value) for n in switch.of(nt.AgentStateChanged)]
    assert ("reserved", "available") in changes and ("reserved", "not-ready") not in changes
    assert switch.engine.agent_view("1001").pending_not_ready is None
    assert len(switch.offers()) == 2  # the only agent, back to available, is offered the call again


def test_pending_logout_after_call(switch: Switch) -> None:
    switch.park("c1")
    leg = switch.leg_of("1001")
    switch.answer(leg)
    switch.request(rq.AgentLogout("1001"))
    assert switch.state("1001") == "on-call"
    switch.hangup("c1", at=4.0)
    switch.advance(20.0)
    assert switch.state("1001") == "logged-out"


def test_wrap_up_end_early_extend_and_disposition(switch: Switch) -> None:
    switch.park("c1")
    call_id = switch.call_id("c1")
    leg = switch.leg_of("1001")
    switch.answer(leg, at=1.0)
    assert isinstance(switch.request(rq.SetDisposition("1001", "bogus")).error, UnknownDisposition)
    switch.hangup("c1", at=4.0)
    switch.request(rq.ExtendWrapUp("1001", 10))
    assert switch.engine.agent_view("1001").wrap_up_until == 19.0
    for bad in (0, -1, float("nan"), 1e9):
        assert isinstance(switch.request(rq.ExtendWrapUp("1001", bad)).error, InvalidValue)
    switch.advance(10.0)  # the original 5 s deadline (9.0) no longer ends it
    assert switch.state("1001") == "wrap-up"
    switch.request(rq.SetDisposition("1001", "no-sale"))
    switch.send(rq.EndWrapUp("1001"), at=12.0)
    assert switch.state("1001") == "available"
    record = switch.record(call_id).record
    assert record.wrap_up_s == 8.0 and record.disposition_code == "no-sale"
    assert isinstance(switch.request(rq.SetDisposition("1001", "sale")).error, NoCallForAgent)


def test_logout_during_wrap_up_finishes_record(switch: Switch) -> None:
    switch.park("c1")
    switch.answer(switch.leg_of("1001"))
    switch.hangup("c1", at=2.0)
    switch.send(rq.AgentLogout("1001"), at=3.0)
    assert switch.state("1001") == "logged-out"
    assert switch.of(nt.CallEnded)[0].record.wrap_up_s == 1.0


def test_hold_is_a_flag_with_time_counted(switch: Switch) -> None:
    switch.park("c1")
    leg = switch.leg_of("1001")
    switch.answer(leg)
    switch.send(ChannelHeld(uuid=leg), at=2.0)
    assert switch.engine.agent_view("1001").on_hold and switch.state("1001") == "on-call"
    switch.send(ChannelUnheld(uuid=leg), at=5.0)
    switch.send(ChannelHeld(uuid="c1"), at=6.0)  # hold seen on the customer leg counts too
    switch.hangup("c1", at=7.0)
    switch.advance(20)
    record = switch.of(nt.CallEnded)[0].record
    assert record.hold_s == 4.0 and record.talk_s == 7.0


def test_config_changes_never_change_agent_state() -> None:
    sw = make_switch(
        agents=[agent("a", {"en": 5}), agent("b", {"en": 5})],
        queues=[QueueConfig(name="support", required_skills={"en": 3})],
    )
    sw.login("a", "b")
    sw.request(rq.AgentNotReady("b", "break"))
    sw.park("c1")
    sw.answer(sw.leg_of("a"))
    before = {a.agent_id: (a.state, a.reason, a.state_since) for a in sw.engine.snapshot().agents}
    seen = len(sw.notes)
    sw.request(rq.ReplaceQueues((QueueConfig(name="support", required_skills={"en": 9}), QueueConfig(name="new"))))
    sw.request(rq.UpsertAgent(agent("a", {"en": 9, "fr": 2})))
    sw.request(rq.UpsertAgent(agent("b", {}, name="Bee")))
    after = {a.agent_id: (a.state, a.reason, a.state_since) for a in sw.engine.snapshot().agents}
    assert before == after
    assert not [n for n in sw.notes[seen:] if isinstance(n, nt.AgentStateChanged)]
    # the call in progress is unaffected and ends normally
    sw.hangup("c1")
    assert sw.of(nt.CallEnded) == [] and sw.state("a") == "wrap-up"


def test_upsert_unknown_skill_and_remove_agent_rules() -> None:
    sw = make_switch(skills=["en", "fr"])
    assert isinstance(sw.request(rq.UpsertAgent(agent("x", {"de": 3}))).error, UnknownSkill)
    sw.login("1001")
    assert isinstance(sw.request(rq.RemoveAgent("1001")).error, AgentBusy)
    sw.request(rq.AgentLogout("1001"))
    assert sw.request(rq.RemoveAgent("1001")).error is None
    assert isinstance(sw.request(rq.AgentLogin("1001")).error, UnknownAgent)


def test_registration_key_mapping() -> None:
    assert registration_key("user/1001", None) == ("1001", None)
    assert registration_key("user/1001", "pbx.example") == ("1001", "pbx.example")
    assert registration_key("user/1001@other.example", "pbx.example") == ("1001", "other.example")
    assert registration_key("sofia/internal/sip:1001@10.0.0.5:5060", None) == ("1001", "10.0.0.5")
    assert registration_key("sofia/gateway/carrier/15551234567", None) is None
    assert registration_key("loopback/7000", None) is None
    assert channel_user("sofia/internal/1001@127.0.0.1:5072") == ("internal", "1001")
    assert channel_user("loopback/7200-a") is None


def _reg(kind: type, user: str = "1001", realm: str = "127.0.0.1", call_id: str = "reg-1") -> object:
    return kind(user=user, realm=realm, call_id=call_id, contact=f"sip:{user}@127.0.0.1:5072")


def test_unregistered_endpoint_never_offered() -> None:
    sw = make_switch(presence_tracking=True)
    sw.login("1001")
    sw.park("c1")
    assert sw.offers() == [], "phone not registered: not offered"
    effects = sw.send(_reg(EndpointRegistered))
    assert sw.of(nt.AgentPresenceChanged, effects.notifications)[0].registered is True
    assert sw.leg_of("1001")
    sw.fail_leg(sw.leg_of("1001"), "NO_ANSWER")
    sw.send(_reg(EndpointUnregistered))
    assert sw.engine.agent_view("1001").endpoints_registered == (False,)
    offers = len(sw.offers())
    sw.advance(100)
    assert len(sw.offers()) == offers
    sw.send(_reg(EndpointRegistered, call_id="reg-2"))
    sw.send(_reg(EndpointExpired, call_id="reg-2"))
    assert sw.engine.agent_view("1001").endpoints_registered == (False,)


def test_presence_per_agent_override_and_fallback_endpoint() -> None:
    sw = make_switch(agents=[agent("a", endpoints=["user/2001", "sofia/gateway/gw/15550001"], track_presence=True)])
    sw.login("a")
    sw.park("c1")
    assert sw.offers()[0].dial_string == "sofia/gateway/gw/15550001"  # desk phone down: mobile
    sw.hangup("c1")
    sw.hangup(sw.leg_of("a"), "ORIGINATOR_CANCEL")
    sw.send(_reg(EndpointRegistered, user="2001"))
    sw.park("c2")
    assert sw.offers()[-1].dial_string == "user/2001"


def test_direct_call_on_agent_phone_makes_agent_busy(switch: Switch) -> None:
    switch.send(ChannelCreated(uuid="private", channel_name="sofia/internal/1001@127.0.0.1:5072"), at=1.0)
    view = switch.engine.agent_view("1001")
    assert view.state is AgentState.ON_CALL and view.reason == "direct-call" and not view.offerable
    switch.park("c1")
    assert switch.offers() == []
    # a lookalike on another profile (an outside caller spoofing 1001) is not the agent's phone
    switch.send(ChannelCreated(uuid="spoof", channel_name="sofia/external/1001@203.0.113.9"))
    assert switch.engine.agent_view("1001").foreign_channels == 1
    switch.send(ChannelHungUp(uuid="private"), at=9.0)
    ended, offered = switch.of(nt.AgentStateChanged)[-2:]
    assert (ended.old, ended.new, ended.reason, ended.duration_s) == (
        AgentState.ON_CALL,
        AgentState.AVAILABLE,
        "direct-call-ended",
        8.0,
    )
    assert offered.new is AgentState.RESERVED and switch.leg_of("1001")


def test_direct_call_while_not_ready_is_tracked_without_state_change(switch: Switch) -> None:
    switch.request(rq.AgentNotReady("1001", "break"))
    switch.send(ChannelCreated(uuid="out", channel_name="sofia/internal/1001@127.0.0.1:5072"))
    assert switch.state("1001") == "not-ready"
    switch.request(rq.AgentReady("1001"))
    assert switch.state("1001") == "on-call"  # still on that private call
    switch.send(ChannelHungUp(uuid="out"))
    assert switch.state("1001") == "available"


def test_requests_for_unknown_names_are_typed(switch: Switch) -> None:
    for req, kind in (
        (rq.AgentNotReady("ghost", "break"), UnknownAgent),
        (rq.EndWrapUp("ghost"), UnknownAgent),
        (rq.SetDisposition("ghost", "sale"), UnknownAgent),
    ):
        effects = switch.request(req)
        assert isinstance(effects.error, kind)
        assert isinstance(effects.notifications[0], nt.InputRejected)


def test_first_state_change_lasts_from_the_engines_first_input_not_from_zero() -> None:
    """The daemon's clock is Unix time: the first AgentStateChanged once carried it as duration_s."""
    sw = make_switch()
    sw.now = 1_764_000_000.0
    effects = sw.request(rq.AgentLogin("1001"))
    [change] = [n for n in effects.notifications if isinstance(n, nt.AgentStateChanged)]
    assert change.duration_s == 0.0
    sw.now += 30.0
    effects = sw.request(rq.AgentNotReady("1001", "break"))
    [change] = [n for n in effects.notifications if isinstance(n, nt.AgentStateChanged)]
    assert change.duration_s == 30.0
