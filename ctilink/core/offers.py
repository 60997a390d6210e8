"""Offers and agent legs: ring an agent, decide the offer's outcome once, answer, bridge, end.

Rules:
- An offer is an ``Originate`` of an agent leg with a ctilink-chosen uuid, parked on answer. Its
  *outcome* is decided once (:func:`leg_outcome`): answered, no-answer, busy, rejected, failed,
  cancelled or not sent. The one no-answer / busy / reject policy lives there: the agent's rest
  (``*_delay_s``), the no-answer streak and the pause after ``max_no_answer``.
- Hang-up causes are classified with the table shared with the dialer
  (:data:`OFFER_OUTCOMES`, ``ctilink.core.causes``): a cancel is nobody's refusal.
- A leg we hang up stays ``CANCELLING`` until the switch confirms its end (or ``cancel_grace_s``),
  and its agent stays reserved until then: no phone rings twice, no agent is stuck.
- An answered leg is bridged only once its originate's job has returned ``+OK``: before that
  FreeSWITCH's originate thread owns the leg and a ``uuid_bridge`` cancels it (ORIGINATOR_CANCEL).
  The bridge cuts hold music first (``Break``), so the agent never hears dead air.
- A bridged pair is ended by FreeSWITCH itself: the survivor is hung up only if it is still there
  after ``partner_hangup_grace_s``.
- Channel events are the truth about a leg; a job result only says how its originate went.

Theory: a call whose last ringing offer failed is marked in ``exhausted``; queueing puts it back
in its place from the engine's drain loop (this module never calls queueing).
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from ctilink.commands import Break, Bridge, Hangup, Originate
from ctilink.core import pools, settle
from ctilink.core.agent import TRANSITIONS, Agent, AgentEvent, AgentState, Hold
from ctilink.core.call import Call, CallEvent, CallState, Leg, LegEvent, LegState, OfferOutcome
from ctilink.core.causes import CauseClass, classify
from ctilink.core.config import CAUSE_RE
from ctilink.core.notifications import CallAnswered, CallOffered, OfferResult
from ctilink.core.queue import QueueRuntime
from ctilink.core.settle import Moment
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
    JobCompleted,
)
from ctilink.values import display_caller_id

log = structlog.get_logger("ctilink.core")


#: An unanswered agent leg's offer outcome, by the hang-up class shared with the dialer
#: (ctilink.core.causes): a cancel is nobody's refusal, so it costs the agent nothing.
OFFER_OUTCOMES: Mapping[CauseClass, OfferOutcome] = {
    CauseClass.BUSY: OfferOutcome.BUSY,
    CauseClass.REJECTED: OfferOutcome.REJECTED,
    CauseClass.NO_ANSWER: OfferOutcome.NO_ANSWER,
    CauseClass.CANCELLED: OfferOutcome.CANCELLED,
    CauseClass.FAILED: OfferOutcome.FAILED,
}


def offer_outcome(cause: str, sip_code: int | None = None) -> OfferOutcome:
    """Map a hangup cause (and SIP code) of an unanswered agent leg to the offer's outcome."""
    return OFFER_OUTCOMES[classify(cause, sip_code)]


def _agent_leg_variables(call: Call, agent: Agent, rt: QueueRuntime | None) -> dict[str, str]:
    variables = {"ctilink_call_id": call.call_id, "ctilink_role": "agent", "ctilink_agent_id": agent.id}
    if rt is not None and rt.config.auto_answer:
        variables["sip_auto_answer"] = "true"  # FreeSWITCH: Call-Info answer-after=0, intercom=true
    return variables


def offer(s: EngineState, call: Call, agent: Agent) -> None:
    now = s.now
    rt = s.queues.get(call.queue or "")
    timeout = rt.config.ring_timeout_s if rt is not None else 30
    endpoint = agent.usable_endpoint()
    assert endpoint is not None
    leg_uuid = s.new_id()
    job_uuid = s.new_id()
    call.attempts += 1
    leg = Leg(
        uuid=leg_uuid,
        job_uuid=job_uuid,
        call_id=call.call_id,
        agent_id=agent.id,
        attempt=call.attempts,
        queue=call.queue or "",
        node=call.node,
        offered_at=now,
    )
    s.legs[leg_uuid] = leg
    s.jobs[job_uuid] = leg
    call.ringing[leg_uuid] = leg
    call.legs.append(leg)
    agent.legs[leg_uuid] = call.call_id
    # The agent's phone shows what it safely can; the call keeps the caller's original number.
    number, name = display_caller_id(call.caller_number)
    s.cmd(
        Originate(
            uuid=leg_uuid,
            dial_string=endpoint,
            job_uuid=job_uuid,
            variables=_agent_leg_variables(call, agent, rt),
            caller_id_number=number,
            caller_id_name=name,
            timeout_s=timeout,
            application="park",
            node=call.node,
        )
    )
    settle.agent_apply(s, agent, AgentEvent.OFFER, call.queue)
    pools.pull(s, agent)
    pools.refresh(s, agent)
    s.timer(now + timeout + s.config.ring_grace_s, Timer.RING, leg_uuid, leg.token)
    s.note(CallOffered(call.call_id, agent.id, leg_uuid, leg.attempt, call.queue or "", now))


