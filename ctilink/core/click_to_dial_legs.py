"""Click-to-dial in the engine: the request, the switch's inputs about its legs, and the actions.

Rules:
- The session's state machine (states, triggers, the transition table, timers, the record) is
  :mod:`ctilink.core.click_to_dial`; this module only *classifies* what the switch said into a
  trigger, lets the table decide, and carries out the step's action against the engine's state.
- Channel events, job results and failed commands about a click-to-dial leg come here first and
  only (``channels.py`` asks :func:`on_channel`, :func:`on_job`, :func:`on_command_failed`).
- The agent moves only through the agent table (``settle.agent_apply``) and settles with the same
  settle table as after any call without wrap-up.
- Hang-up causes are classified with the ACD's own mapping (``offers.offer_outcome``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import structlog

from ctilink.commands import MAX_TIMEOUT_S, Bridge, Hangup, Originate
from ctilink.core import settle
from ctilink.core.adoption import Found
from ctilink.core.agent import AgentEvent, AgentState, transition
from ctilink.core.call import LegState, OfferOutcome
from ctilink.core.click_to_dial import (
    ROLE_AGENT,
    ROLE_CUSTOMER,
    TIMER_ON_ENTRY,
    TIMER_PREFIX,
    TIMERS,
    Action,
    C2DLeg,
    ClickToDial,
    ClickToDialState,
    Session,
    Timer,
    Trigger,
    record,
)
from ctilink.core.config import CAUSE_RE
from ctilink.core.errors import AgentUnavailable, InvalidValue
from ctilink.core.notifications import CallEnded
from ctilink.core.offers import offer_outcome
from ctilink.core.settle import Moment
from ctilink.core.state import EngineState
from ctilink.events import (
    ChannelAnswered,
    ChannelBridged,
    ChannelCreated,
    ChannelEvent,
    ChannelHungUp,
    ChannelParked,
    ChannelProgress,
    CommandFailed,
    JobCompleted,
    Resynced,
)
from ctilink.values import DIAL_STRING_RE

log = structlog.get_logger("ctilink.core.click_to_dial")

_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")


# ---------------------------------------------------------------------------------- the request


def request(s: EngineState, req: ClickToDial) -> None:
    """Start a click-to-dial. Raises typed errors (the engine rejects the request, nothing changed)."""
    agent = s.agent(req.agent_id)
    if agent.state not in (AgentState.AVAILABLE, AgentState.NOT_READY):
        raise AgentUnavailable(
            req.agent_id, f"agent is {agent.state.value}; click-to-dial needs available or not ready"
        )
    timeout = req.ring_timeout_s
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= MAX_TIMEOUT_S:
        raise InvalidValue("ring_timeout_s", timeout, f"whole seconds from 1 to {MAX_TIMEOUT_S}")
    number = s.lists.ensure_dialable(req.number, None, s.now)  # E.164; DNC and bad numbers raise
    digits = number.lstrip("+")
    if not _NUMBER.match(number):
        raise InvalidValue("number", req.number, "a dialable phone number")
    dial = req.dial_template.replace("{number}", digits)
    if not DIAL_STRING_RE.fullmatch(dial):
        raise InvalidValue(
            "dial_template", req.dial_template, "a dial string template such as sofia/gateway/gw/{number}"
        )
    endpoint = agent.usable_endpoint()
    if endpoint is None:
        raise AgentUnavailable(req.agent_id, "no registered endpoint to ring")
    transition(agent.state, AgentEvent.DIAL, agent.id)  # validated before anything changes
    call_id = s.new_id()
    session = Session(
        call_id=call_id,
        agent_id=agent.id,
        number=number,
        agent=C2DLeg(s.new_id(), s.new_id(), ROLE_AGENT, alive=True),
        customer=C2DLeg(s.new_id(), s.new_id(), ROLE_CUSTOMER),
        customer_dial=dial,
        caller_id_number=req.caller_id_number,
        caller_id_name=req.caller_id_name,
        ring_timeout_s=timeout,
        started_at=s.now,
    )
    s.c2d.add(session)
    if agent.state is AgentState.NOT_READY and agent.pending_not_ready is None:
        agent.pending_not_ready = agent.reason  # back to not ready, same reason, after the call
    agent.click_to_dial = call_id
    settle.agent_apply(s, agent, AgentEvent.DIAL, "click-to-dial")
    s.cmd(
        Originate(
            uuid=session.agent.uuid,
            dial_string=endpoint,
            job_uuid=session.agent.job_uuid,
            variables=_variables(session, ROLE_AGENT),
            caller_id_number=digits,  # the agent's phone shows whom it is about to call
            caller_id_name="click-to-dial",
            timeout_s=timeout,
            application="park",
        )
    )
    _arm(s, session, Timer.RING)


def _variables(session: Session, role: str) -> dict[str, str]:
    variables = {"ctilink_call_id": session.call_id, "ctilink_role": role, "ctilink_click_to_dial": session.call_id}
    if role == ROLE_AGENT:
        variables["ctilink_agent_id"] = session.agent_id
    return variables


# ---------------------------------------------------------------------------------- switch inputs


def on_channel(s: EngineState, ev: ChannelEvent) -> bool:
    """A channel event; True if it was about a click-to-dial leg (then it is handled here only)."""
    session = s.c2d.by_uuid.get(ev.uuid)
    if session is None:
        return False
    leg = session.leg(ev.uuid)
    if ev.node and not session.node:
        session.node = ev.node
    if leg.alive:
        leg.seen = True
    if isinstance(ev, ChannelHungUp):
        _leg_gone(s, session, leg, ev.cause, ev.sip_code)
    elif isinstance(ev, ChannelAnswered):
        _leg_answered(s, session, leg)
    elif isinstance(ev, ChannelBridged):
        if ev.other_uuid in (None, _partner(session, leg).uuid) and leg.alive:
            _run(s, session, Trigger.BRIDGED)
    elif isinstance(ev, (ChannelCreated, ChannelProgress, ChannelParked)):
        if session.state is ClickToDialState.ENDING and leg.alive and leg.hangup_sent:
            _run(s, session, Trigger.LEG_UP, leg)
    return True


def on_job(s: EngineState, ev: JobCompleted) -> bool:
    """An originate's job result; True if it was one of a click-to-dial's."""
    session = s.c2d.by_job.get(ev.job_uuid)
    if session is None:
        return False
    leg = session.agent if ev.job_uuid == session.agent.job_uuid else session.customer
    if leg.job_done or not leg.alive:
        return True  # a late or repeated result about a leg already settled
    leg.job_done = True
    if ev.ok:
        if leg.answered_at is None:
            _leg_answered(s, session, leg)  # the answer event was lost or is late: the job says so
        elif session.state is ClickToDialState.ENDING:
            if leg.hangup_sent:
                _run(s, session, Trigger.LEG_UP, leg)
        else:
            _run(s, session, Trigger.JOB_RETURNED, leg)
        return True
    if leg.answered_at is not None:
        # Channel events are the truth about a leg: this one answered, so the -ERR only says how
        # its originate ended (e.g. ORIGINATOR_CANCEL); the leg lives until its hang-up.
        log.warning("click-to-dial originate failed for a leg that answered", uuid=leg.uuid, job=ev.body.strip()[:80])
        if session.state is not ClickToDialState.ENDING:
            _run(s, session, Trigger.JOB_RETURNED, leg)
        return True
    parts = ev.body.split()
    cause = parts[1] if len(parts) > 1 and CAUSE_RE.match(parts[1]) else "NORMAL_TEMPORARY_FAILURE"
    _leg_gone(s, session, leg, cause, None)
    return True


def on_command_failed(s: EngineState, ev: CommandFailed) -> bool:
    """A command that never took effect; True if it was about a click-to-dial."""
    session = s.c2d.by_job.get(ev.job_uuid) if ev.job_uuid is not None else None
    if session is not None:
        leg = session.agent if ev.job_uuid == session.agent.job_uuid else session.customer
        if leg.alive and not leg.seen and not leg.job_done:
            # The originate never reached the switch (or it refused the command): no leg exists.
            leg.job_done = True
            _leg_gone(s, session, leg, "NOT_SENT", None, not_sent=True)
        return True
    session = s.c2d.by_uuid.get(ev.uuid) if ev.uuid is not None else None
    if session is None:
        return False
    if ev.command == "Bridge" and session.state in (ClickToDialState.CONNECTED, ClickToDialState.ENDING):
        _run(s, session, Trigger.BRIDGE_FAILED, reason="bridge-failed")
    return True  # a refused Hangup of a leg already gone: its channel events keep the truth


def resynced(s: EngineState, ev: Resynced) -> None:
    """After a (re)connect the node has exactly ``ev.uuids``."""
    alive = set(ev.uuids)
    for session in s.c2d.on_node(ev.node):
        missing = [leg for leg in session.legs() if leg.alive and leg.seen and leg.uuid not in alive]
        for leg in missing:
            leg.hangup_sent = True  # gone already: a Hangup would kill a channel the switch no longer has
        for leg in missing:
            if session.state is not ClickToDialState.ENDED:
                _leg_gone(s, session, leg, "gone-while-disconnected", None)
        if session.state in (
            ClickToDialState.RINGING_AGENT,
            ClickToDialState.DIALING_CUSTOMER,
            ClickToDialState.CONNECTED,
        ):
            _run(s, session, Trigger.RECONNECTED, reason="reconnected")


def shutdown(s: EngineState, node: str) -> None:
    """The node is going down: its click-to-dial legs go with it (nothing to hang up)."""
    for session in s.c2d.on_node(node):
        for leg in session.legs():
            leg.alive = False
        _run(s, session, Trigger.SWITCH_GONE, reason="switch-shutdown")


def adopt(s: EngineState, agent_leg: Found, customer: Found) -> None:
    """Take back a bridged click-to-dial pair a resync found (after a daemon restart)."""
    agent = s.agents.get(agent_leg.variables.get("ctilink_agent_id", ""))
    call_id = agent_leg.call_id
    if agent is None or agent.click_to_dial is not None or call_id in s.c2d.by_id:
        # Not ours to run (an agent this configuration lacks, an id in use): leave the pair to
        # FreeSWITCH; its channels carry ctilink_role, so nobody takes them for a private call.
        log.warning("not adopting a click-to-dial call found after a reconnect", call_id=call_id, uuid=agent_leg.uuid)
        return
    now = s.now
    legs = []
    for found, role in ((agent_leg, ROLE_AGENT), (customer, ROLE_CUSTOMER)):
        legs.append(C2DLeg(found.uuid, f"adopted:{found.uuid}", role, True, True, now, True))
    session = Session(
        call_id=call_id,
        agent_id=agent.id,
        number=customer.destination_number,
        agent=legs[0],
        customer=legs[1],
        customer_dial="",
        caller_id_number=customer.caller_number,
        caller_id_name=customer.caller_name,
        ring_timeout_s=0,
        started_at=now,
        node=agent_leg.node,
        state=ClickToDialState.BRIDGED,
        agent_result=OfferOutcome.ANSWERED,
        agent_result_at=now,
        bridge_sent=True,
    )
    s.c2d.add(session)
    # As for an adopted ACD call: a session-less agent logs out after it, a not-ready one is not
    # ready again after it, a wrap-up in progress is over.
    if agent.state is AgentState.LOGGED_OUT:
        agent.pending_logout = True
    elif agent.state is AgentState.NOT_READY:
        agent.pending_not_ready = agent.reason
    elif agent.state is AgentState.WRAP_UP:
        settle.finish_wrap_legs(s, agent)
    agent.reservation = None  # a campaign's hold is moot: the agent is on a call
    agent.click_to_dial = call_id
    settle.agent_apply(s, agent, AgentEvent.ADOPT, "click-to-dial")


# ---------------------------------------------------------------------------------- timers


def timer_valid(s: EngineState, kind: str, key: str, token: int) -> bool:
    session = s.c2d.by_id.get(key)
    spec = TIMERS[Timer(kind.removeprefix(TIMER_PREFIX))]
    return session is not None and session.token == token and session.state is spec.armed_in


def fire(s: EngineState, kind: str, key: str) -> None:
    session = s.c2d.by_id[key]
    timer = Timer(kind.removeprefix(TIMER_PREFIX))
    if timer is Timer.RING:
        _agent_result(s, session, OfferOutcome.NO_ANSWER)
    _run(s, session, TIMERS[timer].fires)


def _arm(s: EngineState, session: Session, timer: Timer) -> None:
    seconds = TIMERS[timer].seconds(s.config, session)
    s.timer(s.now + seconds, TIMER_PREFIX + timer.value, session.call_id, session.token)


# ---------------------------------------------------------------------------------- classifying


def _partner(session: Session, leg: C2DLeg) -> C2DLeg:
    return session.customer if leg is session.agent else session.agent


def _leg_answered(s: EngineState, session: Session, leg: C2DLeg) -> None:
    if session.state is ClickToDialState.ENDING:
        if leg.alive and leg.hangup_sent:
            _run(s, session, Trigger.LEG_UP, leg)
        return
    if leg.answered_at is not None or not leg.alive:
        return
    leg.answered_at = s.now
    if leg is session.agent:
        _agent_result(s, session, OfferOutcome.ANSWERED)
        _run(s, session, Trigger.AGENT_ANSWERED, leg)
    else:
        _run(s, session, Trigger.CUSTOMER_ANSWERED, leg)


def _leg_gone(
    s: EngineState, session: Session, leg: C2DLeg, cause: str, sip_code: int | None, not_sent: bool = False
) -> None:
    """The switch says the leg no longer exists (hang-up, failed originate, gone after a reconnect)."""
    if not leg.alive:
        return
    leg.alive = False
    is_agent = leg is session.agent
    if session.state is ClickToDialState.ENDING:
        trigger = Trigger.LEG_GONE if any(other.alive for other in session.legs()) else Trigger.LAST_LEG_GONE
    elif leg.answered_at is not None:
        trigger = Trigger.AGENT_HUNG_UP if is_agent else Trigger.CUSTOMER_HUNG_UP
    else:
        result = (
            OfferOutcome.NOT_SENT if not_sent else offer_outcome(cause, sip_code)
        )  # the ACD's own mapping: the two never disagree
        if is_agent:
            _agent_result(s, session, result)
        no_answer = result in (OfferOutcome.NO_ANSWER, OfferOutcome.BUSY, OfferOutcome.REJECTED)
        if is_agent:
            trigger = Trigger.AGENT_NO_ANSWER if no_answer else Trigger.AGENT_FAILED
        else:
            trigger = Trigger.CUSTOMER_NO_ANSWER if no_answer else Trigger.CUSTOMER_FAILED
    _run(s, session, trigger, leg, reason=cause)
    if is_agent:
        _free_agent(s, session)  # their phone is free: so are they, even if the customer lingers


def _agent_result(s: EngineState, session: Session, result: OfferOutcome) -> None:
    if session.agent_result is None:
        session.agent_result = result
        session.agent_result_at = s.now


# ---------------------------------------------------------------------------------- doing


def _run(
    s: EngineState, session: Session, trigger: Trigger, leg: C2DLeg | None = None, reason: str | None = None
) -> None:
    """Apply one trigger: the table's step, its action, the new state's timer."""
    before = session.state
    step = session.apply(trigger)
    if step.outcome is not None and session.outcome is None:
        session.outcome = step.outcome
        session.end_reason = reason or trigger.value
    if before in (ClickToDialState.CONNECTED, ClickToDialState.BRIDGED) and session.state is not before:
        session.talk_ended_at = s.now
    _ACTIONS[step.action](s, session, leg)
    if session.state is not before:
        timer = TIMER_ON_ENTRY.get(session.state)
        if timer is not None:
            _arm(s, session, timer)
    if session.state is ClickToDialState.ENDING and not any(other.alive for other in session.legs()):
        _run(s, session, Trigger.LAST_LEG_GONE)  # nothing left to wait for


def _do_nothing(s: EngineState, session: Session, leg: C2DLeg | None) -> None:
    return None


def _dial_customer(s: EngineState, session: Session, leg: C2DLeg | None) -> None:
    customer = session.customer
    customer.alive = True
    s.cmd(
        Originate(
            uuid=customer.uuid,
            dial_string=session.customer_dial,
            job_uuid=customer.job_uuid,
            variables=_variables(session, ROLE_CUSTOMER),
            caller_id_number=session.caller_id_number,
            caller_id_name=session.caller_id_name,
            timeout_s=session.ring_timeout_s,
            application="park",
            node=session.node,
        )
    )


def _bridge(s: EngineState, session: Session, leg: C2DLeg | None) -> None:
    # FreeSWITCH's originate owns its leg until its job returns; a uuid_bridge before then cancels
    # that originate (ORIGINATOR_CANCEL). The later of the two +OKs sends the bridge.
    agent, customer = session.agent, session.customer
    if session.bridge_sent or not (agent.job_done and customer.job_done and agent.alive and customer.alive):
        return
    session.bridge_sent = True
    s.cmd(Bridge(agent.uuid, customer.uuid, node=session.node))


def _hang_up_rest(s: EngineState, session: Session, leg: C2DLeg | None) -> None:
    for other in session.legs():
        if other.alive and not other.hangup_sent:
            other.hangup_sent = True
            cause = "NORMAL_CLEARING" if other.answered_at is not None else "ORIGINATOR_CANCEL"
            s.cmd(Hangup(other.uuid, cause, node=session.node))


def _await_partner(s: EngineState, session: Session, leg: C2DLeg | None) -> None:
    # The survivor of a bridged pair is ended by FreeSWITCH (often it is what ended the first):
    # hanging it up at once would kill a channel that may already be gone.
    _arm(s, session, Timer.REAP)


def _kill_leg(s: EngineState, session: Session, leg: C2DLeg | None) -> None:
    if leg is not None and leg.alive:
        s.cmd(Hangup(leg.uuid, "LOSE_RACE", node=session.node))  # a zombie: it lives after we let go


def _forget(s: EngineState, session: Session, leg: C2DLeg | None) -> None:
    for other in session.legs():
        if other.alive:
            log.warning("click-to-dial leg never confirmed its end; forgetting it", uuid=other.uuid)
            other.alive = False
            s.remember_dead(other.uuid)  # any later sign of life gets a Hangup
    _finish(s, session, leg)


def _finish(s: EngineState, session: Session, leg: C2DLeg | None) -> None:
    _free_agent(s, session)
    s.c2d.drop(session)
    s.note(CallEnded(record(session, s.now)))


_ACTIONS: dict[Action, Callable[[EngineState, Session, C2DLeg | None], None]] = {
    Action.NOTHING: _do_nothing,
    Action.DIAL_CUSTOMER: _dial_customer,
    Action.BRIDGE: _bridge,
    Action.HANG_UP_REST: _hang_up_rest,
    Action.AWAIT_PARTNER: _await_partner,
    Action.KILL_LEG: _kill_leg,
    Action.FORGET: _forget,
    Action.FINISH: _finish,
}


def _free_agent(s: EngineState, session: Session) -> None:
    agent = s.agents.get(session.agent_id)
    if agent is None or agent.click_to_dial != session.call_id:
        return  # freed already (their leg went first)
    agent.click_to_dial = None
    s.dirty_agents[agent.id] = None
    talk = session.talk_s if session.talk_ended_at is not None else 0.0
    agent.talk_time_s += talk
    talking = any(s.legs[u].state is LegState.CONNECTED for u in agent.legs if u in s.legs)
    if agent.state is AgentState.ON_CALL and not talking:
        event, reason = settle.settle_event(s, agent, Moment.HANGUP)
        settle.agent_apply(s, agent, event, reason or "click-to-dial-ended")
