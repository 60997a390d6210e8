"""Click-to-dial as the engine's own state machine (ctilink.core.click_to_dial).

Every path ends with no session left behind (``_no_session``), the agent freed and exactly one
``CallEnded`` whose record says what FreeSWITCH did. The leak cases (an agent originate seen only
as ``-ERR`` / ``CommandFailed``, a failed customer dial, an agent who never answers and a switch
that never says so) each left a session, and in the customer case an agent on-call for good,
before the session became the engine's.
"""

from __future__ import annotations

from pathlib import Path

import gevent.event
import pytest
from core_switch import Switch, agent, make_switch
from daemon_rig import daemon_config, running_switch

from ctilink import commands as cmd
from ctilink.core import QueueConfig
from ctilink.core import call_control as cc
from ctilink.core import click_to_dial as c2d
from ctilink.core import notifications as nt
from ctilink.core import requests as rq
from ctilink.core.click_to_dial import ClickToDial, ClickToDialRecord
from ctilink.core.errors import AgentUnavailable, DoNotCallError, InvalidValue
from ctilink.events import (
    ChannelAnswered,
    ChannelBridged,
    ChannelCreated,
    ChannelHungUp,
    ChannelParked,
    ChannelProgress,
    CommandFailed,
    JobCompleted,
    Resynced,
    SwitchShutdown,
)
from ctilink.service.callbacks import Callbacks
from ctilink.service.daemon import Daemon
from ctilink.testing.fake_switch import Endpoint

NODE = "fs1"
NUMBER = "+15551239999"
RING_S = 20  # the request's ring timeout; the engine's own timers add ring_grace_s (2 s)


def _switch(**config: object) -> Switch:
    config.setdefault("not_ready_reasons", ["lunch"])
    sw = make_switch(agents=[agent("1001")], queues=[QueueConfig(name="support", wrap_up_s=5)], **config)
    sw.login("1001")
    return sw


def _dial(sw: Switch, **kw: object) -> cmd.Originate:
    kw.setdefault("dial_template", "sofia/gateway/carrier/{number}")
    kw.setdefault("caller_id_number", "+15550001111")
    effects = sw.request(ClickToDial(agent_id="1001", number=NUMBER, ring_timeout_s=RING_S, **kw))  # type: ignore[arg-type]
    assert effects.error is None, effects.error
    (originate,) = sw.offers(effects)
    return originate


def _originate(sw: Switch, uuid: str) -> cmd.Originate:
    return next(o for o in sw.offers() if o.uuid == uuid)


def _ev(sw: Switch, kind: type, uuid: str, **kw: object) -> None:
    sw.send(kind(uuid=uuid, node=NODE, variables=_originate(sw, uuid).variables, **kw))


def _job(sw: Switch, uuid: str, body: str) -> None:
    sw.send(JobCompleted(job_uuid=_originate(sw, uuid).job_uuid, body=body, node=NODE))


def _answer_agent(sw: Switch, leg: str, job: bool = True) -> cmd.Originate:
    """The agent picks up (and their originate returns): the customer is dialled."""
    before = len(sw.offers())
    _ev(sw, ChannelCreated, leg)
    _ev(sw, ChannelAnswered, leg)
    if job:
        _job(sw, leg, f"+OK {leg}\n")
    _ev(sw, ChannelParked, leg)
    (customer,) = sw.offers()[before:]
    return customer


def _connect(sw: Switch) -> tuple[str, str]:
    """A session up to the bridge the switch confirms: (agent leg, customer leg)."""
    leg = _dial(sw).uuid
    customer = _answer_agent(sw, leg).uuid
    _ev(sw, ChannelProgress, customer)
    _ev(sw, ChannelAnswered, customer)
    _job(sw, customer, f"+OK {customer}\n")
    assert [(b.uuid, b.other_uuid) for b in sw.cmds(cmd.Bridge)] == [(leg, customer)]
    _ev(sw, ChannelBridged, leg, other_uuid=customer)
    assert _session(sw).state is c2d.ClickToDialState.BRIDGED
    return leg, customer