def leg_outcome(s: EngineState, leg: Leg, outcome: OfferOutcome, kill_cause: str) -> None:
    """Decide an offer's outcome once; hang the leg up if it is still on its way."""
    if leg.result is not None:
        return
    now = s.now
    leg.result = outcome
    leg.result_at = now
    s.note(OfferResult(leg.call_id, leg.agent_id, leg.uuid, outcome, now))
    agent = s.agents.get(leg.agent_id)
    if agent is not None:
        cfg = s.config
        if outcome in (OfferOutcome.NO_ANSWER, OfferOutcome.FAILED):
            agent.no_answer_streak += 1
            agent.pending_delay = max(agent.pending_delay, cfg.no_answer_delay_s)
            if cfg.max_no_answer and agent.no_answer_streak >= cfg.max_no_answer and agent.pending_not_ready is None:
                agent.pending_not_ready = "no-answer"
        elif outcome in (OfferOutcome.BUSY, OfferOutcome.NOT_SENT):
            # NOT_SENT is not the agent's fault (no streak, no pause): the short rest only keeps
            # a command the switch keeps refusing from being retried in a tight loop.
            agent.pending_delay = max(agent.pending_delay, cfg.busy_delay_s)
        elif outcome is OfferOutcome.REJECTED:
            agent.pending_delay = max(agent.pending_delay, cfg.reject_delay_s)
        elif outcome is OfferOutcome.ANSWERED:
            agent.no_answer_streak = 0
    # A leg still on its way is hung up, unless its originate never reached the switch.
    if outcome not in (OfferOutcome.ANSWERED, OfferOutcome.NOT_SENT) and leg.state in (
        LegState.ORIGINATING,
        LegState.RINGING,
    ):
        cancel_leg(s, leg, kill_cause)
    call = s.calls.get(leg.call_id)
    if call is not None and call.ringing.pop(leg.uuid, None) is not None:
        if outcome not in (OfferOutcome.ANSWERED, OfferOutcome.CANCELLED):
            call.last_failed_agent = leg.agent_id
        if outcome is not OfferOutcome.ANSWERED and call.state is CallState.OFFERING and not call.ringing:
            s.exhausted[call.call_id] = None  # queueing puts it back, from the drain loop


def cancel_leg(s: EngineState, leg: Leg, cause: str) -> None:
    s.cmd(Hangup(leg.uuid, cause, node=leg.node))
    leg.apply(LegEvent.CANCEL)
    leg.token += 1
    s.timer(s.now + s.config.cancel_grace_s, Timer.GRACE, leg.uuid, leg.token)


def leg_answered(s: EngineState, leg: Leg) -> None:
    now = s.now
    if leg.state is LegState.CANCELLING:
        s.cmd(Hangup(leg.uuid, "LOSE_RACE", node=leg.node))  # a zombie: it answered after we let go
        return
    if leg.state not in (LegState.ORIGINATING, LegState.RINGING):
        return
    call = s.calls.get(leg.call_id)
    agent = s.agents.get(leg.agent_id)
    # Validate the agent's side before anything changes: a leg its agent cannot be put on the
    # call for is a leg the engine no longer wants, and is hung up (never bridged half-way).
    agent_ok = agent is None or AgentEvent.ANSWER in TRANSITIONS[agent.state]
    if call is None or call.state is not CallState.OFFERING or leg.uuid not in call.ringing or not agent_ok:
        if not agent_ok:
            assert agent is not None
            log.warning(
                "agent leg answered but its agent cannot take it; hanging up",
                uuid=leg.uuid,
                agent_id=leg.agent_id,
                state=agent.state.value,
            )
        leg_outcome(s, leg, OfferOutcome.CANCELLED, "LOSE_RACE")
        after: LegState = leg.state  # _leg_outcome may have started the cancel already
        if after is not LegState.CANCELLING:
            cancel_leg(s, leg, "LOSE_RACE")
        return
    leg.apply(LegEvent.ANSWER)
    leg.answered_at = now
    leg.token += 1
    wait = max(0.0, now - call.wait_since) if call.wait_since is not None else 0.0
    call.stop_waiting(now)
    call.apply(CallEvent.ANSWER)
    call.connected = leg
    leg_outcome(s, leg, OfferOutcome.ANSWERED, "")
    for other in list(call.ringing.values()):  # ring-all losers: no-one else may answer now
        leg_outcome(s, other, OfferOutcome.CANCELLED, "LOSE_RACE")
    call.target_agent = None
    call.waiting_key = None
    call.timer_token += 1
    call.pending_moh = False
    rt = s.queues.get(call.queue or "")
    if call.answered_at is None:
        call.answered_at = now
        if rt is not None:
            call.service_level_met = wait <= rt.config.service_level_s
    if leg.job_done:
        bridge(s, call, leg)
    else:
        # The originate still owns the leg: bridging it now would make FreeSWITCH cancel that
        # originate (ORIGINATOR_CANCEL) under the answered leg. Its job's +OK bridges it.
        leg.bridge_pending = True
    if agent is not None:
        agent.calls_answered += 1
        if agent.state is AgentState.WRAP_UP:
            settle.finish_wrap_legs(s, agent)  # a line that rang on was picked up: wrap-up is over
        settle.agent_apply(s, agent, AgentEvent.ANSWER, call.queue)
        pools.pull(s, agent)
    s.note(CallAnswered(call.call_id, leg.agent_id, leg.uuid, call.queue or "", wait, now))


