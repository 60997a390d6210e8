"""Requests: what people and programs (agents, supervisors, the config loader) ask the engine.

Rules:
- Requests are frozen data. The engine validates every field against its configuration (agent
  ids, reasons, codes, queue names, numbers) before changing anything; a bad request produces an
  :class:`~ctilink.core.notifications.InputRejected` with a typed error and changes nothing.
- Config requests (UpsertAgent, RemoveAgent, ReplaceQueues) never change an agent's state.
"""

from __future__ import annotations

from dataclasses import dataclass

from ctilink.core.config import AgentProfile, QueueConfig
from ctilink.lists.model import Entry


@dataclass(frozen=True, slots=True)
class Request:
    """Base of every request."""


@dataclass(frozen=True, slots=True)
class AgentLogin(Request):
    agent_id: str
    not_ready_reason: str | None = None  # log in straight into not-ready with this reason
    # Log in on these endpoints (the first rings first): applied only if the login is, so a refused
    # login leaves the agent's endpoints as they were.
    endpoints: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class AgentLogout(Request):
    """Log out now, or (on a call / ringing) as soon as the call and its wrap-up are over."""

    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentReady(Request):
    """Become available (from not-ready), or cancel a pending not-ready / logout."""

    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentNotReady(Request):
    """Become not ready now, or (on a call / ringing / wrap-up pending) after the call."""

    agent_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class EndWrapUp(Request):
    agent_id: str


@dataclass(frozen=True, slots=True)
class ExtendWrapUp(Request):
    agent_id: str
    seconds: float


@dataclass(frozen=True, slots=True)
class SetDisposition(Request):
    """Set a disposition code on the agent's current (or wrap-up) call, or on ``call_id``."""

    agent_id: str
    code: str
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class TransferCall(Request):
    """Blind transfer of a connected call: exactly one of queue, agent_id, number."""

    call_id: str
    queue: str | None = None
    agent_id: str | None = None
    number: str | None = None
    context: str | None = None  # dialplan context for ``number`` (default: EngineConfig.transfer_context)


@dataclass(frozen=True, slots=True)
class HangupCall(Request):
    call_id: str
    cause: str = "NORMAL_CLEARING"


@dataclass(frozen=True, slots=True)
class UpsertAgent(Request):
    profile: AgentProfile


@dataclass(frozen=True, slots=True)
class RemoveAgent(Request):
    """Remove an agent's profile; refused while the agent has calls (log them out first)."""

    agent_id: str


@dataclass(frozen=True, slots=True)
class ReplaceQueues(Request):
    """Config reload of every queue. Waiting calls of a removed queue go to the default route."""

    queues: tuple[QueueConfig, ...]


@dataclass(frozen=True, slots=True)
class AddListEntry(Request):
    """Add (or replace, same key) a number-list entry; announced as ``ListChanged("add")``.

    Either a ready :class:`~ctilink.lists.Entry` (``entry``), or raw input (``list_name``, ``number``
    and the optional fields) that the engine normalizes with its ``default_region`` (``number`` may
    be national, ``+44...``, a ``*``-suffixed prefix or a withheld id); ``added_at`` is the time
    the engine handles it. A ``queue:`` scope must name a configured queue.
    """

    entry: Entry | None = None
    list_name: str | None = None
    number: str | None = None
    scope: str = "global"
    expires_at: float | None = None
    reason: str = ""
    added_by: str = ""
    priority: int | None = None
    target: str | None = None
    action: str | None = None
    cause: str | None = None


@dataclass(frozen=True, slots=True)
class RemoveListEntry(Request):
    """Remove the entry with this key; announced as ``ListChanged("remove")``. ``number`` and
    ``scope`` are normalized like AddListEntry's; ``kind`` is exact, prefix or anonymous."""

    list_name: str
    number: str
    scope: str = "global"
    kind: str = "exact"


@dataclass(frozen=True, slots=True)
class ReserveAgent(Request):
    """Hold an available agent for outbound work (a preview on their screen, a customer being dialed
    for them): no call is offered to them until the call of ``campaign`` (and ``contact_id``, when
    given) naming them as ``ctilink_preferred_agent`` arrives, which takes the reservation, or until
    :class:`ReleaseAgent`. Refused (``AgentUnavailable``) unless the agent could be offered a call
    right now. ``reason``: ``preview`` or ``callback``."""

    agent_id: str
    campaign: str
    reason: str = "preview"
    contact_id: str | None = None


@dataclass(frozen=True, slots=True)
class ReleaseAgent(Request):
    """End an agent's reservation (preview skipped or timed out, dial failed). Only the reservation
    of ``campaign`` (and ``contact_id``, when given) is released; anything else is a no-op, so a
    late release never frees a newer reservation."""

    agent_id: str
    campaign: str
    contact_id: str | None = None


AnyRequest = (
    AgentLogin
    | AgentLogout
    | AgentReady
    | AgentNotReady
    | EndWrapUp
    | ExtendWrapUp
    | SetDisposition
    | TransferCall
    | HangupCall
    | UpsertAgent
    | RemoveAgent
    | ReplaceQueues
    | AddListEntry
    | RemoveListEntry
    | ReserveAgent
    | ReleaseAgent
)

__all__ = [
    "AddListEntry",
    "AgentLogin",
    "AgentLogout",
    "AgentNotReady",
    "AgentReady",
    "AnyRequest",
    "EndWrapUp",
    "ExtendWrapUp",
    "HangupCall",
    "ReleaseAgent",
    "RemoveAgent",
    "RemoveListEntry",
    "ReplaceQueues",
    "Request",
    "ReserveAgent",
    "SetDisposition",
    "TransferCall",
    "UpsertAgent",
]
