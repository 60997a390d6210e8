"""Settling agents: the one way an agent's state changes, and which event a moment calls for.

Rules:
- :func:`agent_apply` is the only caller of ``Agent.apply``: it keeps the bookkeeping that goes
  with a change (idle-since, pending wishes cleared, the ``AgentStateChanged`` notification) and
  marks the agent dirty so pools and sticky waits follow.
- Which event ends a moment is data, not code: :data:`SETTLE` maps (what ended, the pending wish,
  another line still ringing) to the agent event, so a pending logout or not-ready is honoured in
  the same single transition (one change, one notification). Four moments end this way: a call's
  hang-up without wrap-up, the end of wrap-up, an offer closing without its call, and an outbound
  reservation released without its call.
- A reservation is taken only by the customer leg of the same campaign and contact naming the
  agent as preferred agent (:func:`claim_reservation`).
- A call's record is emitted once every agent who talked to it has finished wrap-up
  (:func:`maybe_finalize`).

Theory: this is the bottom of the agent side; it knows no queues, offers or commands.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from ctilink.core.agent import Agent, AgentEvent, AgentState, transition
from ctilink.core.call import Call, CallState, Leg, LegState
from ctilink.core.errors import IllegalTransition
from ctilink.core.notifications import AgentStateChanged, CallEnded
from ctilink.core.state import EngineState


def ringing_leg(s: EngineState, agent: Agent) -> Leg | None:
    """An offer to the agent still on its way (a second line of a multi-line agent)."""
    for uuid in agent.legs:
        leg = s.legs.get(uuid)
        if leg is not None and leg.state in (LegState.ORIGINATING, LegState.RINGING):
            return leg
    return None


class Moment(StrEnum):
    """What just ended for the agent."""

    HANGUP = "hangup"  # their call ended and no wrap-up follows
    WRAP_END = "wrap-end"  # their wrap-up is over
    OFFER_CLOSED = "offer-closed"  # an offer's leg is gone without its call (no legs left)
    RELEASED = "released"  # an outbound reservation ended without its call (no leg)


class Wish(StrEnum):
    """What the agent asked for meanwhile (pending since the moment began)."""

    NONE = "none"
    PAUSE = "pause"  # not ready, with a reason
    LOGOUT = "logout"


M, W, E = Moment, Wish, AgentEvent

#: (moment, pending wish, another line still ringing) -> the one agent event that settles it. With
#: a line still ringing the agent goes (stays) reserved and the wish stays pending until that
#: offer closes; an offer closing or a reservation released leaves no line behind.
SETTLE: dict[tuple[Moment, Wish, bool], AgentEvent] = {
    (M.HANGUP, W.NONE, False): E.HANGUP_NO_WRAP,
    (M.HANGUP, W.PAUSE, False): E.HANGUP_PAUSE,
    (M.HANGUP, W.LOGOUT, False): E.HANGUP_LOGOUT,
    (M.HANGUP, W.NONE, True): E.HANGUP_RINGING,
    (M.HANGUP, W.PAUSE, True): E.HANGUP_RINGING,
    (M.HANGUP, W.LOGOUT, True): E.HANGUP_RINGING,
    (M.WRAP_END, W.NONE, False): E.WRAP_UP_END,
    (M.WRAP_END, W.PAUSE, False): E.WRAP_UP_END_PAUSE,
    (M.WRAP_END, W.LOGOUT, False): E.WRAP_UP_END_LOGOUT,
    (M.WRAP_END, W.NONE, True): E.WRAP_UP_END_RINGING,
    (M.WRAP_END, W.PAUSE, True): E.WRAP_UP_END_RINGING,
    (M.WRAP_END, W.LOGOUT, True): E.WRAP_UP_END_RINGING,
    (M.OFFER_CLOSED, W.NONE, False): E.OFFER_CLOSED,
    (M.OFFER_CLOSED, W.PAUSE, False): E.OFFER_CLOSED_PAUSE,
    (M.OFFER_CLOSED, W.LOGOUT, False): E.OFFER_CLOSED_LOGOUT,
    (M.RELEASED, W.NONE, False): E.RELEASE,
    (M.RELEASED, W.PAUSE, False): E.RELEASE_PAUSE,
    (M.RELEASED, W.LOGOUT, False): E.RELEASE_LOGOUT,
}

del M, W, E


def wish(agent: Agent) -> Wish:
    """The agent's pending wish; a logout outranks a not-ready."""
    if agent.pending_logout:
        return Wish.LOGOUT
    return Wish.PAUSE if agent.pending_not_ready is not None else Wish.NONE


def settle_event(
    s: EngineState, agent: Agent, moment: Moment, reason: str | None = None
) -> tuple[AgentEvent, str | None]:
    """The event (and its reason) that settles ``moment`` for the agent, from :data:`SETTLE`.
    ``reason`` is the reason when no wish is pending and no line rings."""
    ringing = ringing_leg(s, agent)
    pending = wish(agent)
    event = SETTLE.get((moment, pending, ringing is not None))
    if event is None:
        raise IllegalTransition("agent", agent.id, agent.state.value, f"{moment.value} with a line ringing")
    if ringing is not None:
        return event, ringing.queue
    if pending is Wish.LOGOUT:
        return event, None
    if pending is Wish.PAUSE:
        return event, agent.pending_not_ready
    return event, reason


