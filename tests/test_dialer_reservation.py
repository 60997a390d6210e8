"""The engine holds an agent the dialer works for in person (preview, kept callback).

An agent serving an inbound queue *and* a campaign must not be offered an inbound call while a
preview is on their screen or while the customer they accepted is being dialed; after a skip, a
timeout, a failed dial or the end of the outbound call (and its wrap-up), they are offered again.
Every step goes through ``CampaignEngine`` (engine + dialer) and checks the engine's invariants.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "dialer"))

import pytest
from helpers import Ids, Rig, contacts

from ctilink import commands as cmd
from ctilink.core import AgentProfile, Engine, EngineConfig, QueueConfig
from ctilink.core import notifications as nt
from ctilink.core import requests as rq
from ctilink.core.agent import AgentState
from ctilink.core.errors import AgentUnavailable, InvalidValue
from ctilink.dialer.campaign import CampaignConfig, Mode
from ctilink.dialer.dialer import PreviewAccept, PreviewOffered, PreviewSkip, ScheduleCallback, StartCampaign
from ctilink.events import ChannelHungUp, ChannelParked
from ctilink.testing.invariants import check_invariants

LONDON = ["+442071230001", "+442071230002", "+442071230003"]
INBOUND = "in-0001"


def campaign(**kw: object) -> CampaignConfig:
    base = dict(
        name="spring",
        mode=Mode.PREVIEW,
        queue="outbound",
        region="GB",
        caller_id_number="442070000000",
        preview_timeout_s=20,
        preview_timeout_action="return",
    )
    base.update(kw)
    return CampaignConfig(**base)  # type: ignore[arg-type]


def blended(cfg: CampaignConfig, numbers: list[str] = LONDON) -> Rig:
    """Agent 1001 serves the inbound queue ``support`` and the campaign's queue; campaign started."""
    rig = Rig(cfg, ["1001"])
    rig.send(
        rq.ReplaceQueues((QueueConfig(name="outbound", wrap_up_s=5.0), QueueConfig(name="support", wrap_up_s=5.0)))
    )
    rig.load(contacts(cfg.name, numbers))
    rig.login("1001")
    rig.send(StartCampaign(cfg.name))
    return rig


def previews(rig: Rig) -> list[PreviewOffered]:
    return [n for n in rig.notes if isinstance(n, PreviewOffered)]


def inbound_call(rig: Rig) -> str:
    """A customer calls the inbound queue; returns its call id."""
    rig.send(ChannelParked(uuid=INBOUND, caller_number="+442079460000", variables={"ctilink_queue": "support"}))
    return next(n.call_id for n in rig.notes if isinstance(n, nt.CallArrived) and n.uuid == INBOUND)


def legs_for(rig: Rig, call_id: str) -> list[cmd.Originate]:
    return [c for c in rig.agent_legs() if c.variables["ctilink_call_id"] == call_id]


def state(rig: Rig) -> AgentState:
    return rig.engine.agent_view("1001").state


def test_inbound_call_waits_while_a_preview_is_shown_then_rings_after_the_skip() -> None:
    rig = blended(campaign())
    assert [(p.agent_id, p.contact_id) for p in previews(rig)] == [("1001", "c1")]
    view = rig.engine.agent_view("1001")
    assert view.state is AgentState.RESERVED and view.reserved_for == "spring" and view.reason == "preview"
    assert not view.offerable

    call_id = inbound_call(rig)
    assert legs_for(rig, call_id) == []  # queued: the agent is reading a preview
    assert rig.engine.call_view(call_id).state.value == "queued"

    rig.send(PreviewSkip("spring", "1001", "wrong number"))
    (leg,) = legs_for(rig, call_id)  # released, and offered the waiting inbound call at once
    assert leg.variables["ctilink_agent_id"] == "1001"
    assert state(rig) is AgentState.RESERVED and rig.engine.agent_view("1001").reserved_for is None
    # the dialer's next preview lost that race: never shown, and c2 is still there for later
    assert [p.contact_id for p in previews(rig)] == ["c1"]
    assert rig.dialer.contact_status("spring", "c2") == "pending"
    refused = [n for n in rig.notes if isinstance(n, nt.InputRejected)]
    assert [type(n.error) for n in refused] == [AgentUnavailable]


