"""Click-to-dial: ring the agent's phone, then dial the customer, then bridge the two.

Rules:
- A session is in exactly one :class:`ClickToDialState`; it changes only through
  :data:`TRANSITIONS`: ``(state, trigger) -> Step(target, action, outcome)``. Anything else is an
  :class:`~ctilink.core.errors.IllegalTransition` naming the state and the trigger. The handlers
  below only *classify* what the switch said into a trigger; the table decides what happens.
- The engine owns the sessions (``Engine._c2d``, a :class:`Sessions`), not this module: no state
  lives here between inputs. Each session is indexed by its call id, both leg uuids and both job
  uuids, and every index entry goes when the session ends.
- Both legs carry ``ctilink_call_id`` (the session's call id, from the engine's id factory),
  ``ctilink_role`` (:data:`ROLE_AGENT` / :data:`ROLE_CUSTOMER`, never ``agent`` / ``customer``: a
  restart's adoption must not take them for an ACD leg without its customer, nor for an inbound
  caller) and ``ctilink_click_to_dial``; the agent leg also ``ctilink_agent_id``.
- The agent is ``ON_CALL`` (reason ``click-to-dial``, agent event ``DIAL``) from the request until
  their own leg is confirmed gone, and out of routing all that time (``Agent.click_to_dial``); then
  they settle as after any call without wrap-up (``hangup-no-wrap``, or ``hangup-pause`` /
  ``hangup-logout`` for a wish made meanwhile; a not-ready agent goes back to not ready with the
  same reason).
- FreeSWITCH's rules, as for ACD legs: channel events are the truth about a leg and a job result
  only says how its originate went (a ``-ERR`` for a leg that answered is logged, not taken for a
  hang-up); an originate owns its leg until its job returns, so the bridge waits for *both* jobs;
  a bridged pair is ended by FreeSWITCH itself, so the survivor is hung up only if it is still
  there after ``partner_hangup_grace_s``. A leg that must go is hung up once and the session waits
  (``ENDING``) for the switch to confirm; if that never comes, the cleanup timer gives up and the
  engine remembers the uuid as dead (any later sign of life is killed).
- Every session ends exactly once, with one ``CallEnded`` carrying a :class:`ClickToDialRecord`
  (``direction="outbound"``, ``origin="click-to-dial"``) whose ``outcome`` says what FreeSWITCH
  did: ``answered``, ``agent-no-answer``, ``customer-no-answer`` or ``failed``. The shared
  ``disposition`` field is ``answered`` for the first and ``failed`` otherwise (the call record's
  vocabulary has no no-answer yet); ``end_reason`` is the cause that decided it.

Theory of operation:
- ``ClickToDial`` (validated before anything changes: agent available or not ready, a dialable
  number that is not on the do-not-call list, a dial string the template makes) -> the agent goes
  on-call, their first reachable endpoint is originated (parked), the ring timer starts:
  ``RINGING_AGENT``.
- The agent answers (``CHANNEL_ANSWER``, or their originate's ``+OK`` standing in for a lost one)
  -> the customer is originated with the request's caller id: ``DIALING_CUSTOMER``, dial timer.
- The customer answers -> ``CONNECTED``; the ``Bridge`` goes out once both originates have
  returned (the later ``+OK`` sends it). ``CHANNEL_BRIDGE`` -> ``BRIDGED``.
- Anything that ends it (a leg failing or hanging up, a timer, a refused bridge, a reconnect) ->
  ``ENDING`` with the live legs hung up (or, once bridged, left to FreeSWITCH for a grace), or
  ``ENDED`` at once when no leg is left. ``ENDED`` frees the agent, writes the record and drops
  the session.
- After a reconnect (``Resynced``) a session the switch no longer fully has loses the missing
  legs (no hang-up for a channel that is gone); one not yet bridged is ended (its originates
  belonged to the old connection: their job results will never come); a bridged pair carries on.
  A daemon restart finds bridged click-to-dial pairs in the resync and adopts them as ``BRIDGED``
  sessions (``ctilink.core.adoption``); unbridged click-to-dial legs are hung up.

What it must never know about: ESL text, sockets, persistence. It uses a small, fixed part of the
engine: ``_now``, ``config``, ``_new_id``, ``_cmd``, ``_note``, ``_timer``, ``_agent``,
``_agents``, ``_legs``, ``_agent_apply``, ``_settle_event``, ``_finish_wrap_legs``,
``_remember_dead``, ``_dirty_agents`` and ``ensure_dialable``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

import structlog

from ctilink.commands import MAX_TIMEOUT_S, Bridge, Hangup, Originate
from ctilink.core import requests as rq
from ctilink.core.agent import AgentEvent, AgentState, transition
from ctilink.core.call import CallRecord, Disposition, LegState, OfferOutcome, OfferRecord
from ctilink.core.errors import AgentUnavailable, IllegalTransition, InvalidValue
from ctilink.core.notifications import CallEnded
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

if TYPE_CHECKING:
    from ctilink.core.adoption import Found
    from ctilink.core.config import EngineConfig
    from ctilink.core.engine import Engine

log = structlog.get_logger("ctilink.core.click_to_dial")

#: ``ctilink_role`` of the two legs (distinct from the ACD's ``agent`` / ``customer``).
ROLE_AGENT = "c2d-agent"
ROLE_CUSTOMER = "c2d-customer"
ROLES = frozenset({ROLE_AGENT, ROLE_CUSTOMER})
#: Engine timer kinds of this module start with this (``c2d:ring``, ...).
TIMER_PREFIX = "c2d:"

_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")
_CAUSE = re.compile(r"^[A-Z_]{1,40}$")


@dataclass(frozen=True, slots=True)
class ClickToDial(rq.Request):
    """Ring ``agent_id``'s phone, then dial ``number`` and connect the two."""

    agent_id: str
    number: str
    dial_template: str = "sofia/gateway/default/{number}"
    caller_id_number: str | None = None
    caller_id_name: str | None = None
    ring_timeout_s: int = 30