def bridge(s: EngineState, call: Call, leg: Leg) -> None:
    """Join the caller to the answered agent leg (its originate has returned)."""
    leg.bridge_pending = False
    # Cut hold music / an announcement at once so the agent never gets dead air, then bridge.
    s.cmd(Break(call.uuid, node=call.node))
    s.cmd(Bridge(call.uuid, leg.uuid, node=call.node))


def bridge_if_pending(s: EngineState, leg: Leg) -> None:
    if not leg.bridge_pending:
        return
    leg.bridge_pending = False
    call = s.calls.get(leg.call_id)
    if (
        call is not None
        and call.state is CallState.CONNECTED
        and call.connected is leg
        and leg.state is LegState.CONNECTED
    ):
        bridge(s, call, leg)


def leg_gone(s: EngineState, leg: Leg, cause: str, sip_code: int | None = None) -> None:
    """The switch says the agent leg no longer exists (hangup or failed originate)."""
    if leg.state is LegState.GONE:
        return
    previous = leg.state
    leg.apply(LegEvent.END)
    leg.token += 1
    if leg.result is None:
        leg_outcome(s, leg, offer_outcome(cause, sip_code), cause)
    if previous is LegState.CONNECTED:
        call = s.calls.get(leg.call_id)
        was_connected = call is not None and call.connected is leg
        end_talk(s, leg, kill=False)
        if was_connected and call is not None and call.state is CallState.CONNECTED:
            # The agent's side is over; make sure the customer leg follows. A bridged customer
            # is ended by FreeSWITCH itself (often its own hang-up is what ended this leg):
            # hang it up only if it is still there after a grace.
            if leg.switch_ends_it:
                call.timer_token += 1
                s.timer(s.now + s.config.partner_hangup_grace_s, Timer.REAP_CALL, call.call_id, call.timer_token)
            else:
                s.cmd(Hangup(call.uuid, "NORMAL_CLEARING", node=call.node))
    s.legs.pop(leg.uuid, None)
    s.jobs.pop(leg.job_uuid, None)
    agent = s.agents.get(leg.agent_id)
    if agent is None:
        return
    agent.legs.pop(leg.uuid, None)
    s.dirty_agents[agent.id] = None
    if agent.hold is Hold.RINGING and not agent.legs:  # the last offer ringing them is over
        delay = agent.pending_delay
        agent.pending_delay = 0.0
        event = settle.settle(s, agent, Moment.OFFER_CLOSED, leg.result.value if leg.result else None)
        if event is AgentEvent.OFFER_CLOSED:
            if delay > 0:
                agent.delayed_until = s.now + delay
                agent.delay_token += 1
                s.timer(agent.delayed_until, Timer.DELAY, agent.id, agent.delay_token)