def _session(sw: Switch) -> c2d.Session:
    (session,) = sw.engine.state.c2d.by_id.values()
    return session


def _no_session(sw: Switch) -> None:
    sessions = sw.engine.state.c2d
    assert cc.sessions(sw.engine) == 0
    assert (sessions.by_id, sessions.by_uuid, sessions.by_job) == ({}, {}, {})
    assert sw.engine.agent_profile("1001") is not None and sw.engine.state.agents["1001"].click_to_dial is None
    assert sw.engine.next_deadline() is None, "a click-to-dial timer outlived its session"


def _record(sw: Switch) -> ClickToDialRecord:
    (ended,) = sw.of(nt.CallEnded)
    assert isinstance(ended.record, ClickToDialRecord)
    return ended.record


def _hangups(sw: Switch) -> list[str]:
    return [h.uuid for h in sw.cmds(cmd.Hangup)]


def _states(sw: Switch) -> list[tuple[str, str, str | None]]:
    return [(n.old.value, n.new.value, n.reason) for n in sw.of(nt.AgentStateChanged) if n.agent_id == "1001"][1:]


# ---------------------------------------------------------------------------------- happy paths


def test_agent_answers_customer_dialled_with_tagged_legs_bridged_then_recorded() -> None:
    sw = _switch()
    first = _dial(sw)
    call_id = first.variables["ctilink_call_id"]
    assert first.variables == {
        "ctilink_call_id": call_id,
        "ctilink_role": "c2d-agent",
        "ctilink_agent_id": "1001",
        "ctilink_click_to_dial": call_id,
    }
    assert first.dial_string == "user/1001" and first.caller_id_number == "15551239999"
    assert sw.state("1001") == "on-call" and sw.engine.agent_view("1001").reason == "click-to-dial"
    # Out of routing while their own phone rings: a caller arriving now is not offered to them.
    sw.park("c1")
    assert sw.offers()[-1] is first
    customer = _answer_agent(sw, first.uuid, job=False)
    assert customer.variables == {
        "ctilink_call_id": call_id,
        "ctilink_role": "c2d-customer",
        "ctilink_click_to_dial": call_id,
    }
    assert customer.dial_string == "sofia/gateway/carrier/15551239999"
    assert customer.caller_id_number == "+15550001111" and customer.node == NODE
    _ev(sw, ChannelAnswered, customer.uuid)
    _job(sw, customer.uuid, f"+OK {customer.uuid}\n")
    assert not sw.cmds(cmd.Bridge), "bridged before the agent's originate returned"
    _job(sw, first.uuid, f"+OK {first.uuid}\n")  # the later of the two returns sends the bridge
    assert [(b.uuid, b.other_uuid) for b in sw.cmds(cmd.Bridge)] == [(first.uuid, customer.uuid)]
    _ev(sw, ChannelBridged, first.uuid, other_uuid=customer.uuid)
    sw.advance(100.0)
    # The customer hangs up first: FreeSWITCH ends the bridged agent leg itself.
    _ev(sw, ChannelHungUp, customer.uuid, cause="NORMAL_CLEARING")
    assert _hangups(sw) == [] and sw.state("1001") == "on-call"
    _ev(sw, ChannelHungUp, first.uuid, cause="NORMAL_CLEARING")
    assert _hangups(sw) == []
    record = _record(sw)
    assert (record.call_id, record.uuid, record.node) == (call_id, customer.uuid, NODE)
    assert (record.direction, record.origin, record.outcome.value, record.disposition.value) == (
        "outbound",
        "click-to-dial",
        "answered",
        "answered",
    )
    assert record.customer_number == record.caller_number == record.destination_number == NUMBER
    assert record.talk_s == pytest.approx(100.0) and record.caller_id_number == "+15550001111"
    (offer,) = record.offers
    assert (offer.agent_id, offer.uuid, offer.result.value if offer.result else None) == (
        "1001",
        first.uuid,
        "answered",
    )
    # Freed without wrap-up; then the waiting caller is offered to them.
    assert _states(sw) == [
        ("available", "on-call", "click-to-dial"),
        ("on-call", "available", "click-to-dial-ended"),
        ("available", "reserved", "support"),
    ]
    queue_offer = sw.offers()[-1]
    assert queue_offer.variables["ctilink_role"] == "agent" and queue_offer.dial_string == "user/1001"
    assert sw.engine.agent_view("1001").talk_time_s == pytest.approx(100.0)
    assert sw.engine.state.c2d.by_id == {}