def test_preview_timeout_releases_the_agent_to_the_inbound_queue() -> None:
    rig = blended(campaign())
    call_id = inbound_call(rig)
    rig.advance(rig.now + 19)
    assert legs_for(rig, call_id) == []
    rig.advance(rig.now + 2)  # past the 20 s preview timeout: the contact goes back, the agent too
    assert len(legs_for(rig, call_id)) == 1
    assert rig.dialer.contact_status("spring", "c1") == "pending"


def test_accepted_preview_holds_the_agent_until_the_outbound_call_and_wrap_up_end() -> None:
    rig = blended(campaign())
    rig.send(PreviewAccept("spring", "1001"))
    (dial,) = rig.dials()
    call_id = inbound_call(rig)  # arrives while the customer's phone rings
    assert legs_for(rig, call_id) == [] and state(rig) is AgentState.RESERVED

    rig.now += 5
    rig.answer(dial.uuid)
    outbound_leg = rig.agent_legs()[-1]
    assert outbound_leg.variables["ctilink_call_id"] != call_id  # the reservation went to its own customer
    assert outbound_leg.variables["ctilink_agent_id"] == "1001"
    routed = [n for n in rig.notes if isinstance(n, nt.StickyRouted)]
    assert [(n.agent_id, n.outcome, n.source) for n in routed] == [("1001", "hit", "preferred")]
    rig.connect_agent()
    assert state(rig) is AgentState.ON_CALL and rig.engine.agent_view("1001").reserved_for is None

    rig.now += 60
    rig.hangup(dial.uuid)
    rig.hangup(outbound_leg.uuid)  # the switch confirms the agent leg the engine hung up
    assert state(rig) is AgentState.WRAP_UP and legs_for(rig, call_id) == []
    rig.advance(rig.now + 5.5)  # wrap-up over: the inbound call that waited is offered first
    assert len(legs_for(rig, call_id)) == 1
    (attempt,) = rig.attempts()
    assert attempt.outcome == "connected"


def test_a_failed_dial_after_accept_releases_the_agent() -> None:
    rig = blended(campaign())
    rig.send(PreviewAccept("spring", "1001"))
    (dial,) = rig.dials()
    call_id = inbound_call(rig)
    rig.now += 3
    rig.fail(dial.uuid, "USER_BUSY", 486)
    assert len(legs_for(rig, call_id)) == 1
    assert [a.outcome for a in rig.attempts()] == ["busy"]


def test_kept_callback_holds_its_agent_while_it_is_dialed() -> None:
    rig = blended(campaign(mode=Mode.PROGRESSIVE), numbers=LONDON[:1])
    (first,) = rig.dials()
    rig.fail(first.uuid, "NO_ANSWER")
    rig.send(ScheduleCallback("spring", "c1", rig.now + 60, agent_id="1001"))
    rig.advance(rig.now + 61)
    (_, callback) = rig.dials()
    assert rig.engine.agent_view("1001").reserved_for == "spring"
    call_id = inbound_call(rig)
    assert legs_for(rig, call_id) == []
    rig.fail(callback.uuid, "NO_ANSWER")
    assert len(legs_for(rig, call_id)) == 1


def test_reserve_and_release_in_the_engine() -> None:
    engine = Engine(
        EngineConfig(
            queues=[QueueConfig(name="support")],
            not_ready_reasons=["lunch"],
            agents=[AgentProfile(id="1001", endpoints=["user/1001"])],
        ),
        rng=random.Random(1),
        id_factory=Ids("e"),
    )
    now = 10.0
    assert isinstance(engine.handle(rq.ReserveAgent("1001", "spring"), now).error, AgentUnavailable)  # logged out
    engine.handle(rq.AgentLogin("1001"), now)
    assert isinstance(engine.handle(rq.ReserveAgent("1001", "bad name!"), now).error, InvalidValue)
    eff = engine.handle(rq.ReserveAgent("1001", "spring", "preview", "c1"), now)
    assert [(n.old, n.new, n.reason) for n in eff.notifications if isinstance(n, nt.AgentStateChanged)] == [
        (AgentState.AVAILABLE, AgentState.RESERVED, "preview")
    ]
    assert isinstance(engine.handle(rq.ReserveAgent("1001", "spring", "preview", "c2"), now).error, AgentUnavailable)
    # a late release naming another contact or campaign changes nothing
    assert engine.handle(rq.ReleaseAgent("1001", "spring", "c9"), now).notifications == []
    assert engine.handle(rq.ReleaseAgent("1001", "autumn"), now).notifications == []
    # a wish made while held is pending, and honoured by the release
    assert engine.handle(rq.AgentNotReady("1001", "lunch"), now).notifications == []
    assert engine.agent_view("1001").pending_not_ready == "lunch"
    assert check_invariants(engine) == []
    eff = engine.handle(rq.ReleaseAgent("1001", "spring", "c1"), now + 4)
    assert [(n.new, n.reason) for n in eff.notifications if isinstance(n, nt.AgentStateChanged)] == [
        (AgentState.NOT_READY, "lunch")
    ]
    assert check_invariants(engine) == []


