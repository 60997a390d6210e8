"""Recovery: a reconnect's resync, the adoption of live calls after a restart, a switch shutdown.

Rules:
- A resync's events about channels the engine does not know are held back until its marker; then
  every call and leg of that node the switch no longer has ends once as ``lost`` (never
  "answered": nobody saw how it ended), its agents are freed, the ctilink calls the engine does
  not know are adopted (``adoption.py`` plans it), and the held-back events are handled as they
  came.
- An adopted call is exactly what the switch shows: bridged (or answered, then bridged again) to
  the agent named on its leg, or waiting in its queue again. An agent leg without its call is hung
  up and remembered as dead.
- A node shutting down ends its calls as ``failed`` and frees its agents.
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from ctilink.commands import Break, Hangup, Playback
from ctilink.core import adoption, arrival, channels, click_to_dial_legs, offers, pools, queueing, settle
from ctilink.core.agent import Agent, AgentEvent, AgentState
from ctilink.core.call import Call, CallEvent, CallState, Disposition, Leg, LegState, OfferOutcome
from ctilink.core.notifications import CallAnswered, CallArrived
from ctilink.core.state import EngineState
from ctilink.events import ChannelEvent, Resynced, SwitchShutdown

log = structlog.get_logger("ctilink.core")


def hold_back(s: EngineState, ev: ChannelEvent) -> bool:
    """Keep a resync event about a channel the engine does not know until the marker."""
    uuid = ev.uuid
    if uuid in s.legs or uuid in s.by_uuid or uuid in s.released or uuid in s.dead:
        return False
    if uuid in s.c2d.by_uuid:
        return False  # a live click-to-dial leg: its session takes the resync's word on it
    if uuid in s.foreign:
        return False
    found = s.found.setdefault(ev.node, {})
    if uuid in found:
        found[uuid].merge(ev)
    elif adoption.is_adoptable(ev):
        found[uuid] = adoption.found_from(ev)
    else:
        s.held_back.setdefault(ev.node, []).append(ev)
    return True


def on_resynced(s: EngineState, ev: Resynced) -> None:
    """After a (re)connect the node has exactly ``ev.uuids``: every call and agent leg of this
    node that it no longer has ended while nobody was listening. Each ends once, as ``lost``
    (never "answered": nobody saw how it ended), and its agents are freed. A leg whose channel
    was never seen (its originate may still be on its way) is left to its ring timer. Then the
    channels of ctilink calls the engine does not know are adopted, and the rest of what the
    resync described is handled as it came."""
    click_to_dial_legs.resynced(s, ev)
    forget_gone(s, ev)
    alive = set(ev.uuids)
    found = s.found.pop(ev.node, {})
    held = s.held_back.pop(ev.node, [])
    apply_adoption(s, adoption.plan(found, ev.applications, alive), found)
    for item in held:
        if item.uuid in alive:
            channels.on_channel_input(s, item)


def apply_adoption(s: EngineState, plan: adoption.AdoptionPlan, found: Mapping[str, adoption.Found]) -> None:
    for adopted in plan.calls:
        adopt(s, adopted)
    for leg in plan.hang_up:
        log.info("hanging up an agent leg found without a call to join", uuid=leg.uuid, call_id=leg.call_id)
        s.cmd(Hangup(leg.uuid, "ORIGINATOR_CANCEL", node=leg.node))
        s.remember_dead(leg.uuid)
    for customer in plan.released:
        s.released[customer.uuid] = customer.node
    for pair in plan.click_to_dial:
        click_to_dial_legs.adopt(s, pair.agent_leg, pair.customer)
    # An outbound customer not answered yet parks on its answer: then it arrives as usual.
    for customer in plan.not_yet:
        if customer.parked:
            s.released[customer.uuid] = customer.node


def adopt(s: EngineState, adopted: adoption.AdoptedCall) -> None:
    """Take back a call ctilink was running when it lost the switch (see ctilink.core.adoption)."""
    c = adopted.customer
    now = s.now
    rt = s.queues.get(c.variables.get("ctilink_queue", ""))
    if c.call_id in s.calls or rt is None:
        # Not ours to run (an id already in use, a queue this configuration lacks): leave it.
        log.warning("not adopting a call found after a reconnect", call_id=c.call_id, uuid=c.uuid)
        s.released[c.uuid] = c.node
        if adopted.agent_leg is not None and not adopted.bridged:
            s.cmd(Hangup(adopted.agent_leg.uuid, "ORIGINATOR_CANCEL", node=c.node))
        return
    call = Call(
        call_id=c.call_id,
        uuid=c.uuid,
        node=c.node,
        seq=next(s.seq),
        arrived_at=now,
        caller_number=c.caller_number,
        caller_name=c.caller_name,
        destination_number=c.destination_number,
        queue=rt.name,
        first_queue=rt.name,
        priority=arrival.parse_priority(s, c.variables.get("ctilink_priority", ""), rt) or rt.config.default_priority,
        media_started=True,
    )
    s.calls[call.call_id] = call
    s.by_uuid[call.uuid] = call
    s.note(CallArrived(call.call_id, call.uuid, call.queue, call.caller_number, call.priority, now))
    found_leg = adopted.agent_leg
    agent = s.agents.get(found_leg.variables["ctilink_agent_id"]) if found_leg is not None else None
    if found_leg is None or agent is None:
        if found_leg is not None:
            s.cmd(Hangup(found_leg.uuid, "ORIGINATOR_CANCEL", node=c.node))  # an agent we do not have
        if not c.parked:
            s.cmd(Break(call.uuid, node=call.node))
        s.cmd(Playback(call.uuid, rt.config.hold_music, node=call.node))
        queueing.join_queue(s, call, rt, CallEvent.QUEUE, keep_queued_at=False)
        return
    _rejoin_agent(s, adopted, call, found_leg, agent)


def _rejoin_agent(
    s: EngineState, adopted: adoption.AdoptedCall, call: Call, found_leg: adoption.Found, agent: Agent
) -> None:
    """The adopted call is on ``agent``'s leg: connected again, bridged again if it was not."""
    now = s.now
    call.attempts = 1
    leg = Leg(
        uuid=found_leg.uuid,
        job_uuid=f"adopted:{found_leg.uuid}",
        call_id=call.call_id,
        agent_id=agent.id,
        attempt=1,
        queue=call.queue or "",
        node=call.node,
        offered_at=now,
        state=LegState.CONNECTED,
        result=OfferOutcome.ANSWERED,
        result_at=now,
        answered_at=now,
        job_done=True,
        switch_ends_it=adopted.bridged,
    )
    s.legs[leg.uuid] = leg
    call.legs.append(leg)
    call.apply(CallEvent.OFFER)
    call.apply(CallEvent.ANSWER)
    call.connected = leg
    call.answered_at = now
    agent.legs[leg.uuid] = call.call_id
    if agent.state is AgentState.LOGGED_OUT:
        agent.pending_logout = True  # no session says they are logged in: out after this call
    elif agent.state is AgentState.NOT_READY:
        agent.pending_not_ready = agent.reason
    if agent.state is AgentState.WRAP_UP:
        settle.finish_wrap_legs(s, agent)
    settle.agent_apply(s, agent, AgentEvent.ADOPT, call.queue)
    pools.pull(s, agent)
    pools.refresh(s, agent)
    if not adopted.bridged:
        offers.bridge(s, call, leg)
    s.note(CallAnswered(call.call_id, agent.id, leg.uuid, call.queue or "", 0.0, now))