def test_agent_hangs_up_first_the_customer_is_reaped_after_the_grace() -> None:
    sw = _switch()
    leg, customer = _connect(sw)
    _ev(sw, ChannelHungUp, leg, cause="NORMAL_CLEARING")
    assert sw.state("1001") == "available"  # their phone is free: so are they
    assert _hangups(sw) == []  # FreeSWITCH ends the bridged partner itself
    sw.advance(sw.now + 2.0)  # partner_hangup_grace_s
    assert _hangups(sw) == [customer]
    _ev(sw, ChannelHungUp, customer, cause="NORMAL_CLEARING")
    assert _record(sw).outcome is c2d.Outcome.ANSWERED
    _no_session(sw)


def test_the_originates_job_stands_in_for_a_lost_answer() -> None:
    sw = _switch()
    leg = _dial(sw).uuid
    _job(sw, leg, f"+OK {leg}\n")  # no CHANNEL_ANSWER came
    (customer,) = sw.offers()[1:]
    _job(sw, customer.uuid, f"+OK {customer.uuid}\n")
    assert [b.other_uuid for b in sw.cmds(cmd.Bridge)] == [customer.uuid]


def test_a_not_ready_agent_goes_back_to_not_ready_with_the_same_reason() -> None:
    sw = _switch()
    assert sw.request(rq.AgentNotReady("1001", "lunch")).error is None
    leg, customer = _connect(sw)
    _ev(sw, ChannelHungUp, customer, cause="NORMAL_CLEARING")
    _ev(sw, ChannelHungUp, leg, cause="NORMAL_CLEARING")
    assert _states(sw)[-2:] == [("not-ready", "on-call", "click-to-dial"), ("on-call", "not-ready", "lunch")]
    _no_session(sw)


# ---------------------------------------------------------------------------------- the agent leg fails


@pytest.mark.parametrize(
    ("body", "outcome", "result"),
    [
        ("-ERR USER_NOT_REGISTERED\n", "failed", "failed"),
        ("-ERR NO_ANSWER\n", "agent-no-answer", "no-answer"),
        ("-ERR USER_BUSY\n", "agent-no-answer", "busy"),
    ],
)
def test_agent_originate_err_ends_the_session_and_frees_the_agent(body: str, outcome: str, result: str) -> None:
    sw = _switch()
    leg = _dial(sw).uuid
    _job(sw, leg, body)  # all FreeSWITCH says when no channel was ever made
    assert len(sw.offers()) == 1, "the customer was dialled for an agent who never answered"
    assert _hangups(sw) == []  # nothing exists to hang up
    record = _record(sw)
    assert (record.outcome.value, record.disposition.value) == (outcome, "failed")
    assert record.offers[0].result is not None and record.offers[0].result.value == result
    assert record.end_reason == body.split()[1]
    assert sw.state("1001") == "available"
    _no_session(sw)


def test_agent_originate_never_sent_ends_the_session() -> None:
    sw = _switch()
    first = _dial(sw)
    sw.send(CommandFailed(command="Originate", reason="EslDisconnected", job_uuid=first.job_uuid))
    assert len(sw.offers()) == 1 and _hangups(sw) == []
    record = _record(sw)
    assert record.outcome is c2d.Outcome.FAILED and record.offers[0].result is not None
    assert record.offers[0].result.value == "not-sent"
    assert sw.state("1001") == "available"
    _no_session(sw)


