"""Channel events: route each to its owner, and follow the customer leg.

Rules:
- A channel event goes to exactly one owner, in this order: a click-to-dial leg, an ACD agent leg
  (``offers``), a live call's customer leg, a customer leg that left our control (ignored until its
  hang-up), a leg we gave up on (killed on sight), an arriving customer (``arrival``), a foreign
  channel on an agent's phone (``presence``).
- The customer leg's hang-up ends its call exactly once, with a disposition from the call's state:
  answered, overflowed (or the leave disposition), terminated (we asked), abandoned.
"""

from __future__ import annotations

from ctilink.commands import Hangup, Playback
from ctilink.core import arrival, click_to_dial_legs, offers, presence, queueing
from ctilink.core.call import Call, CallState, Disposition
from ctilink.core.state import EngineState, Timer
from ctilink.events import (
    ChannelAnswered,
    ChannelBridged,
    ChannelCreated,
    ChannelEvent,
    ChannelHeld,
    ChannelHungUp,
    ChannelParked,
    ChannelProgress,
    ChannelUnheld,
    CommandFailed,
    ExecuteComplete,
    JobCompleted,
)


def on_channel_input(s: EngineState, ev: ChannelEvent) -> None:
    if not click_to_dial_legs.on_channel(s, ev):  # a click-to-dial leg is handled there only
        on_channel(s, ev)


def on_channel(s: EngineState, ev: ChannelEvent) -> None:
    uuid = ev.uuid
    leg = s.legs.get(uuid)
    if leg is not None:
        offers.on_leg_event(s, leg, ev)
        return
    call = s.by_uuid.get(uuid)
    if call is not None:
        on_customer_event(s, call, ev)
        return
    hungup = isinstance(ev, ChannelHungUp)
    if uuid in s.released:
        if hungup:
            del s.released[uuid]
        return
    if uuid in s.dead:
        if hungup:
            del s.dead[uuid]
        elif isinstance(ev, (ChannelCreated, ChannelProgress, ChannelAnswered, ChannelParked)):
            s.cmd(Hangup(uuid, "LOSE_RACE", node=ev.node))
        return
    if (
        isinstance(ev, ChannelParked)
        and "ctilink_queue" in ev.variables
        and ev.variables.get("ctilink_role", "customer") == "customer"
    ):
        arrival.on_arrival(s, ev)
        return
    agents = s.foreign.get(uuid)
    if agents is not None:
        if hungup:
            del s.foreign[uuid]
            for agent_id in agents:
                agent = s.agents.get(agent_id)
                if agent is not None and agent.foreign.pop(uuid, None) is not None:
                    s.dirty_agents[agent_id] = None
        return
    if not hungup:
        presence.match_foreign(s, ev)


def on_customer_event(s: EngineState, call: Call, ev: ChannelEvent) -> None:
    if isinstance(ev, ChannelBridged) and call.connected is not None and ev.other_uuid == call.connected.uuid:
        offers.leg_bridged(s, call.connected)
    if isinstance(ev, ChannelHungUp):
        if call.state is CallState.CONNECTED:
            disposition = Disposition.ANSWERED
        elif call.state is CallState.LEAVING:
            disposition = call.leave_disposition or Disposition.OVERFLOWED
        elif call.hangup_requested:
            disposition = Disposition.TERMINATED
        else:
            disposition = Disposition.ABANDONED
        queueing.end_call(s, call, disposition, ev.cause, False)
    elif isinstance(ev, ChannelParked):
        if call.pending_moh and call.state in (CallState.QUEUED, CallState.OFFERING):
            rt = s.queues.get(call.queue or "")
            if rt is not None:
                s.cmd(Playback(call.uuid, rt.config.hold_music, node=call.node))
        call.pending_moh = False
    elif isinstance(ev, (ChannelHeld, ChannelUnheld)) and call.connected is not None:
        offers.on_leg_event(s, call.connected, ev)
    elif isinstance(ev, ExecuteComplete):
        if (
            call.state is CallState.LEAVING
            and call.leave_path is not None
            and ev.application == "playback"
            and ev.application_data == call.leave_path
        ):
            call.leave_path = None
            s.cmd(Hangup(call.uuid, call.leave_cause, node=call.node))
            call.timer_token += 1
            s.timer(s.now + s.config.cancel_grace_s, Timer.LEAVE, call.call_id, call.timer_token)


def on_job(s: EngineState, ev: JobCompleted) -> None:
    if not click_to_dial_legs.on_job(s, ev):  # a click-to-dial's originate is handled there only
        offers.on_job(s, ev)


def on_command_failed(s: EngineState, ev: CommandFailed) -> None:
    # (Logged once, by the link that saw it fail.)
    if not click_to_dial_legs.on_command_failed(s, ev):
        offers.on_command_failed(s, ev)