class ClickToDialState(StrEnum):
    RINGING_AGENT = "ringing-agent"  # the agent's originate is out
    DIALING_CUSTOMER = "dialing-customer"  # the agent answered; the customer's originate is out
    CONNECTED = "connected"  # the customer answered; the bridge waits for both originates' jobs
    BRIDGED = "bridged"  # the switch reported the bridge: it ends the pair itself
    ENDING = "ending"  # outcome decided; waiting for the switch to confirm the legs are gone
    ENDED = "ended"  # terminal: agent freed, record written, session dropped


class Trigger(StrEnum):
    AGENT_ANSWERED = "agent-answered"
    AGENT_NO_ANSWER = "agent-no-answer"  # gone before answering: no answer, busy, rejected
    AGENT_FAILED = "agent-failed"  # gone before answering for any other reason, or never sent
    AGENT_HUNG_UP = "agent-hung-up"  # gone after answering
    CUSTOMER_ANSWERED = "customer-answered"
    CUSTOMER_NO_ANSWER = "customer-no-answer"
    CUSTOMER_FAILED = "customer-failed"
    CUSTOMER_HUNG_UP = "customer-hung-up"
    JOB_RETURNED = "job-returned"  # an answered leg's originate returned: it may be bridged now
    BRIDGED = "bridged"
    BRIDGE_FAILED = "bridge-failed"  # the switch refused the uuid_bridge (CommandFailed)
    RING_TIMEOUT = "ring-timeout"
    DIAL_TIMEOUT = "dial-timeout"
    REAP_TIMEOUT = "reap-timeout"
    CLEANUP_TIMEOUT = "cleanup-timeout"
    LEG_UP = "leg-up"  # a leg being ended showed life (answered, parked, job +OK)
    LEG_GONE = "leg-gone"  # (ENDING) one leg confirmed gone, another is still there
    LAST_LEG_GONE = "last-leg-gone"  # (ENDING) no leg is left
    RECONNECTED = "reconnected"  # a resync: the originates of an unbridged session are lost
    SWITCH_GONE = "switch-gone"  # the node shut down: every leg is gone with it


class Action(StrEnum):
    NOTHING = "-"
    DIAL_CUSTOMER = "dial-customer"
    BRIDGE = "bridge"  # once both originates have returned
    HANG_UP_REST = "hang-up-rest"  # every leg still there that was not hung up yet
    AWAIT_PARTNER = "await-partner"  # FreeSWITCH ends a bridged partner: reap timer only
    KILL_LEG = "kill-leg"  # the leg that showed life, again
    FORGET = "forget"  # remember unconfirmed legs as dead, then finish
    FINISH = "finish"  # free the agent, write the record, drop the session


class Outcome(StrEnum):
    """What FreeSWITCH did with the click-to-dial (the record's ``outcome``)."""

    ANSWERED = "answered"
    AGENT_NO_ANSWER = "agent-no-answer"
    CUSTOMER_NO_ANSWER = "customer-no-answer"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Step:
    target: ClickToDialState
    action: Action
    outcome: Outcome | None = None  # set once, by the first step that decides it


S = ClickToDialState
T = Trigger
A = Action
O = Outcome  # noqa: E741 - the table reads better with one-letter names