def test_agent_leg_hangup_then_err_is_one_end() -> None:
    sw = _switch()
    leg = _dial(sw).uuid
    _ev(sw, ChannelCreated, leg)
    _ev(sw, ChannelHungUp, leg, cause="NO_ANSWER", sip_code=480)
    _job(sw, leg, "-ERR NO_ANSWER\n")  # FreeSWITCH's order: the hangup, then the job
    assert _record(sw).outcome is c2d.Outcome.AGENT_NO_ANSWER
    _no_session(sw)


def test_agent_never_answers_and_the_switch_never_says_so_ring_timer_fires() -> None:
    sw = _switch()
    leg = _dial(sw).uuid
    _ev(sw, ChannelCreated, leg)
    sw.advance(RING_S + 1.9)
    assert _hangups(sw) == []
    sw.advance(RING_S + 2.0)  # ring timeout + ring_grace_s
    assert _hangups(sw) == [leg] and sw.state("1001") == "on-call"  # until the phone stops ringing
    _ev(sw, ChannelHungUp, leg, cause="ORIGINATOR_CANCEL")
    record = _record(sw)
    assert record.outcome is c2d.Outcome.AGENT_NO_ANSWER and record.end_reason == "ring-timeout"
    assert len(sw.offers()) == 1 and sw.state("1001") == "available"
    _no_session(sw)


def test_a_leg_that_never_confirms_its_end_is_forgotten_and_killed_on_sight() -> None:
    sw = _switch()
    leg = _dial(sw).uuid
    sw.advance(RING_S + 2.0)
    assert _hangups(sw) == [leg]
    sw.advance(RING_S + 2.0 + 10.0)  # cancel_grace_s: the cleanup timer
    assert _record(sw).outcome is c2d.Outcome.AGENT_NO_ANSWER
    assert sw.state("1001") == "available"
    _no_session(sw)
    sw.send(ChannelAnswered(uuid=leg, node=NODE, variables=_originate(sw, leg).variables))
    assert _hangups(sw) == [leg, leg]  # a zombie: it answered after we gave up on it


def test_agent_answering_after_the_ring_timeout_is_hung_up_again() -> None:
    sw = _switch()
    leg = _dial(sw).uuid
    sw.advance(RING_S + 2.0)
    _ev(sw, ChannelAnswered, leg)  # the race: it answered as we hung up
    assert _hangups(sw) == [leg, leg] and len(sw.offers()) == 1
    _ev(sw, ChannelHungUp, leg, cause="NORMAL_CLEARING")
    assert _record(sw).outcome is c2d.Outcome.AGENT_NO_ANSWER
    _no_session(sw)


# ---------------------------------------------------------------------------------- the customer dial fails


@pytest.mark.parametrize(
    ("events", "outcome"),
    [
        ([("job", "-ERR NORMAL_TEMPORARY_FAILURE\n")], "failed"),  # no channel: only the job says so
        ([("hangup", "NO_ANSWER"), ("job", "-ERR NO_ANSWER\n")], "customer-no-answer"),
        ([("hangup", "USER_BUSY"), ("job", "-ERR USER_BUSY\n")], "customer-no-answer"),
        ([("hangup", "UNALLOCATED_NUMBER"), ("job", "-ERR UNALLOCATED_NUMBER\n")], "failed"),
        ([("not-sent", "")], "failed"),
    ],
)
def test_customer_dial_fails_the_agent_leg_is_hung_up_and_the_agent_freed(
    events: list[tuple[str, str]], outcome: str
) -> None:
    sw = _switch()
    leg = _dial(sw).uuid
    customer = _answer_agent(sw, leg)
    for kind, value in events:
        if kind == "job":
            _job(sw, customer.uuid, value)
        elif kind == "hangup":
            _ev(sw, ChannelCreated, customer.uuid)
            _ev(sw, ChannelHungUp, customer.uuid, cause=value)
        else:
            sw.send(CommandFailed(command="Originate", reason="-ERR refused", job_uuid=customer.job_uuid, node=NODE))
    assert _hangups(sw) == [leg]  # the agent's answered phone is not left parked
    assert sw.state("1001") == "on-call"  # until the switch confirms their leg is gone
    _ev(sw, ChannelHungUp, leg, cause="NORMAL_CLEARING")
    record = _record(sw)
    assert (record.outcome.value, record.disposition.value, record.answered_at) == (outcome, "failed", None)
    assert record.offers[0].result is not None and record.offers[0].result.value == "answered"
    assert not sw.cmds(cmd.Bridge) and sw.state("1001") == "available"
    _no_session(sw)