def settle(s: EngineState, agent: Agent, moment: Moment, reason: str | None = None) -> AgentEvent:
    """Apply the event that settles ``moment`` (see :func:`settle_event`); returns it."""
    event, why = settle_event(s, agent, moment, reason)
    agent_apply(s, agent, event, why)
    return event


def doc_table() -> str:
    """The settle table as the Markdown table docs/engine.md shows (a test compares them)."""
    lines = ["| moment | pending wish | line still ringing | agent event |", "|---|---|---|---|"]
    for (moment, pending, ringing), event in SETTLE.items():
        lines.append(f"| {moment.value} | {pending.value} | {'yes' if ringing else 'no'} | {event.value} |")
    return "\n".join(lines)


def finish_wrap_legs(s: EngineState, agent: Agent) -> None:
    now = s.now
    for leg in s.wrap_legs.pop(agent.id, []):
        leg.wrap_up_s = max(0.0, now - (now if leg.wrap_started is None else leg.wrap_started))
        rt = s.queues.get(leg.queue)
        if rt is not None:
            rt.note_handle_time(leg.talk_s + leg.wrap_up_s)
        call = s.calls.get(leg.call_id)
        if call is not None:
            call.wrap_pending -= 1
            maybe_finalize(s, call)
    agent.wrap_until = None
    agent.wrap_token += 1


def wrap_up_over(s: EngineState, agent: Agent) -> None:
    event, reason = settle_event(s, agent, Moment.WRAP_END)
    transition(agent.state, event, agent.id)  # validate before touching anything
    finish_wrap_legs(s, agent)
    agent_apply(s, agent, event, reason)


def agent_apply(s: EngineState, agent: Agent, event: AgentEvent, reason: str | None) -> None:
    now = s.now
    changed = agent.apply(event, now, reason)
    s.dirty_agents[agent.id] = None
    if changed is None:
        return
    old, duration = changed
    new = agent.state
    # An offer or a reservation that came to nothing keeps the agent's place in longest-idle:
    # they took no call (a busy phone or a skipped preview is not a reason to go to the back).
    if (new is AgentState.AVAILABLE and event not in (AgentEvent.OFFER_CLOSED, AgentEvent.RELEASE)) or event in (
        AgentEvent.HANGUP_RINGING,
        AgentEvent.WRAP_UP_END_RINGING,
    ):
        agent.idle_since = now
    if new is AgentState.NOT_READY:
        agent.pending_not_ready = None
        if reason == "no-answer":
            agent.no_answer_streak = 0
    if new is AgentState.LOGGED_OUT:
        agent.pending_logout = False
        agent.pending_not_ready = None
        agent.delayed_until = None
        agent.no_answer_streak = 0
    if new is not AgentState.ON_CALL:
        agent.direct = False
    s.note(AgentStateChanged(agent.id, old, new, reason, duration, now))


def reconcile(s: EngineState, agent: Agent) -> None:
    """Channels on the agent's phone that did not come from a queue make the agent on-call."""
    if agent.state is AgentState.AVAILABLE and agent.foreign:
        agent_apply(s, agent, AgentEvent.DIRECT_CALL, "direct-call")
        agent.direct = True
    elif agent.state is AgentState.ON_CALL and agent.direct and not agent.foreign:
        if not any(s.legs[u].state is LegState.CONNECTED for u in agent.legs if u in s.legs):
            agent.direct = False
            event, reason = settle_event(s, agent, Moment.HANGUP)
            agent_apply(s, agent, event, reason or "direct-call-ended")


def claim_reservation(s: EngineState, variables: Mapping[str, str]) -> Agent | None:
    """The agent held for this customer leg (same campaign and contact, named as preferred
    agent), with the reservation taken off them; None when the leg is not the one they wait for."""
    agent = s.agents.get(variables.get("ctilink_preferred_agent", ""))
    held = agent.reservation if agent is not None else None
    if agent is None or held is None or held.campaign != variables.get("ctilink_campaign"):
        return None
    if held.contact_id is not None and held.contact_id != variables.get("ctilink_contact_id"):
        return None
    agent.reservation = None
    return agent


def release(s: EngineState, agent: Agent) -> None:
    """A reserved agent without a leg goes back, honouring a wish made while held."""
    agent.reservation = None
    settle(s, agent, Moment.RELEASED)


def maybe_finalize(s: EngineState, call: Call) -> None:
    if call.state is CallState.ENDED and call.wrap_pending <= 0 and not call.finalized:
        call.finalized = True
        s.calls.pop(call.call_id, None)
        s.note(CallEnded(call.to_record()))