TRANSITIONS: dict[ClickToDialState, dict[Trigger, Step]] = {
    S.RINGING_AGENT: {
        T.AGENT_ANSWERED: Step(S.DIALING_CUSTOMER, A.DIAL_CUSTOMER),
        T.AGENT_NO_ANSWER: Step(S.ENDED, A.FINISH, O.AGENT_NO_ANSWER),
        T.AGENT_FAILED: Step(S.ENDED, A.FINISH, O.FAILED),
        T.RING_TIMEOUT: Step(S.ENDING, A.HANG_UP_REST, O.AGENT_NO_ANSWER),
        T.RECONNECTED: Step(S.ENDING, A.HANG_UP_REST, O.FAILED),
        T.SWITCH_GONE: Step(S.ENDED, A.FINISH, O.FAILED),
    },
    S.DIALING_CUSTOMER: {
        T.CUSTOMER_ANSWERED: Step(S.CONNECTED, A.BRIDGE),
        T.CUSTOMER_NO_ANSWER: Step(S.ENDING, A.HANG_UP_REST, O.CUSTOMER_NO_ANSWER),
        T.CUSTOMER_FAILED: Step(S.ENDING, A.HANG_UP_REST, O.FAILED),
        T.DIAL_TIMEOUT: Step(S.ENDING, A.HANG_UP_REST, O.CUSTOMER_NO_ANSWER),
        T.AGENT_HUNG_UP: Step(S.ENDING, A.HANG_UP_REST, O.CUSTOMER_NO_ANSWER),  # gave up waiting
        T.JOB_RETURNED: Step(S.DIALING_CUSTOMER, A.NOTHING),  # the agent's, after its answer
        T.RECONNECTED: Step(S.ENDING, A.HANG_UP_REST, O.FAILED),
        T.SWITCH_GONE: Step(S.ENDED, A.FINISH, O.FAILED),
    },
    S.CONNECTED: {
        T.JOB_RETURNED: Step(S.CONNECTED, A.BRIDGE),
        T.BRIDGED: Step(S.BRIDGED, A.NOTHING),
        T.AGENT_HUNG_UP: Step(S.ENDING, A.HANG_UP_REST, O.ANSWERED),
        T.CUSTOMER_HUNG_UP: Step(S.ENDING, A.HANG_UP_REST, O.ANSWERED),
        T.BRIDGE_FAILED: Step(S.ENDING, A.HANG_UP_REST, O.FAILED),
        T.RECONNECTED: Step(S.ENDING, A.HANG_UP_REST, O.FAILED),
        T.SWITCH_GONE: Step(S.ENDED, A.FINISH, O.FAILED),
    },
    S.BRIDGED: {
        T.BRIDGED: Step(S.BRIDGED, A.NOTHING),  # the other leg's report of the same bridge
        T.JOB_RETURNED: Step(S.BRIDGED, A.NOTHING),
        T.AGENT_HUNG_UP: Step(S.ENDING, A.AWAIT_PARTNER, O.ANSWERED),
        T.CUSTOMER_HUNG_UP: Step(S.ENDING, A.AWAIT_PARTNER, O.ANSWERED),
        T.SWITCH_GONE: Step(S.ENDED, A.FINISH, O.ANSWERED),
    },
    S.ENDING: {
        T.LEG_GONE: Step(S.ENDING, A.NOTHING),
        T.LAST_LEG_GONE: Step(S.ENDED, A.FINISH),
        T.LEG_UP: Step(S.ENDING, A.KILL_LEG),
        T.BRIDGED: Step(S.ENDING, A.NOTHING),  # a bridge sent before the end, reported late
        T.BRIDGE_FAILED: Step(S.ENDING, A.NOTHING),
        T.REAP_TIMEOUT: Step(S.ENDING, A.HANG_UP_REST),
        T.CLEANUP_TIMEOUT: Step(S.ENDED, A.FORGET),
        T.SWITCH_GONE: Step(S.ENDED, A.FINISH),
    },
    S.ENDED: {},
}


class Timer(StrEnum):
    RING = "ring"
    DIAL = "dial"
    REAP = "reap"
    CLEANUP = "cleanup"


@dataclass(frozen=True, slots=True)
class TimerSpec:
    armed_in: ClickToDialState  # valid only while the session is still in this state
    fires: Trigger
    seconds: Callable[[EngineConfig, Session], float]


#: The timers: which state each lives in, what it fires, how long it runs. ``TIMER_ON_ENTRY``
#: arms one when a state is entered; ``REAP`` is armed by ``AWAIT_PARTNER``.
TIMERS: dict[Timer, TimerSpec] = {
    # The engine's own backstop behind FreeSWITCH's originate_timeout (as for ACD offers).
    Timer.RING: TimerSpec(S.RINGING_AGENT, T.RING_TIMEOUT, lambda c, s: s.ring_timeout_s + c.ring_grace_s),
    Timer.DIAL: TimerSpec(S.DIALING_CUSTOMER, T.DIAL_TIMEOUT, lambda c, s: s.ring_timeout_s + c.ring_grace_s),
    Timer.REAP: TimerSpec(S.ENDING, T.REAP_TIMEOUT, lambda c, s: c.partner_hangup_grace_s),
    Timer.CLEANUP: TimerSpec(S.ENDING, T.CLEANUP_TIMEOUT, lambda c, s: c.cancel_grace_s),
}
TIMER_ON_ENTRY: dict[ClickToDialState, Timer] = {
    S.RINGING_AGENT: Timer.RING,
    S.DIALING_CUSTOMER: Timer.DIAL,
    S.ENDING: Timer.CLEANUP,
}