def end_talk(s: EngineState, leg: Leg, kill: bool) -> None:
    """An agent's talk segment is over (customer gone, agent gone, or transferred away)."""
    if leg.answered_at is None or leg.talk_ended_at is not None:
        return
    now = s.now
    leg.end_talk(now)
    call = s.calls.get(leg.call_id)
    if call is not None and call.connected is leg:
        call.connected = None
    if kill and leg.state is LegState.CONNECTED:
        if leg.switch_ends_it:
            # FreeSWITCH ends a uuid_bridge partner itself: wait for its hang-up, then reap.
            leg.apply(LegEvent.CANCEL)
            leg.token += 1
            s.timer(s.now + s.config.partner_hangup_grace_s, Timer.REAP_LEG, leg.uuid, leg.token)
            s.timer(s.now + s.config.cancel_grace_s, Timer.GRACE, leg.uuid, leg.token)
        else:
            cancel_leg(s, leg, "NORMAL_CLEARING")
    agent = s.agents.get(leg.agent_id)
    if agent is None:
        return
    agent.talk_time_s += leg.talk_s
    rt = s.queues.get(leg.queue)
    still_talking = any(
        s.legs[u].answered_at is not None and s.legs[u].talk_ended_at is None for u in agent.legs if u in s.legs
    )
    if still_talking or agent.state is not AgentState.ON_CALL:
        if rt is not None:
            rt.note_handle_time(leg.talk_s)
        return
    wrap = (
        agent.profile.wrap_up_s
        if agent.profile.wrap_up_s is not None
        else (rt.config.wrap_up_s if rt is not None else 0.0)
    )
    if wrap > 0:
        leg.wrap_started = now
        if call is not None:
            call.wrap_pending += 1
        s.wrap_legs.setdefault(agent.id, []).append(leg)
        agent.wrap_until = now + wrap
        agent.wrap_token += 1
        settle.agent_apply(s, agent, AgentEvent.HANGUP, call.queue if call else None)
        s.timer(agent.wrap_until, Timer.WRAP, agent.id, agent.wrap_token)
    else:
        if rt is not None:
            rt.note_handle_time(leg.talk_s)
        settle.settle(s, agent, Moment.HANGUP)


def on_leg_event(s: EngineState, leg: Leg, ev: ChannelEvent) -> None:
    if isinstance(ev, ChannelHungUp):
        leg_gone(s, leg, ev.cause, ev.sip_code)
    elif isinstance(ev, ChannelAnswered):
        leg_answered(s, leg)
    elif isinstance(ev, ChannelBridged):
        leg_bridged(s, leg)
    elif isinstance(ev, (ChannelCreated, ChannelProgress, ChannelParked)):
        if leg.state is LegState.CANCELLING:
            s.cmd(Hangup(leg.uuid, "LOSE_RACE", node=leg.node))
        elif leg.state is LegState.ORIGINATING:
            leg.apply(LegEvent.CREATED)
    elif isinstance(ev, ChannelHeld):
        if leg.state is LegState.CONNECTED and leg.hold_since is None:
            leg.hold_since = s.now
    elif isinstance(ev, ChannelUnheld):
        if leg.hold_since is not None:
            leg.hold_s += s.now - leg.hold_since
            leg.hold_since = None


def leg_bridged(s: EngineState, leg: Leg) -> None:
    call = s.calls.get(leg.call_id)
    if call is not None and call.connected is leg:
        leg.switch_ends_it = True
        leg.bridge_pending = False  # the switch says it is done: never bridge it twice


def on_command_failed(s: EngineState, ev: CommandFailed) -> None:
    """A command never took effect. For an originate, the offer failed through no fault of the
    agent: their leg never existed, the call keeps its place and is offered again."""
    # (Logged once, by the link that saw it fail.)
    leg = s.jobs.get(ev.job_uuid) if ev.job_uuid is not None else None
    if leg is None or leg.state not in (LegState.ORIGINATING, LegState.RINGING):
        return  # the channel events keep the truth about legs that exist
    leg.job_done = True
    leg_outcome(s, leg, OfferOutcome.NOT_SENT, "")
    leg_gone(s, leg, "NORMAL_TEMPORARY_FAILURE")


def on_job(s: EngineState, ev: JobCompleted) -> None:
    leg = s.jobs.get(ev.job_uuid)
    if leg is None:
        return
    leg.job_done = True
    if ev.ok:
        if leg.state in (LegState.ORIGINATING, LegState.RINGING):
            leg_answered(s, leg)  # the answer event was lost; the job says it answered
        elif leg.state is LegState.CANCELLING:
            s.cmd(Hangup(leg.uuid, "LOSE_RACE", node=leg.node))
        else:
            bridge_if_pending(s, leg)
        return
    if leg.state is LegState.CONNECTED:
        # Channel events are the truth about a leg: this one answered, so a failed job only
        # says how the originate ended. The leg lives until a hang-up event says otherwise.
        log.warning("originate job failed for a leg that answered", uuid=leg.uuid, job=ev.body.strip()[:80])
        bridge_if_pending(s, leg)
        return
    parts = ev.body.split()
    cause = parts[1] if len(parts) > 1 and CAUSE_RE.match(parts[1]) else "NORMAL_TEMPORARY_FAILURE"
    leg_gone(s, leg, cause)