def test_customer_never_answers_and_the_switch_never_says_so_dial_timer_fires() -> None:
    sw = _switch()
    leg = _dial(sw).uuid
    customer = _answer_agent(sw, leg).uuid
    _ev(sw, ChannelProgress, customer)
    sw.advance(sw.now + RING_S + 2.0)
    assert sorted(_hangups(sw)) == sorted([leg, customer])
    _ev(sw, ChannelHungUp, customer, cause="ORIGINATOR_CANCEL")
    _ev(sw, ChannelHungUp, leg, cause="NORMAL_CLEARING")
    record = _record(sw)
    assert record.outcome is c2d.Outcome.CUSTOMER_NO_ANSWER and record.end_reason == "dial-timeout"
    _no_session(sw)


def test_agent_hangs_up_while_the_customer_rings() -> None:
    sw = _switch()
    leg = _dial(sw).uuid
    customer = _answer_agent(sw, leg).uuid
    _ev(sw, ChannelProgress, customer)
    _ev(sw, ChannelHungUp, leg, cause="NORMAL_CLEARING")
    assert _hangups(sw) == [customer] and sw.state("1001") == "available"
    _ev(sw, ChannelHungUp, customer, cause="ORIGINATOR_CANCEL")
    _job(sw, customer, "-ERR ORIGINATOR_CANCEL\n")
    assert _record(sw).outcome is c2d.Outcome.CUSTOMER_NO_ANSWER
    _no_session(sw)


def test_a_refused_bridge_ends_the_session() -> None:
    sw = _switch()
    leg = _dial(sw).uuid
    customer = _answer_agent(sw, leg).uuid
    _ev(sw, ChannelAnswered, customer)
    _job(sw, customer, f"+OK {customer}\n")
    sw.send(CommandFailed(command="Bridge", reason="-ERR Invalid uuid", uuid=leg, node=NODE))
    assert sorted(_hangups(sw)) == sorted([leg, customer])
    _ev(sw, ChannelHungUp, leg, cause="NORMAL_CLEARING")
    _ev(sw, ChannelHungUp, customer, cause="NORMAL_CLEARING")
    record = _record(sw)
    assert record.outcome is c2d.Outcome.FAILED and record.end_reason == "bridge-failed"
    _no_session(sw)


# ---------------------------------------------------------------------------------- refused requests


def test_refused_requests_change_nothing() -> None:
    sw = _switch()
    sw.request(rq.AddListEntry(list_name="dnc", number="+15557770000"))
    for req, error in [
        (ClickToDial(agent_id="1001", number="+15557770000"), DoNotCallError),
        (ClickToDial(agent_id="1001", number=NUMBER, dial_template="bad template {number}"), InvalidValue),
        (ClickToDial(agent_id="1001", number=NUMBER, ring_timeout_s=0), InvalidValue),
    ]:
        effects = sw.request(req)
        assert isinstance(effects.error, error) and effects.commands == []
    _dial(sw)
    busy = sw.request(ClickToDial(agent_id="1001", number=NUMBER))  # already on one
    assert isinstance(busy.error, AgentUnavailable) and busy.commands == []
    assert cc.sessions(sw.engine) == 1


