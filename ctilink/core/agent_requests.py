"""Agent requests: log in and out, ready, not ready, wrap-up, disposition, outbound reservations.

Rules:
- Each request is validated before anything changes (unknown agent, reason or code; an endpoint
  that is not a dial string; a transition the table does not have) and raises a typed error.
- A wish made while the agent is ringing, talking or in wrap-up (not ready, log out) is a pending
  flag, honoured by the settle table when that moment ends; ready while busy cancels the wishes.
- ``ReserveAgent`` holds an available agent with no leg for a campaign's contact; ``ReleaseAgent``
  gives them back (idempotent: a reservation already taken or released is nothing to do).
"""

from __future__ import annotations

import structlog

from ctilink.core import admin, pools, settle
from ctilink.core import requests as rq
from ctilink.core.agent import AgentEvent, AgentState, Reservation, transition
from ctilink.core.call import Leg
from ctilink.core.config import NAME_RE
from ctilink.core.errors import (
    AgentUnavailable,
    InvalidValue,
    NoCallForAgent,
    UnknownCall,
    UnknownDisposition,
    UnknownReason,
)
from ctilink.core.state import EngineState, Timer

log = structlog.get_logger("ctilink.core")
_MAX_WRAP_EXTENSION_S = 3600.0


def login(s: EngineState, req: rq.AgentLogin) -> None:
    agent = s.agent(req.agent_id)
    if req.not_ready_reason is not None and req.not_ready_reason not in s.reasons:
        raise UnknownReason(req.not_ready_reason, sorted(s.reasons))
    event = AgentEvent.LOGIN if req.not_ready_reason is None else AgentEvent.LOGIN_NOT_READY
    moved = None
    if req.endpoints is not None:
        try:
            moved = agent.profile.model_validate({**agent.profile.model_dump(), "endpoints": list(req.endpoints)})
        except ValueError:
            raise InvalidValue("endpoint", ", ".join(req.endpoints)[:200], "dial strings such as user/1001") from None
    transition(agent.state, event, agent.id)
    if moved is not None:  # checked above; applied only now that the login is allowed
        admin.upsert(s, moved)
    agent.no_answer_streak = 0
    settle.agent_apply(s, agent, event, req.not_ready_reason)
    agent.idle_since = s.now


def logout(s: EngineState, req: rq.AgentLogout) -> None:
    agent = s.agent(req.agent_id)
    state = agent.state
    if state in (AgentState.RESERVED, AgentState.ON_CALL) or (
        state is AgentState.WRAP_UP and settle.ringing_leg(s, agent) is not None
    ):
        agent.pending_logout = True
        s.dirty_agents[agent.id] = None
        return
    transition(state, AgentEvent.LOGOUT, agent.id)
    if state is AgentState.WRAP_UP:
        settle.finish_wrap_legs(s, agent)
    settle.agent_apply(s, agent, AgentEvent.LOGOUT, None)


def ready(s: EngineState, req: rq.AgentReady) -> None:
    agent = s.agent(req.agent_id)
    state = agent.state
    if state is AgentState.AVAILABLE:
        return  # already ready: idempotent
    if state in (AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP):
        agent.pending_not_ready = None
        agent.pending_logout = False
        s.dirty_agents[agent.id] = None
        return
    transition(state, AgentEvent.READY, agent.id)
    agent.no_answer_streak = 0
    settle.agent_apply(s, agent, AgentEvent.READY, None)


def not_ready(s: EngineState, req: rq.AgentNotReady) -> None:
    agent = s.agent(req.agent_id)
    if req.reason not in s.reasons:
        raise UnknownReason(req.reason, sorted(s.reasons))
    if agent.state in (AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP):
        agent.pending_not_ready = req.reason
        s.dirty_agents[agent.id] = None
        return
    transition(agent.state, AgentEvent.NOT_READY, agent.id)
    settle.agent_apply(s, agent, AgentEvent.NOT_READY, req.reason)


def end_wrap(s: EngineState, req: rq.EndWrapUp) -> None:
    agent = s.agent(req.agent_id)
    settle.wrap_up_over(s, agent)


def extend_wrap(s: EngineState, req: rq.ExtendWrapUp) -> None:
    agent = s.agent(req.agent_id)
    seconds = req.seconds
    if not isinstance(seconds, (int, float)) or not (0 < seconds <= _MAX_WRAP_EXTENSION_S) or seconds != seconds:
        raise InvalidValue("seconds", seconds, f"a number of seconds in (0, {_MAX_WRAP_EXTENSION_S:g}]")
    transition(agent.state, AgentEvent.EXTEND_WRAP_UP, agent.id)
    assert agent.wrap_until is not None
    agent.wrap_until += float(seconds)
    agent.wrap_token += 1
    s.timer(agent.wrap_until, Timer.WRAP, agent.id, agent.wrap_token)


def disposition(s: EngineState, req: rq.SetDisposition) -> None:
    agent = s.agent(req.agent_id)
    if req.code not in s.codes:
        raise UnknownDisposition(req.code, sorted(s.codes))
    talking = [s.legs[u] for u in agent.legs if u in s.legs and s.legs[u].talk_ended_at is None]
    candidates = s.wrap_legs.get(agent.id, []) + talking
    leg: Leg | None = None
    for candidate in reversed(candidates):
        if candidate.answered_at is not None and (req.call_id is None or candidate.call_id == req.call_id):
            leg = candidate
            break
    if leg is None:
        if req.call_id is not None and req.call_id not in s.calls:
            raise UnknownCall(req.call_id)
        raise NoCallForAgent(agent.id)
    leg.disposition_code = req.code


def reserve(s: EngineState, req: rq.ReserveAgent) -> None:
    agent = s.agent(req.agent_id)
    for field, value in (("campaign", req.campaign), ("reason", req.reason)):
        if not (isinstance(value, str) and NAME_RE.match(value)):
            raise InvalidValue(field, value, "a plain name (letters, digits, _.@+-; up to 64)")
    contact = req.contact_id
    if contact is not None and not (isinstance(contact, str) and 0 < len(contact) <= 128 and contact.isprintable()):
        raise InvalidValue("contact_id", contact, "printable text of 1 to 128 characters")
    if agent.state is not AgentState.AVAILABLE or agent.busy_count():
        # Taken meanwhile (or the last call's leg not yet confirmed gone) (an inbound offer rang first, a private call, not ready): the dialer
        # takes its preview back rather than show work the agent cannot do. A busy delay or an
        # unregistered phone does not refuse: a preview is read on screen, and the customer's
        # call falls back to normal routing if the phone still cannot ring when it arrives.
        raise AgentUnavailable(agent.id, f"is {agent.state.value} and cannot be reserved")
    settle.agent_apply(s, agent, AgentEvent.RESERVE, req.reason)
    agent.reservation = Reservation(req.reason, req.campaign, req.contact_id)
    pools.pull(s, agent)


def release(s: EngineState, req: rq.ReleaseAgent) -> None:
    agent = s.agent(req.agent_id)
    held = agent.reservation
    if (
        held is None
        or held.campaign != req.campaign
        or (req.contact_id is not None and held.contact_id != req.contact_id)
    ):
        return  # nothing of theirs is held (already taken by its call, or released): idempotent
    settle.release(s, agent)
