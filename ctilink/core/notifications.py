"""Notifications: what the engine tells the rest of ctilink (metrics, webhooks, agent UIs, store).

Rules:
- Frozen data, produced only by the engine, in the order things happened. Every agent state change
  is one :class:`AgentStateChanged` with the old state, the new state, the reason and the time
  spent in the old state.
- Every call that entered the engine gets exactly one :class:`CallEnded` (carrying its
  :class:`~ctilink.core.call.CallRecord`), after the call is over and its agents' wrap-up is done;
  :class:`CallDisconnected` marks the moment the customer leg left.
"""

from __future__ import annotations

from dataclasses import dataclass

from ctilink.core.agent import AgentState
from ctilink.core.call import CallRecord, Disposition, OfferOutcome
from ctilink.core.errors import CtilinkError
from ctilink.lists.model import Entry


@dataclass(frozen=True, slots=True)
class Notification:
    """Base of every notification."""


@dataclass(frozen=True, slots=True)
class AgentStateChanged(Notification):
    agent_id: str
    old: AgentState
    new: AgentState
    reason: str | None
    duration_s: float
    at: float


@dataclass(frozen=True, slots=True)
class AgentPresenceChanged(Notification):
    agent_id: str
    endpoint: str
    registered: bool
    at: float


@dataclass(frozen=True, slots=True)
class CallArrived(Notification):
    call_id: str
    uuid: str
    queue: str | None
    caller_number: str | None
    priority: int
    at: float


@dataclass(frozen=True, slots=True)
class CallQueued(Notification):
    call_id: str
    queue: str
    position: int
    estimated_wait_s: float | None
    at: float


@dataclass(frozen=True, slots=True)
class CallOffered(Notification):
    call_id: str
    agent_id: str
    uuid: str
    attempt: int
    queue: str
    at: float


@dataclass(frozen=True, slots=True)
class OfferResult(Notification):
    call_id: str
    agent_id: str
    uuid: str
    result: OfferOutcome
    at: float


@dataclass(frozen=True, slots=True)
class CallAnswered(Notification):
    call_id: str
    agent_id: str
    uuid: str
    queue: str
    wait_s: float
    at: float


@dataclass(frozen=True, slots=True)
class CallTransferred(Notification):
    call_id: str
    from_agent_id: str | None
    kind: str  # "queue", "agent", "number"
    target: str
    at: float


@dataclass(frozen=True, slots=True)
class CallEscalated(Notification):
    call_id: str
    queue: str
    step: int
    at: float


@dataclass(frozen=True, slots=True)
class CallOverflowed(Notification):
    call_id: str
    from_queue: str | None
    kind: str  # OverflowAction.kind
    target: str | None
    reason: str  # "max-wait", "full", "empty", "queue-removed", "default-route"
    at: float


@dataclass(frozen=True, slots=True)
class CallAnnounced(Notification):
    call_id: str
    position: int
    estimated_wait_s: float | None
    at: float


@dataclass(frozen=True, slots=True)
class CallDisconnected(Notification):
    """The call left ctilink's control (hung up or transferred out); the record follows after wrap-up."""

    call_id: str
    disposition: Disposition
    at: float


@dataclass(frozen=True, slots=True)
class CallEnded(Notification):
    record: CallRecord


@dataclass(frozen=True, slots=True)
class CallScreened(Notification):
    """A number list decided something about an arriving call.

    ``list``: ``blacklist`` or ``whitelist``. ``action``: for the blacklist ``reject``, ``announce``
    or ``route``; for the whitelist ``vip`` (priority only), ``green-agent``, ``green-extension`` or
    ``green-fallback`` (the green-channel agent could not take it: the call queued as a VIP).
    ``scope`` and ``reason`` are the winning entry's (``entry``).
    """

    call_id: str
    list: str
    action: str
    scope: str
    reason: str
    entry: Entry
    at: float


@dataclass(frozen=True, slots=True)
class ListChanged(Notification):
    """A list entry changed in the engine; the daemon persists it.

    ``op``: ``add`` (new, or replacing ``replaced`` with the same key), ``remove`` (a request) or
    ``expire`` (dropped from memory after its ``expires_at``).
    """

    op: str
    entry: Entry
    at: float
    replaced: Entry | None = None


@dataclass(frozen=True, slots=True)
class StickyRemembered(Notification):
    """``number`` (E.164) talked to ``agent_id``; remembered for ``queue`` (None: any queue)."""

    number: str
    queue: str | None
    agent_id: str
    at: float
    expires_at: float


@dataclass(frozen=True, slots=True)
class StickyRouted(Notification):
    """Sticky routing of one call. ``outcome``: ``hit`` (offered to the sticky agent), ``wait``
    (held for the busy agent up to ``sticky.wait_s``), ``fallback`` (routed normally: agent logged
    out, not ready, unqualified, or the wait ran out) or ``expired`` (the memory had lapsed).
    A call that waits gets ``wait`` then ``hit`` or ``fallback``. ``source``: ``memory`` (sticky
    memory) or ``preferred`` (the ``ctilink_preferred_agent`` channel variable, e.g. a callback).
    """

    call_id: str
    agent_id: str
    outcome: str
    queue: str | None
    at: float
    source: str = "memory"


@dataclass(frozen=True, slots=True)
class InputRejected(Notification):
    """A request, event field or hook result was refused. ``subject`` says what was refused."""

    error: CtilinkError
    subject: str
    at: float


AnyNotification = (
    AgentStateChanged
    | AgentPresenceChanged
    | CallArrived
    | CallQueued
    | CallOffered
    | OfferResult
    | CallAnswered
    | CallTransferred
    | CallEscalated
    | CallOverflowed
    | CallAnnounced
    | CallDisconnected
    | CallEnded
    | CallScreened
    | ListChanged
    | StickyRemembered
    | StickyRouted
    | InputRejected
)

__all__ = [
    "AgentPresenceChanged",
    "AgentStateChanged",
    "AnyNotification",
    "CallAnnounced",
    "CallAnswered",
    "CallArrived",
    "CallDisconnected",
    "CallEnded",
    "CallEscalated",
    "CallOffered",
    "CallOverflowed",
    "CallQueued",
    "CallScreened",
    "CallTransferred",
    "InputRejected",
    "ListChanged",
    "Notification",
    "OfferResult",
    "StickyRemembered",
    "StickyRouted",
]