# ---------------------------------------------------------------------------------- the switch goes away


def test_a_bridged_session_survives_a_reconnect_an_unbridged_one_is_ended() -> None:
    sw = _switch()
    leg, customer = _connect(sw)
    sw.send(ChannelAnswered(uuid=leg, node=NODE, resync=True, variables=_originate(sw, leg).variables))
    sw.send(Resynced(node=NODE, uuids=[leg, customer]))
    assert _hangups(sw) == [] and _session(sw).state is c2d.ClickToDialState.BRIDGED
    # The customer vanished while we were away; the agent leg is still there.
    sw.send(Resynced(node=NODE, uuids=[leg]))
    assert _hangups(sw) == [] and _session(sw).state is c2d.ClickToDialState.ENDING
    sw.advance(sw.now + 2.0)
    assert _hangups(sw) == [leg]  # never the customer: the switch no longer has it
    _ev(sw, ChannelHungUp, leg, cause="NORMAL_CLEARING")
    assert _record(sw).outcome is c2d.Outcome.ANSWERED
    _no_session(sw)

    sw2 = _switch()
    leg = _dial(sw2).uuid
    customer = _answer_agent(sw2, leg).uuid
    _ev(sw2, ChannelProgress, customer)
    sw2.send(Resynced(node=NODE, uuids=[leg, customer]))
    assert sorted(_hangups(sw2)) == sorted([leg, customer])  # their originates were the old link's
    _ev(sw2, ChannelHungUp, leg, cause="NORMAL_CLEARING")
    _ev(sw2, ChannelHungUp, customer, cause="ORIGINATOR_CANCEL")
    record = _record(sw2)
    assert record.outcome is c2d.Outcome.FAILED and record.end_reason == "reconnected"
    _no_session(sw2)


def test_a_switch_shutdown_ends_the_session_without_hanging_anything_up() -> None:
    sw = _switch()
    _connect(sw)
    sw.send(SwitchShutdown(node=NODE))
    assert _hangups(sw) == [] and sw.state("1001") == "available"
    assert _record(sw).end_reason == "switch-shutdown"
    _no_session(sw)


def test_a_restart_adopts_a_bridged_pair_and_hangs_up_unbridged_legs() -> None:
    sw = _switch()
    agent_vars = {"ctilink_call_id": "c2d-1", "ctilink_role": "c2d-agent", "ctilink_agent_id": "1001"}
    customer_vars = {"ctilink_call_id": "c2d-1", "ctilink_role": "c2d-customer"}
    ringing = {"ctilink_call_id": "c2d-2", "ctilink_role": "c2d-agent", "ctilink_agent_id": "1001"}
    for uuid, variables in (("a1", agent_vars), ("k1", customer_vars), ("a2", ringing)):
        sw.send(ChannelCreated(uuid=uuid, node=NODE, direction="outbound", variables=variables, resync=True))
    for uuid, variables in (("a1", agent_vars), ("k1", customer_vars)):
        sw.send(ChannelAnswered(uuid=uuid, node=NODE, variables=variables, resync=True))
    sw.send(ChannelBridged(uuid="a1", other_uuid="k1", node=NODE, variables=agent_vars, resync=True))
    sw.send(Resynced(node=NODE, uuids=["a1", "k1", "a2"], applications={"a1": "uuid_bridge", "k1": "uuid_bridge"}))
    # Not an ACD agent leg without its customer, nor an inbound caller: taken back as it is.
    assert _hangups(sw) == ["a2"] and sw.of(nt.CallArrived) == []
    assert _session(sw).state is c2d.ClickToDialState.BRIDGED
    assert sw.state("1001") == "on-call" and sw.engine.agent_view("1001").reason == "click-to-dial"
    sw.send(ChannelHungUp(uuid="k1", node=NODE, cause="NORMAL_CLEARING", variables=customer_vars))
    sw.send(ChannelHungUp(uuid="a1", node=NODE, cause="NORMAL_CLEARING", variables=agent_vars))
    record = _record(sw)
    assert (record.call_id, record.outcome) == ("c2d-1", c2d.Outcome.ANSWERED)
    assert sw.state("1001") == "available"
    _no_session(sw)


