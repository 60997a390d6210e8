"""Agent state machine: one Enum of states, one transition table, the Agent record.

Rules:
- An agent is in exactly one :class:`AgentState`. The only way to change it is
  :meth:`Agent.apply`, which looks the (state, event) pair up in :data:`TRANSITIONS` and raises
  :class:`~ctilink.core.errors.IllegalTransition` (naming both) for anything else.
- Pending wishes (not ready after this call, log out after this call) are *flags*, not states:
  the engine picks the event whose target honours them (e.g. ``WRAP_UP_END_PAUSE``) so one real
  change produces exactly one notification.
- Holding a call is a flag on the agent's leg, with its time counted, not a state.
- A multi-line agent (``max_calls > 1``) may still have an offer ringing when its call ends. The
  state then says so: ``WRAP_UP`` as usual (answering that line moves it to ``ON_CALL`` and ends
  the wrap-up), and ``RESERVED`` instead of ``AVAILABLE`` / ``NOT_READY`` / ``LOGGED_OUT`` while
  the line rings (``HANGUP_RINGING``, ``WRAP_UP_END_RINGING``; pending wishes stay pending until
  the offer closes). An agent is never available, paused or logged out with a live leg.
- An agent may be *reserved* for outbound work without a leg: ``RESERVE`` (``ReserveAgent``) takes
  an available agent out of routing while a campaign shows them a preview or dials a customer for
  them; the call of that campaign naming them as preferred agent takes the reservation (it is
  offered to them, ``OFFER`` from ``RESERVED``), and ``RELEASE`` (or ``RELEASE_PAUSE`` /
  ``RELEASE_LOGOUT``, honouring a wish made meanwhile) gives them back. The state is
  ``RESERVED`` either way (the agent is spoken for and must not be offered anything else); its
  typed reason, :class:`Hold`, says which: :data:`HOLDS` names it for every event that enters
  or stays in ``RESERVED`` (``RINGING``: an offer's leg is on its way; ``OUTBOUND``: held for a
  campaign's contact, no leg yet).
- A click-to-dial (``DIAL``) puts an available or not-ready agent ``ON_CALL`` at once, while their
  own phone rings: the session (``click_to_dial``) keeps them out of routing until it frees them
  with the usual hang-up events (back to not ready, same reason, if they came from there).
- Presence (is the phone registered) and foreign channels (calls on the agent's phone that did
  not come from a queue) are facts about the agent's endpoints, tracked here and consulted by the
  engine when it decides whether the agent may be offered a call.

Theory: this module owns the agent's lifecycle and its bookkeeping (idle-since time, counters,
endpoint facts). It never knows about queues, calls or commands; the engine does the wiring.

Endpoint <-> registration mapping (documented in docs/engine.md):
``user/1001`` -> user ``1001`` in ``EngineConfig.default_realm`` (any realm if that is None);
``user/1001@example.com`` -> ``1001@example.com``;
``sofia/<profile>/1001@host[:port]`` (optionally ``sip:1001@...``) -> ``1001@host``;
anything else (gateways, loopback, ...) has no registration and is never blocked by presence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from ctilink.core.config import AgentProfile
from ctilink.core.errors import IllegalTransition


class AgentState(StrEnum):
    LOGGED_OUT = "logged-out"
    AVAILABLE = "available"
    NOT_READY = "not-ready"
    RESERVED = "reserved"  # a call is being offered (ringing), or held for an outbound contact
    ON_CALL = "on-call"
    WRAP_UP = "wrap-up"


class AgentEvent(StrEnum):
    LOGIN = "login"
    LOGIN_NOT_READY = "login-not-ready"
    LOGOUT = "logout"
    READY = "ready"
    NOT_READY = "not-ready"
    OFFER = "offer"
    OFFER_CLOSED = "offer-closed"
    OFFER_CLOSED_PAUSE = "offer-closed-pause"
    OFFER_CLOSED_LOGOUT = "offer-closed-logout"
    ANSWER = "answer"
    DIRECT_CALL = "direct-call"
    HANGUP = "hangup"
    HANGUP_NO_WRAP = "hangup-no-wrap"
    HANGUP_PAUSE = "hangup-pause"
    HANGUP_LOGOUT = "hangup-logout"
    HANGUP_RINGING = "hangup-ringing"
    WRAP_UP_END = "wrap-up-end"
    WRAP_UP_END_PAUSE = "wrap-up-end-pause"
    WRAP_UP_END_LOGOUT = "wrap-up-end-logout"
    WRAP_UP_END_RINGING = "wrap-up-end-ringing"
    EXTEND_WRAP_UP = "extend-wrap-up"
    RESERVE = "reserve"
    RELEASE = "release"
    RELEASE_PAUSE = "release-pause"
    RELEASE_LOGOUT = "release-logout"
    ADOPT = "adopt"  # a resync found the agent's leg live on one of ctilink's calls
    DIAL = "dial"  # the agent asked for a click-to-dial: their phone rings for their own call


class Hold(StrEnum):
    """Why a ``RESERVED`` agent is spoken for."""

    RINGING = "ringing"  # an offer's leg is on its way to their phone
    OUTBOUND = "outbound"  # held for a campaign's contact (preview, kept callback): no leg yet


S = AgentState
E = AgentEvent

TRANSITIONS: dict[AgentState, dict[AgentEvent, AgentState]] = {
    S.LOGGED_OUT: {
        E.LOGIN: S.AVAILABLE,
        E.LOGIN_NOT_READY: S.NOT_READY,
        E.ADOPT: S.ON_CALL,  # the switch says they are talking: the engine logs them out after it
    },
    S.AVAILABLE: {
        E.LOGOUT: S.LOGGED_OUT,
        E.NOT_READY: S.NOT_READY,
        E.OFFER: S.RESERVED,
        E.DIRECT_CALL: S.ON_CALL,
        E.DIAL: S.ON_CALL,
        E.RESERVE: S.RESERVED,  # held for an outbound preview / kept callback (no leg yet)
        E.ADOPT: S.ON_CALL,
    },
    S.NOT_READY: {
        E.LOGOUT: S.LOGGED_OUT,
        E.READY: S.AVAILABLE,
        E.NOT_READY: S.NOT_READY,  # change of reason
        E.DIAL: S.ON_CALL,  # an outbound call of their own; back to not ready (same reason) after it
        E.ADOPT: S.ON_CALL,  # back to not ready (same reason) after the call
    },
    S.RESERVED: {
        E.OFFER: S.RESERVED,  # ring-all re-offer or a second line (max_calls > 1)
        E.ANSWER: S.ON_CALL,
        E.OFFER_CLOSED: S.AVAILABLE,
        E.OFFER_CLOSED_PAUSE: S.NOT_READY,
        E.OFFER_CLOSED_LOGOUT: S.LOGGED_OUT,
        E.RELEASE: S.AVAILABLE,  # the outbound reservation ended without its call
        E.RELEASE_PAUSE: S.NOT_READY,
        E.RELEASE_LOGOUT: S.LOGGED_OUT,
        E.ADOPT: S.ON_CALL,
    },
    S.ON_CALL: {
        E.OFFER: S.ON_CALL,  # second line (max_calls > 1)
        E.ANSWER: S.ON_CALL,
        E.HANGUP: S.WRAP_UP,
        E.HANGUP_NO_WRAP: S.AVAILABLE,
        E.HANGUP_PAUSE: S.NOT_READY,
        E.HANGUP_LOGOUT: S.LOGGED_OUT,
        E.HANGUP_RINGING: S.RESERVED,  # the call ended, another line (max_calls > 1) still rings
        E.ADOPT: S.ON_CALL,  # a second line found live
    },
    S.WRAP_UP: {
        E.WRAP_UP_END: S.AVAILABLE,
        E.WRAP_UP_END_PAUSE: S.NOT_READY,
        E.WRAP_UP_END_LOGOUT: S.LOGGED_OUT,
        E.WRAP_UP_END_RINGING: S.RESERVED,  # another line (max_calls > 1) still rings
        E.EXTEND_WRAP_UP: S.WRAP_UP,
        E.LOGOUT: S.LOGGED_OUT,  # only without a line ringing (else the logout is pending)
        E.ANSWER: S.ON_CALL,  # picked up a line that rang on: ends the previous call's wrap-up
        E.ADOPT: S.ON_CALL,
    },
}

#: The hold an event puts a ``RESERVED`` agent in (every event whose target is ``RESERVED``).
HOLDS: dict[AgentEvent, Hold] = {
    E.OFFER: Hold.RINGING,  # also the reservation's own call, offered to its agent
    E.HANGUP_RINGING: Hold.RINGING,
    E.WRAP_UP_END_RINGING: Hold.RINGING,
    E.RESERVE: Hold.OUTBOUND,
}

del S, E


def transition(state: AgentState, event: AgentEvent, subject: str) -> AgentState:
    """The target of ``event`` in ``state``, or IllegalTransition naming both."""
    target = TRANSITIONS[state].get(event)
    if target is None:
        raise IllegalTransition("agent", subject, state.value, event.value)
    return target


def registration_key(endpoint: str, default_realm: str | None) -> tuple[str, str | None] | None:
    """``(user, realm-or-None)`` a dial string registers as, or None if it does not register."""
    parts = endpoint.split("/")
    if len(parts) == 2 and parts[0] == "user":
        user, _, realm = parts[1].partition("@")
        return (user, realm or default_realm) if user else None
    if len(parts) == 3 and parts[0] == "sofia" and parts[1] != "gateway":
        target = parts[2]
        if target.startswith("sip:"):
            target = target[4:]
        user, at, host = target.partition("@")
        if not user or not at:
            return None
        return (user, host.split(":", 1)[0] or None)
    return None


def channel_user(channel_name: str | None) -> tuple[str, str] | None:
    """``(sofia profile, user)`` of a channel name like ``sofia/internal/1001@10.0.0.5:5060``."""
    if not channel_name or not channel_name.startswith("sofia/"):
        return None
    parts = channel_name.split("/", 2)
    if len(parts) != 3:
        return None
    target = parts[2]
    if target.startswith("sip:"):
        target = target[4:]
    user = target.split("@", 1)[0]
    return (parts[1], user) if user else None


@dataclass(frozen=True, slots=True)
class Reservation:
    """Why an agent is held without a leg: ``reason`` (preview, callback) for ``campaign``'s
    ``contact_id``. The call carrying the same campaign and contact takes it."""

    reason: str
    campaign: str
    contact_id: str | None = None


@dataclass(slots=True)
class Agent:
    """Runtime record of one agent (owned and mutated by the engine only)."""

    profile: AgentProfile
    seq: int  # upsert order: tie-breaker and linear/round-robin default rank
    state: AgentState = AgentState.LOGGED_OUT
    state_since: float = 0.0
    reason: str | None = None
    pending_not_ready: str | None = None
    pending_logout: bool = False
    idle_since: float = 0.0
    calls_answered: int = 0
    talk_time_s: float = 0.0
    no_answer_streak: int = 0
    delayed_until: float | None = None  # busy/reject/no-answer delay before the next offer
    delay_token: int = 0
    wrap_until: float | None = None
    wrap_token: int = 0
    legs: dict[str, str] = field(default_factory=dict)  # our leg uuid -> call_id
    foreign: dict[str, str] = field(default_factory=dict)  # other channel uuid -> node
    direct: bool = False  # on-call because of a channel that did not come from a queue
    pending_delay: float = 0.0  # busy/reject/no-answer delay to apply when the offer's leg is gone
    registered: dict[int, bool] = field(default_factory=dict)  # endpoint index -> registered
    tracked: frozenset[int] = frozenset()  # endpoint indexes under presence tracking
    memberships: dict[str, int] = field(default_factory=dict)  # queue -> first eligible step
    pool_token: int = 0  # bumps whenever the agent leaves or re-enters the routing pools
    in_pools: bool = False
    staffed: bool = False
    logged_in_flag: bool = False
    reservation: Reservation | None = None  # held for an outbound contact (state RESERVED, no leg)
    hold: Hold | None = None  # why the agent is RESERVED (None in every other state)
    # The click-to-dial session (its call id) the agent is on: ON_CALL without an ACD leg and out
    # of routing until that session frees them (ctilink.core.click_to_dial).
    click_to_dial: str | None = None

    @property
    def id(self) -> str:
        return self.profile.id

    @property
    def logged_in(self) -> bool:
        return self.state is not AgentState.LOGGED_OUT

    def usable_endpoint(self) -> str | None:
        """The first endpoint that may be dialled (registered, or not presence-tracked)."""
        for index, endpoint in enumerate(self.profile.endpoints):
            if index not in self.tracked or self.registered.get(index, False):
                return endpoint
        return None

    def busy_count(self) -> int:
        return len(self.legs) + len(self.foreign)

    def apply(self, event: AgentEvent, now: float, reason: str | None) -> tuple[AgentState, float] | None:
        """Move to the table's target. Returns (old state, seconds in it), or None when nothing
        visible changed (a self-transition such as a second offer or a wrap-up extension keeps the
        state's start time, so durations stay true)."""
        target = transition(self.state, event, self.id)
        old = self.state
        self.hold = HOLDS[event] if target is AgentState.RESERVED else None
        if target is old and (event is not AgentEvent.NOT_READY or reason == self.reason):
            return None
        duration = max(0.0, now - self.state_since)
        self.state = target
        self.state_since = now
        self.reason = reason
        return old, duration


__all__ = [
    "HOLDS",
    "TRANSITIONS",
    "Agent",
    "AgentEvent",
    "AgentState",
    "Hold",
    "Reservation",
    "channel_user",
    "registration_key",
    "transition",
]
