"""A resync after a restart: channels carrying ``ctilink_*`` variables become the calls they are.

One test per row of the table in ``ctilink.core.adoption``: bridged, answered but not bridged,
waiting, running something else, ringing, orphaned; and the agent's own session around it
(not ready comes back after the call, an agent without a session logs out after it).
"""

from __future__ import annotations

from core_switch import Switch, agent, make_switch

from ctilink import commands as cmd
from ctilink.core import Disposition, QueueConfig
from ctilink.core import notifications as nt
from ctilink.core import requests as rq
from ctilink.events import ChannelAnswered, ChannelBridged, ChannelCreated, ChannelParked, ChannelProgress, Resynced

CALL_ID = "call-from-before"


def _customer(uuid: str = "cust", call_id: str = CALL_ID, **extra: str) -> dict[str, str]:
    return {"ctilink_queue": "support", "ctilink_call_id": call_id, **extra}


def _leg_vars(agent_id: str, call_id: str = CALL_ID) -> dict[str, str]:
    return {"ctilink_call_id": call_id, "ctilink_role": "agent", "ctilink_agent_id": agent_id}


def _resync(
    sw: Switch,
    channels: list[tuple[str, dict[str, str], str, str | None]],
    applications: dict[str, str],
    also: tuple[str, ...] = (),
) -> None:
    """channels: (uuid, variables, "answered"/"ringing"/"parked", bridged partner); ``also``: more
    uuids the marker lists (channels whose resync events were sent already)."""
    for uuid, variables, _, _ in channels:
        direction = "outbound" if variables.get("ctilink_role") == "agent" else "inbound"
        sw.send(
            ChannelCreated(uuid=uuid, direction=direction, caller_number="15550100", variables=variables, resync=True)
        )
    for uuid, variables, state, _ in channels:
        if state == "ringing":
            sw.send(ChannelProgress(uuid=uuid, variables=variables, resync=True))
        else:
            sw.send(ChannelAnswered(uuid=uuid, variables=variables, resync=True))
        if state == "parked":
            sw.send(ChannelParked(uuid=uuid, variables=variables, resync=True))
    for uuid, variables, _, partner in channels:
        if partner is not None and variables.get("ctilink_role") != "agent":
            sw.send(ChannelBridged(uuid=uuid, other_uuid=partner, variables=variables, resync=True))
    sw.send(Resynced(uuids=[c[0] for c in channels] + list(also), applications=applications))


def _switch(**kw: object) -> Switch:
    return make_switch(agents=[agent("a", **kw), agent("b", **kw)], queues=[QueueConfig(name="support", wrap_up_s=0)])


def test_a_bridged_call_is_taken_back_as_connected_and_recorded_when_it_ends() -> None:
    sw = _switch()
    sw.login("a", "b")
    start = len(sw.commands)
    _resync(sw, [("cust", _customer(), "answered", "leg-a"), ("leg-a", _leg_vars("a"), "answered", None)], {})
    assert sw.commands[start:] == []  # already bridged: nothing to do on the switch
    assert sw.state("a") == "on-call" and sw.state("b") == "available"
    view = sw.engine.call_view(CALL_ID)
    assert view.state.value == "connected"
    sw.hangup("cust")
    sw.hangup("leg-a")
    record = sw.record(CALL_ID).record
    assert record.disposition is Disposition.ANSWERED and [o.agent_id for o in record.offers] == ["a"]
    assert not sw.cmds(cmd.Hangup)  # FreeSWITCH ended both: nothing killed again
    assert sw.state("a") == "available"


def test_an_answered_agent_leg_not_yet_bridged_is_bridged() -> None:
    sw = _switch()
    sw.login("a", "b")
    _resync(
        sw, [("cust", _customer(), "answered", None), ("leg-a", _leg_vars("a"), "parked", None)], {"cust": "playback"}
    )
    bridges = sw.cmds(cmd.Bridge)
    assert [(b.uuid, b.other_uuid) for b in bridges] == [("cust", "leg-a")]
    assert sw.state("a") == "on-call"


def test_a_waiting_caller_is_queued_again_and_offered() -> None:
    sw = _switch()
    sw.login("a")
    _resync(sw, [("cust", _customer(), "answered", None)], {"cust": "playback"})
    (offer,) = sw.offers()
    assert offer.variables["ctilink_call_id"] == CALL_ID  # the same call, not a new one
    assert not sw.cmds(cmd.SetVariables)  # it carries its id already
    assert sw.cmds(cmd.Playback)  # hold music goes on while it waits
    assert sw.of(nt.CallQueued)


def test_a_ringing_agent_leg_is_hung_up_and_the_caller_offered_again() -> None:
    sw = _switch()
    sw.login("a", "b")
    _resync(
        sw, [("cust", _customer(), "answered", None), ("leg-a", _leg_vars("a"), "ringing", None)], {"cust": "playback"}
    )
    assert [h.uuid for h in sw.cmds(cmd.Hangup)] == ["leg-a"]
    assert len(sw.offers()) == 1  # offered afresh, to one agent
    sw.hangup("leg-a")  # its end changes nothing
    assert len(sw.offers()) == 1


def test_an_agent_leg_without_its_customer_is_hung_up() -> None:
    sw = _switch()
    sw.login("a")
    _resync(sw, [("leg-a", _leg_vars("a"), "answered", None)], {})
    assert [h.uuid for h in sw.cmds(cmd.Hangup)] == ["leg-a"]
    assert sw.state("a") == "available"


def test_a_caller_that_had_left_for_voicemail_is_left_alone() -> None:
    sw = _switch()
    sw.login("a")
    _resync(sw, [("cust", _customer(), "answered", None)], {"cust": "voicemail"})
    assert not sw.offers() and not sw.cmds(cmd.Hangup)
    sw.hangup("cust")
    assert not sw.of(nt.CallEnded)  # not a call of this engine's: no record invented


def test_a_not_ready_agent_found_on_a_call_is_not_ready_again_after_it() -> None:
    sw = _switch()
    sw.login("a")
    sw.request(rq.AgentNotReady("a", "lunch"))
    _resync(sw, [("cust", _customer(), "answered", "leg-a"), ("leg-a", _leg_vars("a"), "answered", None)], {})
    assert sw.state("a") == "on-call"
    sw.hangup("cust")
    sw.hangup("leg-a")
    assert sw.state("a") == "not-ready" and sw.engine.agent_view("a").reason == "lunch"


def test_an_agent_without_a_session_is_on_the_call_then_logged_out() -> None:
    sw = _switch()
    _resync(sw, [("cust", _customer(), "answered", "leg-a"), ("leg-a", _leg_vars("a"), "answered", None)], {})
    assert sw.state("a") == "on-call"
    sw.hangup("cust")
    sw.hangup("leg-a")
    assert sw.state("a") == "logged-out"


def test_a_new_caller_found_by_the_resync_waits_for_the_adoption() -> None:
    """Found in the same resync, a caller that arrived while ctilink was away is handled after the
    calls are taken back: it is never offered to an agent the resync shows on a call."""
    sw = _switch()
    sw.login("a", "b")
    newcomer = {"ctilink_queue": "support"}
    sw.send(ChannelCreated(uuid="new", direction="inbound", variables=newcomer, resync=True))
    sw.send(ChannelParked(uuid="new", variables=newcomer, resync=True))
    assert sw.offers() == []  # held until the marker
    pair = [("cust", _customer(), "answered", "leg-a"), ("leg-a", _leg_vars("a"), "answered", None)]
    _resync(sw, pair, {}, also=("new",))
    (offer,) = sw.offers()
    assert offer.variables["ctilink_agent_id"] == "b"