del S, T, A, O


@dataclass(frozen=True, slots=True)
class ClickToDialRecord(CallRecord):
    """The call record of a click-to-dial (a ``CallRecord`` the store and metrics already take).

    ``caller_number`` / ``destination_number`` / ``customer_number`` are the customer's number
    (E.164): the store indexes records by ``caller_number``, so a customer's click-to-dials are
    found with their inbound calls. ``caller_id_number`` is what the customer's phone was shown.
    """

    direction: str = "outbound"
    origin: str = "click-to-dial"
    outcome: Outcome = Outcome.FAILED
    agent_id: str = ""
    caller_id_number: str | None = None


@dataclass(slots=True, eq=False)
class C2DLeg:
    uuid: str
    job_uuid: str
    role: str
    alive: bool = False  # its originate went out and the switch has not confirmed it gone
    seen: bool = False  # the switch reported the channel
    answered_at: float | None = None
    job_done: bool = False
    hangup_sent: bool = False  # hung up by us, or known gone: never hung up again unless it shows life


@dataclass(slots=True, eq=False)
class Session:
    """One click-to-dial (owned and mutated by the engine's thread of control only)."""

    call_id: str
    agent_id: str
    number: str | None  # E.164
    agent: C2DLeg
    customer: C2DLeg
    customer_dial: str
    caller_id_number: str | None
    caller_id_name: str | None
    ring_timeout_s: int
    started_at: float
    node: str = ""  # "" until the switch reports a leg (commands then go to the only node)
    state: ClickToDialState = ClickToDialState.RINGING_AGENT
    token: int = 0  # bumps on every change of state: the old state's timers are void
    outcome: Outcome | None = None
    end_reason: str = ""
    agent_result: OfferOutcome | None = None
    agent_result_at: float | None = None
    talk_ended_at: float | None = None
    bridge_sent: bool = False

    def legs(self) -> tuple[C2DLeg, C2DLeg]:
        return (self.agent, self.customer)

    def leg(self, uuid: str) -> C2DLeg:
        return self.agent if uuid == self.agent.uuid else self.customer

    def apply(self, trigger: Trigger) -> Step:
        """Move to the table's target (IllegalTransition, changing nothing, if there is none)."""
        step = TRANSITIONS[self.state].get(trigger)
        if step is None:
            raise IllegalTransition("click-to-dial", self.call_id, self.state.value, trigger.value)
        if step.target is not self.state:
            self.state = step.target
            self.token += 1
        return step

    @property
    def talk_s(self) -> float:
        start = self.customer.answered_at
        if start is None or self.talk_ended_at is None:
            return 0.0
        return max(0.0, self.talk_ended_at - start)


@dataclass(slots=True)
class Sessions:
    """The engine's click-to-dial sessions and their indexes (one per engine, on the engine)."""

    by_id: dict[str, Session] = field(default_factory=dict)
    by_uuid: dict[str, Session] = field(default_factory=dict)
    by_job: dict[str, Session] = field(default_factory=dict)

    def add(self, session: Session) -> None:
        self.by_id[session.call_id] = session
        for leg in session.legs():
            self.by_uuid[leg.uuid] = session
            self.by_job[leg.job_uuid] = session

    def drop(self, session: Session) -> None:
        self.by_id.pop(session.call_id, None)
        for leg in session.legs():
            self.by_uuid.pop(leg.uuid, None)
            self.by_job.pop(leg.job_uuid, None)

    def on_node(self, node: str) -> list[Session]:
        return [s for s in self.by_id.values() if s.node == node]

    def __iter__(self) -> Iterator[Session]:
        return iter(self.by_id.values())

    def __len__(self) -> int:
        return len(self.by_id)


# ---------------------------------------------------------------------------------- the request


