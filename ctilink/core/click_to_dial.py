"""Click-to-dial: ring the agent's phone, then dial the customer, then bridge the two.

Rules:
- A session is in exactly one :class:`ClickToDialState`; it changes only through
  :data:`TRANSITIONS`: ``(state, trigger) -> Step(target, action, outcome)``. Anything else is an
  :class:`~ctilink.core.errors.IllegalTransition` naming the state and the trigger. The handlers
  below only *classify* what the switch said into a trigger; the table decides what happens.
- The engine owns the sessions (``EngineState.c2d``, a :class:`Sessions`), not this module: no
  state lives here between inputs. Each session is indexed by its call id, both leg uuids and both job
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

This module is the machine and its data only (it imports nothing of the engine);
:mod:`ctilink.core.click_to_dial_legs` classifies the switch's inputs into triggers and carries out
the actions against the engine's state. What neither knows about: ESL text, sockets, persistence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from ctilink.core import requests as rq
from ctilink.core.call import CallRecord, Disposition, OfferOutcome, OfferRecord
from ctilink.core.errors import IllegalTransition

if TYPE_CHECKING:
    from ctilink.core.config import EngineConfig

#: ``ctilink_role`` of the two legs (distinct from the ACD's ``agent`` / ``customer``).
ROLE_AGENT = "c2d-agent"
ROLE_CUSTOMER = "c2d-customer"
ROLES = frozenset({ROLE_AGENT, ROLE_CUSTOMER})
#: Engine timer kinds of this module start with this (``c2d:ring``, ...).
TIMER_PREFIX = "c2d:"


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


def record(session: Session, now: float) -> ClickToDialRecord:
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
    "doc_table",
    "record",
]