# ---------------------------------------------------------------------------------- the table and the docs


def test_every_state_but_ended_has_a_way_out_and_timers_live_in_reachable_states() -> None:
    S = c2d.ClickToDialState
    for state, steps in c2d.TRANSITIONS.items():
        assert state is S.ENDED or any(step.target is not state for step in steps.values()), state
        if state is not S.ENDED:
            assert c2d.Trigger.SWITCH_GONE in steps, f"{state} must end when its node goes"
    for timer, spec in c2d.TIMERS.items():
        assert spec.fires in c2d.TRANSITIONS[spec.armed_in], timer


def test_docs_show_the_transition_table() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "engine.md").read_text()
    assert c2d.doc_table() in doc, "the click-to-dial table in docs/engine.md is out of date"


# ---------------------------------------------------------------------------------- through the daemon


def test_through_the_daemon_and_the_fake_switch(tmp_path: Path) -> None:
    """Real sockets: the bridge waits for both originates (no ORIGINATOR_CANCEL), the record reaches
    the store, and a failed customer dial hangs the agent's phone up and frees them."""
    switches = running_switch()
    switch = next(switches)
    daemon = Daemon.live(daemon_config(switch, tmp_path, ["1001"]))
    daemon.callbacks = Callbacks()
    ended: list[ClickToDialRecord] = []
    arrived = gevent.event.Event()

    def on_ended(note: nt.CallEnded) -> None:
        assert isinstance(note.record, ClickToDialRecord)
        ended.append(note.record)
        arrived.set()

    def dial() -> None:
        request = ClickToDial("1001", NUMBER, "sofia/gateway/carrier/{number}", "+15550001111", None, 10)
        assert daemon.submit(request).get(timeout=5).error is None

    def roles() -> dict[str, str]:
        return {ch.variables.get("ctilink_role", ""): uuid for uuid, ch in switch.channels.items()}

    daemon.callbacks.on(nt.CallEnded, on_ended)
    daemon.start()
    try:
        assert daemon.links[0].conn.wait_connected(5)
        assert daemon.submit(rq.AgentLogin("1001")).get(timeout=5).error is None
        dial()
        switch.wait_for_command(lambda t: t.startswith("api uuid_bridge"), timeout=5)
        assert sorted(body.split()[0] for body in switch.wait_for_jobs(2)) == ["+OK", "+OK"]
        assert set(roles()) >= {"c2d-agent", "c2d-customer"}
        assert switch.hangup(roles()["c2d-customer"])  # FreeSWITCH ends the bridged agent leg
        assert arrived.wait(5), "CallEnded never arrived"
        assert [(r.outcome.value, r.disposition.value) for r in ended] == [("answered", "answered")]
        daemon.writer.flush()
        stored = daemon.store.get_call_record(ended[0].call_id)
        assert stored is not None and stored.disposition == "answered"
        assert (stored.data["outcome"], stored.data["direction"], stored.data["origin"]) == (
            "answered",
            "outbound",
            "click-to-dial",
        )
        assert daemon.engine.agent_view("1001").state.value == "available"
        assert cc.sessions(daemon.engine) == 0

        arrived.clear()
        switch.set_endpoint("sofia/gateway/carrier/", Endpoint("fail"))
        dial()
        assert arrived.wait(5), "a failed customer dial was never recorded"
        assert [r.outcome.value for r in ended] == ["answered", "failed"]
        assert roles() == {}, "the agent's phone was left off the hook"
        assert any(t.startswith("api uuid_kill") for t in switch.commands)
        assert daemon.engine.agent_view("1001").state.value == "available"
        assert cc.sessions(daemon.engine) == 0
    finally:
        daemon.stop()
        next(switches, None)