@pytest.mark.parametrize(
    "variables",
    [
        {"ctilink_campaign": "autumn", "ctilink_contact_id": "c1"},  # another campaign's leg
        {"ctilink_campaign": "spring", "ctilink_contact_id": "c2"},  # another contact's leg
    ],
)
def test_only_the_reserved_contacts_leg_takes_the_reservation(variables: dict[str, str]) -> None:
    engine = Engine(
        EngineConfig(queues=[QueueConfig(name="outbound")], agents=[AgentProfile(id="1001", endpoints=["user/1001"])]),
        rng=random.Random(1),
        id_factory=Ids("e"),
    )
    engine.handle(rq.AgentLogin("1001"), 1.0)
    engine.handle(rq.ReserveAgent("1001", "spring", "preview", "c1"), 1.0)
    eff = engine.handle(
        ChannelParked(
            uuid="leg-1",
            variables={
                "ctilink_queue": "outbound",
                "ctilink_role": "customer",
                "ctilink_preferred_agent": "1001",
                **variables,
            },
        ),
        2.0,
    )
    assert not [c for c in eff.commands if isinstance(c, cmd.Originate)]  # held for the agent, not offered
    assert engine.agent_view("1001").reserved_for == "spring"
    assert check_invariants(engine) == []


def test_a_reserved_agent_whose_phone_is_busy_is_released_and_the_call_waits_for_them() -> None:
    engine = Engine(
        EngineConfig(
            queues=[QueueConfig(name="outbound")],
            agents=[AgentProfile(id="1001", endpoints=["user/1001"]), AgentProfile(id="1002", endpoints=["user/1002"])],
        ),
        rng=random.Random(1),
        id_factory=Ids("e"),
    )
    for agent in ("1001", "1002"):
        engine.handle(rq.AgentLogin(agent), 1.0)
    engine.handle(rq.ReserveAgent("1001", "spring", "preview", "c1"), 1.0)
    # a private call on 1001's phone meanwhile: the customer cannot be put through to them now
    engine.handle(ChannelParked(uuid="private-1", channel_name="sofia/internal/1001@10.0.0.5"), 2.0)
    eff = engine.handle(
        ChannelParked(
            uuid="leg-1",
            variables={
                "ctilink_queue": "outbound",
                "ctilink_role": "customer",
                "ctilink_preferred_agent": "1001",
                "ctilink_campaign": "spring",
                "ctilink_contact_id": "c1",
            },
        ),
        3.0,
    )
    assert not [c for c in eff.commands if isinstance(c, cmd.Originate)]
    # released (then on their private call), and the customer waits for them as for any busy
    # preferred agent (docs/engine.md, sticky routing), rather than the agent staying held
    view = engine.agent_view("1001")
    assert view.reserved_for is None and view.state is AgentState.ON_CALL
    assert [n.outcome for n in eff.notifications if isinstance(n, nt.StickyRouted)] == ["wait"]
    assert check_invariants(engine) == []
    eff = engine.handle(ChannelHungUp(uuid="private-1", channel_name="sofia/internal/1001@10.0.0.5"), 4.0)
    (offer,) = [c for c in eff.commands if isinstance(c, cmd.Originate)]
    assert offer.variables["ctilink_agent_id"] == "1001"
    assert check_invariants(engine) == []