def request(engine: Engine, req: ClickToDial) -> None:
    """Start a click-to-dial. Raises typed errors (the engine rejects the request, nothing changed)."""
    agent = engine._agent(req.agent_id)
    if agent.state not in (AgentState.AVAILABLE, AgentState.NOT_READY):
        raise AgentUnavailable(
            req.agent_id, f"agent is {agent.state.value}; click-to-dial needs available or not ready"
        )
    timeout = req.ring_timeout_s
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= MAX_TIMEOUT_S:
        raise InvalidValue("ring_timeout_s", timeout, f"whole seconds from 1 to {MAX_TIMEOUT_S}")
    number = engine.ensure_dialable(req.number, None, engine._now)  # E.164; DNC and bad numbers raise
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
    call_id = engine._new_id()
    session = Session(
        call_id=call_id,
        agent_id=agent.id,
        number=number,
        agent=C2DLeg(engine._new_id(), engine._new_id(), ROLE_AGENT, alive=True),
        customer=C2DLeg(engine._new_id(), engine._new_id(), ROLE_CUSTOMER),
        customer_dial=dial,
        caller_id_number=req.caller_id_number,
        caller_id_name=req.caller_id_name,
        ring_timeout_s=timeout,
        started_at=engine._now,
    )
    engine._c2d.add(session)
    if agent.state is AgentState.NOT_READY and agent.pending_not_ready is None:
        agent.pending_not_ready = agent.reason  # back to not ready, same reason, after the call
    agent.click_to_dial = call_id
    engine._agent_apply(agent, AgentEvent.DIAL, "click-to-dial")
    engine._cmd(
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
    _arm(engine, session, Timer.RING)


def _variables(session: Session, role: str) -> dict[str, str]:
    variables = {"ctilink_call_id": session.call_id, "ctilink_role": role, "ctilink_click_to_dial": session.call_id}
    if role == ROLE_AGENT:
        variables["ctilink_agent_id"] = session.agent_id
    return variables


# ---------------------------------------------------------------------------------- switch inputs


def on_channel(engine: Engine, ev: ChannelEvent) -> bool:
    """A channel event; True if it was about a click-to-dial leg (then it is handled here only)."""
    session = engine._c2d.by_uuid.get(ev.uuid)
    if session is None:
        return False
    leg = session.leg(ev.uuid)
    if ev.node and not session.node:
        session.node = ev.node
    if leg.alive:
        leg.seen = True
    if isinstance(ev, ChannelHungUp):
        _leg_gone(engine, session, leg, ev.cause, ev.sip_code)
    elif isinstance(ev, ChannelAnswered):
        _leg_answered(engine, session, leg)
    elif isinstance(ev, ChannelBridged):
        if ev.other_uuid in (None, _partner(session, leg).uuid) and leg.alive:
            _run(engine, session, Trigger.BRIDGED)
    elif isinstance(ev, (ChannelCreated, ChannelProgress, ChannelParked)):
        if session.state is ClickToDialState.ENDING and leg.alive and leg.hangup_sent:
            _run(engine, session, Trigger.LEG_UP, leg)
    return True


def on_job(engine: Engine, ev: JobCompleted) -> bool:
    """An originate's job result; True if it was one of a click-to-dial's."""
    session = engine._c2d.by_job.get(ev.job_uuid)
    if session is None:
        return False
    leg = session.agent if ev.job_uuid == session.agent.job_uuid else session.customer
    if leg.job_done or not leg.alive:
        return True  # a late or repeated result about a leg already settled
    leg.job_done = True
    if ev.ok:
        if leg.answered_at is None:
            _leg_answered(engine, session, leg)  # the answer event was lost or is late: the job says so
        elif session.state is ClickToDialState.ENDING:
            if leg.hangup_sent:
                _run(engine, session, Trigger.LEG_UP, leg)
        else:
            _run(engine, session, Trigger.JOB_RETURNED, leg)
        return True
    if leg.answered_at is not None:
        # Channel events are the truth about a leg: this one answered, so the -ERR only says how
        # its originate ended (e.g. ORIGINATOR_CANCEL); the leg lives until its hang-up.
        log.warning("click-to-dial originate failed for a leg that answered", uuid=leg.uuid, job=ev.body.strip()[:80])
        if session.state is not ClickToDialState.ENDING:
            _run(engine, session, Trigger.JOB_RETURNED, leg)
        return True
    parts = ev.body.split()
    cause = parts[1] if len(parts) > 1 and _CAUSE.match(parts[1]) else "NORMAL_TEMPORARY_FAILURE"
    _leg_gone(engine, session, leg, cause, None)
    return True


def on_command_failed(engine: Engine, ev: CommandFailed) -> bool:
    """A command that never took effect; True if it was about a click-to-dial."""
    session = engine._c2d.by_job.get(ev.job_uuid) if ev.job_uuid is not None else None
    if session is not None:
        leg = session.agent if ev.job_uuid == session.agent.job_uuid else session.customer
        if leg.alive and not leg.seen and not leg.job_done:
            # The originate never reached the switch (or it refused the command): no leg exists.
            leg.job_done = True
            _leg_gone(engine, session, leg, "NOT_SENT", None, not_sent=True)
        return True
    session = engine._c2d.by_uuid.get(ev.uuid) if ev.uuid is not None else None
    if session is None:
        return False
    if ev.command == "Bridge" and session.state in (ClickToDialState.CONNECTED, ClickToDialState.ENDING):
        _run(engine, session, Trigger.BRIDGE_FAILED, reason="bridge-failed")
    return True  # a refused Hangup of a leg already gone: its channel events keep the truth


def resynced(engine: Engine, ev: Resynced) -> None:
    """After a (re)connect the node has exactly ``ev.uuids``."""
    alive = set(ev.uuids)
    for session in engine._c2d.on_node(ev.node):
        missing = [leg for leg in session.legs() if leg.alive and leg.seen and leg.uuid not in alive]
        for leg in missing:
            leg.hangup_sent = True  # gone already: a Hangup would kill a channel the switch no longer has
        for leg in missing:
            if session.state is not ClickToDialState.ENDED:
                _leg_gone(engine, session, leg, "gone-while-disconnected", None)
        if session.state in (
            ClickToDialState.RINGING_AGENT,
            ClickToDialState.DIALING_CUSTOMER,
            ClickToDialState.CONNECTED,
        ):
            _run(engine, session, Trigger.RECONNECTED, reason="reconnected")


def shutdown(engine: Engine, node: str) -> None:
    """The node is going down: its click-to-dial legs go with it (nothing to hang up)."""
    for session in engine._c2d.on_node(node):
        for leg in session.legs():
            leg.alive = False
        _run(engine, session, Trigger.SWITCH_GONE, reason="switch-shutdown")


def adopt(engine: Engine, agent_leg: Found, customer: Found) -> None:
    """Take back a bridged click-to-dial pair a resync found (after a daemon restart)."""
    agent = engine._agents.get(agent_leg.variables.get("ctilink_agent_id", ""))
    call_id = agent_leg.call_id
    if agent is None or agent.click_to_dial is not None or call_id in engine._c2d.by_id:
        # Not ours to run (an agent this configuration lacks, an id in use): leave the pair to
        # FreeSWITCH; its channels carry ctilink_role, so nobody takes them for a private call.
        log.warning("not adopting a click-to-dial call found after a reconnect", call_id=call_id, uuid=agent_leg.uuid)
        return
    now = engine._now
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
    engine._c2d.add(session)
    # As for an adopted ACD call: a session-less agent logs out after it, a not-ready one is not
    # ready again after it, a wrap-up in progress is over.
    if agent.state is AgentState.LOGGED_OUT:
        agent.pending_logout = True
    elif agent.state is AgentState.NOT_READY:
        agent.pending_not_ready = agent.reason
    elif agent.state is AgentState.WRAP_UP:
        engine._finish_wrap_legs(agent)
    agent.reservation = None  # a campaign's hold is moot: the agent is on a call
    agent.click_to_dial = call_id
    engine._agent_apply(agent, AgentEvent.ADOPT, "click-to-dial")


# ---------------------------------------------------------------------------------- timers


def timer_valid(engine: Engine, kind: str, key: str, token: int) -> bool:
    session = engine._c2d.by_id.get(key)
    spec = TIMERS[Timer(kind.removeprefix(TIMER_PREFIX))]
    return session is not None and session.token == token and session.state is spec.armed_in


def fire(engine: Engine, kind: str, key: str) -> None:
    session = engine._c2d.by_id[key]
    timer = Timer(kind.removeprefix(TIMER_PREFIX))
    if timer is Timer.RING:
        _agent_result(engine, session, OfferOutcome.NO_ANSWER)
    _run(engine, session, TIMERS[timer].fires)


def _arm(engine: Engine, session: Session, timer: Timer) -> None:
    seconds = TIMERS[timer].seconds(engine.config, session)
    engine._timer(engine._now + seconds, TIMER_PREFIX + timer.value, session.call_id, session.token)


# ---------------------------------------------------------------------------------- classifying


def _partner(session: Session, leg: C2DLeg) -> C2DLeg:
    return session.customer if leg is session.agent else session.agent


def _leg_answered(engine: Engine, session: Session, leg: C2DLeg) -> None:
    if session.state is ClickToDialState.ENDING:
        if leg.alive and leg.hangup_sent:
            _run(engine, session, Trigger.LEG_UP, leg)
        return
    if leg.answered_at is not None or not leg.alive:
        return
    leg.answered_at = engine._now
    if leg is session.agent:
        _agent_result(engine, session, OfferOutcome.ANSWERED)
        _run(engine, session, Trigger.AGENT_ANSWERED, leg)
    else:
        _run(engine, session, Trigger.CUSTOMER_ANSWERED, leg)


def _leg_gone(
    engine: Engine, session: Session, leg: C2DLeg, cause: str, sip_code: int | None, not_sent: bool = False
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
        result = OfferOutcome.NOT_SENT if not_sent else _offer_outcome(cause, sip_code)
        if is_agent:
            _agent_result(engine, session, result)
        no_answer = result in (OfferOutcome.NO_ANSWER, OfferOutcome.BUSY, OfferOutcome.REJECTED)
        if is_agent:
            trigger = Trigger.AGENT_NO_ANSWER if no_answer else Trigger.AGENT_FAILED
        else:
            trigger = Trigger.CUSTOMER_NO_ANSWER if no_answer else Trigger.CUSTOMER_FAILED
    _run(engine, session, trigger, leg, reason=cause)
    if is_agent:
        _free_agent(engine, session)  # their phone is free: so are they, even if the customer lingers


def _offer_outcome(cause: str, sip_code: int | None) -> OfferOutcome:
    # The engine's own mapping of hang-up causes, so click-to-dial and ACD offers never disagree.
    # (Imported here: the engine imports this module.)
    from ctilink.core.engine import offer_outcome

    return offer_outcome(cause, sip_code)


def _agent_result(engine: Engine, session: Session, result: OfferOutcome) -> None:
    if session.agent_result is None:
        session.agent_result = result
        session.agent_result_at = engine._now


# ---------------------------------------------------------------------------------- doing


def _run(
    engine: Engine, session: Session, trigger: Trigger, leg: C2DLeg | None = None, reason: str | None = None
) -> None:
    """Apply one trigger: the table's step, its action, the new state's timer."""
    before = session.state
    step = session.apply(trigger)
    if step.outcome is not None and session.outcome is None:
        session.outcome = step.outcome
        session.end_reason = reason or trigger.value
    if before in (ClickToDialState.CONNECTED, ClickToDialState.BRIDGED) and session.state is not before:
        session.talk_ended_at = engine._now
    _ACTIONS[step.action](engine, session, leg)
    if session.state is not before:
        timer = TIMER_ON_ENTRY.get(session.state)
        if timer is not None:
            _arm(engine, session, timer)
    if session.state is ClickToDialState.ENDING and not any(other.alive for other in session.legs()):
        _run(engine, session, Trigger.LAST_LEG_GONE)  # nothing left to wait for


def _do_nothing(engine: Engine, session: Session, leg: C2DLeg | None) -> None:
    return None


def _dial_customer(engine: Engine, session: Session, leg: C2DLeg | None) -> None:
    customer = session.customer
    customer.alive = True
    engine._cmd(
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


def _bridge(engine: Engine, session: Session, leg: C2DLeg | None) -> None:
    # FreeSWITCH's originate owns its leg until its job returns; a uuid_bridge before then cancels
    # that originate (ORIGINATOR_CANCEL). The later of the two +OKs sends the bridge.
    agent, customer = session.agent, session.customer
    if session.bridge_sent or not (agent.job_done and customer.job_done and agent.alive and customer.alive):
        return
    session.bridge_sent = True
    engine._cmd(Bridge(agent.uuid, customer.uuid, node=session.node))


def _hang_up_rest(engine: Engine, session: Session, leg: C2DLeg | None) -> None:
    for other in session.legs():
        if other.alive and not other.hangup_sent:
            other.hangup_sent = True
            cause = "NORMAL_CLEARING" if other.answered_at is not None else "ORIGINATOR_CANCEL"
            engine._cmd(Hangup(other.uuid, cause, node=session.node))


def _await_partner(engine: Engine, session: Session, leg: C2DLeg | None) -> None:
    # The survivor of a bridged pair is ended by FreeSWITCH (often it is what ended the first):
    # hanging it up at once would kill a channel that may already be gone.
    _arm(engine, session, Timer.REAP)


def _kill_leg(engine: Engine, session: Session, leg: C2DLeg | None) -> None:
    if leg is not None and leg.alive:
        engine._cmd(Hangup(leg.uuid, "LOSE_RACE", node=session.node))  # a zombie: it lives after we let go


def _forget(engine: Engine, session: Session, leg: C2DLeg | None) -> None:
    for other in session.legs():
        if other.alive:
            log.warning("click-to-dial leg never confirmed its end; forgetting it", uuid=other.uuid)
            other.alive = False
            engine._remember_dead(other.uuid)  # any later sign of life gets a Hangup
    _finish(engine, session, leg)


def _finish(engine: Engine, session: Session, leg: C2DLeg | None) -> None:
    _free_agent(engine, session)
    engine._c2d.drop(session)
    engine._note(CallEnded(_record(session, engine._now)))


_ACTIONS: dict[Action, Callable[[Engine, Session, C2DLeg | None], None]] = {
    Action.NOTHING: _do_nothing,
    Action.DIAL_CUSTOMER: _dial_customer,
    Action.BRIDGE: _bridge,
    Action.HANG_UP_REST: _hang_up_rest,
    Action.AWAIT_PARTNER: _await_partner,
    Action.KILL_LEG: _kill_leg,
    Action.FORGET: _forget,
    Action.FINISH: _finish,
}


def _free_agent(engine: Engine, session: Session) -> None:
    agent = engine._agents.get(session.agent_id)
    if agent is None or agent.click_to_dial != session.call_id:
        return  # freed already (their leg went first)
    agent.click_to_dial = None
    engine._dirty_agents[agent.id] = None
    talk = session.talk_s if session.talk_ended_at is not None else 0.0
    agent.talk_time_s += talk
    talking = any(engine._legs[u].state is LegState.CONNECTED for u in agent.legs if u in engine._legs)
    if agent.state is AgentState.ON_CALL and not talking:
        event, reason = engine._settle_event(agent, "hangup")
        engine._agent_apply(agent, event, reason or "click-to-dial-ended")


def _record(session: Session, now: float) -> ClickToDialRecord:
    outcome = session.outcome or Outcome.FAILED
    talk = session.talk_s
    offer = OfferRecord(
        agent_id=session.agent_id,
        uuid=session.agent.uuid,
        attempt=1,
        queue="",
        offered_at=session.started_at,
        result=session.agent_result or OfferOutcome.CANCELLED,
        result_at=session.agent_result_at if session.agent_result is not None else now,
        answered_at=session.agent.answered_at,
        talk_ended_at=session.talk_ended_at,
        talk_s=talk,
        hold_s=0.0,
        wrap_up_s=0.0,
        disposition_code=None,
    )
    return ClickToDialRecord(
        call_id=session.call_id,
        uuid=session.customer.uuid,
        node=session.node,
        caller_number=session.number,
        caller_name=None,
        destination_number=session.number,
        first_queue=None,
        queue=None,
        priority=0,
        arrived_at=session.started_at,
        queued_at=None,
        answered_at=session.customer.answered_at,
        ended_at=now,
        wait_s=0.0,
        talk_s=talk,
        hold_s=0.0,
        wrap_up_s=0.0,
        disposition=Disposition.ANSWERED if outcome is Outcome.ANSWERED else Disposition.FAILED,
        end_reason=session.end_reason,
        service_level_met=None,
        disposition_code=None,
        offers=(offer,),
        transfers=(),
        customer_number=session.number,
        outcome=outcome,
        agent_id=session.agent_id,
        caller_id_number=session.caller_id_number,
    )


# ---------------------------------------------------------------------------------- checks and docs


def problems(engine: Engine) -> list[str]:
    """Broken click-to-dial invariants, as text (for ``Engine.check_invariants``)."""
    found: list[str] = []
    c2d = engine._c2d
    for session in c2d:
        if session.state is ClickToDialState.ENDED:
            found.append(f"click-to-dial {session.call_id} ended but is still tracked")
        for leg in session.legs():
            if c2d.by_uuid.get(leg.uuid) is not session or c2d.by_job.get(leg.job_uuid) is not session:
                found.append(f"click-to-dial {session.call_id}: leg {leg.uuid} not indexed")
        if not any(leg.alive for leg in session.legs()):
            found.append(f"click-to-dial {session.call_id} is {session.state.value} with no leg left")
        agent = engine._agents.get(session.agent_id)
        if session.agent.alive and (
            agent is None or agent.click_to_dial != session.call_id or agent.state is not AgentState.ON_CALL
        ):
            state = agent.state.value if agent is not None else "unknown"
            found.append(f"click-to-dial {session.call_id}: agent {session.agent_id} is {state}, not on it")
    for index in (c2d.by_uuid, c2d.by_job):
        for key, session in index.items():
            if c2d.by_id.get(session.call_id) is not session:
                found.append(f"click-to-dial index entry {key} points at a session that is gone")
    for agent in engine._agents.values():
        session_id = agent.click_to_dial
        if session_id is not None:
            held = c2d.by_id.get(session_id)
            if held is None or not held.agent.alive:
                found.append(f"agent {agent.id} is held by click-to-dial {session_id}, which no longer has them")
    return found


def doc_table() -> str:
    """The transition table as the Markdown table docs/engine.md shows (a test compares them)."""
    lines = ["| state | trigger | next state | action | outcome |", "|---|---|---|---|---|"]
    for state, steps in TRANSITIONS.items():
        for trigger, step in steps.items():
            outcome = step.outcome.value if step.outcome is not None else ""
            lines.append(f"| {state.value} | {trigger.value} | {step.target.value} | {step.action.value} | {outcome} |")
    return "\n".join(lines)


__all__ = [
    "ROLES",
    "ROLE_AGENT",
    "ROLE_CUSTOMER",
    "TIMERS",
    "TIMER_ON_ENTRY",
    "TIMER_PREFIX",
    "TRANSITIONS",
    "Action",
    "ClickToDial",
    "ClickToDialRecord",
    "ClickToDialState",
    "Outcome",
    "Session",
    "Sessions",
    "Step",
    "Timer",
    "TimerSpec",
    "Trigger",
    "adopt",
    "doc_table",
    "fire",
    "on_channel",
    "on_command_failed",
    "on_job",
    "problems",
    "request",
    "resynced",
    "shutdown",
    "timer_valid",
]