def forget_gone(s: EngineState, ev: Resynced) -> None:
    alive = set(ev.uuids)
    node = ev.node
    gone = [leg for leg in s.legs.values() if leg.node == node and leg.uuid not in alive]
    for leg in gone:
        # Already gone from the switch: ending its call must not hang it up (that would be a
        # uuid_kill of a channel FreeSWITCH no longer has); a partner still there is reaped.
        leg.switch_ends_it = True
    for call in [c for c in s.calls.values() if c.node == node and c.state is not CallState.ENDED]:
        if call.uuid not in alive:
            queueing.end_call(s, call, Disposition.LOST, "gone-while-disconnected", False)
    for leg in gone:
        if leg.state is not LegState.ORIGINATING and leg.uuid in s.legs:
            offers.leg_gone(s, leg, "LOSE_RACE")


def on_shutdown(s: EngineState, ev: SwitchShutdown) -> None:
    node = ev.node
    for call in [c for c in s.calls.values() if c.node == node and c.state is not CallState.ENDED]:
        queueing.end_call(s, call, Disposition.FAILED, "switch-shutdown", False)
    click_to_dial_legs.shutdown(s, node)
    for leg in [leg for leg in s.legs.values() if leg.node == node]:
        offers.leg_gone(s, leg, "SWITCH_SHUTDOWN")
    for uuid in [u for u, n in s.released.items() if n == node]:
        del s.released[uuid]
    for uuid, agent_ids in list(s.foreign.items()):
        for agent_id in agent_ids:
            agent = s.agents.get(agent_id)
            if agent is not None and agent.foreign.get(uuid) == node:
                del agent.foreign[uuid]
                s.dirty_agents[agent_id] = None
        if all(uuid not in s.agents[a].foreign for a in agent_ids if a in s.agents):
            del s.foreign[uuid]
