"""Whose resources each API route touches, and who may touch them: one :class:`ScopeRule` per route.

Rules:
- Every :class:`~ctilink.service.api.framework.Route` names its rule (the field has no default):
  a route cannot be added without saying whose things it acts on. The framework runs the rule
  after authentication, the role check and the body parse, and before the handler, so a refused
  request has submitted nothing to the engine and changed nothing.
- admin: everything. agent: itself, the calls it is on (connected or ringing), preview offers and
  callbacks kept for itself. supervisor: the queues of its token (None: every queue) and its team
  (``agents``; None: every agent); where a resource has both, both (a call: its queue and every
  agent on it; monitoring an agent: the agent and each of its calls).
- List entries by the entry's own scope: ``queue:X`` needs X in scope, ``campaign:C`` needs C's
  queue in scope, ``global`` and ``did:`` (calls of every queue) only an unscoped principal
  (admin, or a supervisor with neither queues nor a team). A scope is compared in the canonical
  form the engine stores (``QUEUE:x`` is ``queue:x``), so no spelling slips past the rule.
- Views list only what is in scope; the list view of a scoped supervisor is the entries of the
  scopes it may manage, never the global DNC or blacklist.

Theory: the rules read the engine snapshot (a second old at most) to find a call's queue and
agents and the dialer's live statistics for a campaign's queue; a call the snapshot does not hold
yet is 404 for everyone but an admin (whose request the engine then judges).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import falcon

from ctilink.core import EngineSnapshot
from ctilink.core.snapshot import CallView
from ctilink.lists.model import InvalidEntryError, normalize_scope
from ctilink.service.api.context import ApiContext
from ctilink.service.api.errors import ApiError, not_found
from ctilink.service.auth import Forbidden, Principal

Check = Callable[[ApiContext, Principal, dict[str, str], Any, falcon.Request], None]


@dataclass(frozen=True, slots=True)
class ScopeRule:
    """What a route's principal must be allowed to touch; ``check`` raises Forbidden/ApiError."""

    name: str  # documented as the operation's x-scope
    description: str
    check: Check
    admin_only: bool = False  # the route must be admin-only (the framework refuses it otherwise)


# -- lookups ---------------------------------------------------------------------------------------


def snapshot(ctx: ApiContext) -> EngineSnapshot:
    snap = ctx.snapshot()
    if snap is None:
        raise ApiError(503, "starting", "no engine snapshot yet")
    return snap


def _on_call(view: CallView) -> tuple[str, ...]:
    return tuple(a for a in (view.agent_id, *view.ringing_agents) if a is not None)


def call_in_scope(view: CallView, who: Principal) -> bool:
    return who.may_see_call(view.queue, _on_call(view))


def call_view(ctx: ApiContext, who: Principal, call_id: str) -> CallView | None:
    """The call's view, once ``who`` may act on it; None for an admin when the snapshot lacks it."""
    view = next((c for c in snapshot(ctx).calls if c.call_id == call_id), None)
    if view is None:
        if who.is_admin:
            return None  # the snapshot may be a second old: let the engine say whether it exists
        raise not_found("call", call_id)
    who.require_call(call_id, view.queue, _on_call(view))
    return view


def campaign_stats(ctx: ApiContext, name: str) -> Any:
    """The campaign's live statistics (CampaignStats); 404 when there is no such campaign."""
    stats = next((s for s in ctx.campaigns() if s.campaign == name), None) if ctx.campaigns is not None else None
    if stats is None:
        raise not_found("campaign", name)
    return stats


def campaign_queue(stats: Any) -> str | None:
    return getattr(stats, "queue", None) or None


def may_see_campaign(who: Principal, stats: Any) -> bool:
    return who.role != "supervisor" or who.may_see_queue(campaign_queue(stats))


def _require_campaign(ctx: ApiContext, who: Principal, name: str) -> None:
    if who.role == "supervisor":
        stats = campaign_stats(ctx, name)
        if not may_see_campaign(who, stats):
            raise Forbidden(f"token {who.name!r} is not allowed to act on campaign {name[:64]!r}")


def _canonical_scope(ctx: ApiContext, raw: str, path: str) -> str:
    try:
        return normalize_scope(raw, str(ctx.config.engine.get("default_region", "US")))
    except InvalidEntryError as exc:
        raise ApiError(422, "invalid-list-entry", str(exc)[:300], [{"path": path, "message": str(exc)[:200]}]) from None


def may_manage_list_scope(ctx: ApiContext, who: Principal, scope: str) -> bool:
    """Whether ``who`` may read and change entries of the canonical list ``scope``."""
    if who.unscoped:
        return True
    if who.role != "supervisor":
        return False
    kind, _, name = scope.partition(":")
    if kind == "queue":
        return who.may_see_queue(name)
    if kind == "campaign":
        stats = next((s for s in ctx.campaigns() if s.campaign == name), None) if ctx.campaigns is not None else None
        return stats is not None and who.may_see_queue(campaign_queue(stats))
    return False  # global and did: scopes screen the calls of every queue


def require_list_scope(ctx: ApiContext, who: Principal, raw: str, path: str) -> None:
    if who.unscoped:
        return  # the engine normalizes and validates the scope as for anyone
    scope = _canonical_scope(ctx, raw, path)
    if not may_manage_list_scope(ctx, who, scope):
        raise ApiError(
            403,
            "forbidden",
            f"token {who.name!r} may not manage list entries of scope {scope!r}",
            [{"path": path, "message": "out of the token's scope"}],
        )


def visible_list_scopes(ctx: ApiContext, who: Principal) -> list[str] | None:
    """The list scopes ``who`` may read, sorted (the store's key order); None: every scope."""
    if who.unscoped:
        return None
    scopes = {f"queue:{q.name}" for q in snapshot(ctx).queues if who.may_see_queue(q.name)}
    if ctx.campaigns is not None:
        scopes |= {f"campaign:{s.campaign}" for s in ctx.campaigns() if may_see_campaign(who, s)}
    return sorted(s for s in scopes if may_manage_list_scope(ctx, who, s))


# -- the rules -------------------------------------------------------------------------------------


def _none(ctx: ApiContext, who: Principal, p: dict[str, str], body: Any, req: falcon.Request) -> None:
    return None


def _agent(ctx: ApiContext, who: Principal, p: dict[str, str], body: Any, req: falcon.Request) -> None:
    who.require_agent(p["agent_id"])


def _agent_and_calls(ctx: ApiContext, who: Principal, p: dict[str, str], body: Any, req: falcon.Request) -> None:
    who.require_agent(p["agent_id"])
    if who.role == "supervisor":  # listening in is acting on the agent's calls too
        for view in snapshot(ctx).calls:
            if p["agent_id"] in _on_call(view):
                who.require_call(view.call_id, view.queue, _on_call(view))


def _call(ctx: ApiContext, who: Principal, p: dict[str, str], body: Any, req: falcon.Request) -> None:
    call_view(ctx, who, p["call_id"])


def _transfer(ctx: ApiContext, who: Principal, p: dict[str, str], body: Any, req: falcon.Request) -> None:
    call_view(ctx, who, p["call_id"])
    if who.role == "supervisor":  # a supervisor may not send a call out of its queues or team
        if body.queue is not None:
            who.require_queue(body.queue)
        if body.agent_id is not None:
            who.require_agent(body.agent_id)


def _queue(ctx: ApiContext, who: Principal, p: dict[str, str], body: Any, req: falcon.Request) -> None:
    who.require_queue(p["name"])


def _list_view(ctx: ApiContext, who: Principal, p: dict[str, str], body: Any, req: falcon.Request) -> None:
    scope = req.get_param("scope")
    if scope is not None:
        require_list_scope(ctx, who, scope[:256], "scope")


def _list_entry(ctx: ApiContext, who: Principal, p: dict[str, str], body: Any, req: falcon.Request) -> None:
    if body is None:  # DELETE: the entry's scope is a query parameter
        require_list_scope(ctx, who, (req.get_param("scope") or "global")[:256], "scope")
    elif hasattr(body, "entries"):  # an import is refused whole if any entry is out of scope
        for i, entry in enumerate(body.entries):
            require_list_scope(ctx, who, entry.scope, f"entries[{i}].scope")
    else:
        require_list_scope(ctx, who, body.scope, "scope")


def _campaign(ctx: ApiContext, who: Principal, p: dict[str, str], body: Any, req: falcon.Request) -> None:
    _require_campaign(ctx, who, p["name"])


def _campaign_agent(ctx: ApiContext, who: Principal, p: dict[str, str], body: Any, req: falcon.Request) -> None:
    who.require_agent(p["agent_id"])
    _require_campaign(ctx, who, p["name"])


def _callback(ctx: ApiContext, who: Principal, p: dict[str, str], body: Any, req: falcon.Request) -> None:
    if who.role == "agent" and (body.agent_id is None or body.agent_id != who.agent_id):
        raise Forbidden("an agent may only schedule a callback kept for themselves (agent_id)")
    if who.role == "supervisor" and body.agent_id is not None:
        who.require_agent(body.agent_id)
    _require_campaign(ctx, who, p["name"])


VIEW = ScopeRule("view", "a view: only what is in the caller's scope is listed", _none)
AGENT = ScopeRule("agent", "the path's agent: an agent itself, a supervisor's team", _agent)
AGENT_CALLS = ScopeRule(
    "agent+calls", "the path's agent (a supervisor's team) and each of its calls (queue and agents)", _agent_and_calls
)
CALL = ScopeRule("call", "the path's call: an agent on it; a supervisor's queue and every agent on it", _call)
TRANSFER = ScopeRule(
    "call+destination", "the path's call, and for a supervisor a destination queue or agent in scope", _transfer
)
QUEUE = ScopeRule("queue", "the path's queue in the supervisor's queues", _queue)
LIST_VIEW = ScopeRule(
    "list-view", "entries of the scopes the caller may manage; a given scope must be one of them", _list_view
)
LIST_ENTRY = ScopeRule(
    "list-entry",
    "each entry's scope: queue:X in scope, campaign:C of a queue in scope, global/did: unscoped only",
    _list_entry,
)
CAMPAIGN = ScopeRule("campaign", "the path's campaign: its queue in the supervisor's queues", _campaign)
CAMPAIGN_AGENT = ScopeRule(
    "campaign+agent",
    "the path's agent (an agent itself, a supervisor's team) and the campaign's queue",
    _campaign_agent,
)
CALLBACK = ScopeRule(
    "campaign+callback", "the campaign's queue; the kept agent must be the agent itself or in the team", _callback
)
ADMIN = ScopeRule("admin", "administration: admins only, no further scope", _none, admin_only=True)

RULES = (
    VIEW,
    AGENT,
    AGENT_CALLS,
    CALL,
    TRANSFER,
    QUEUE,
    LIST_VIEW,
    LIST_ENTRY,
    CAMPAIGN,
    CAMPAIGN_AGENT,
    CALLBACK,
    ADMIN,
)

__all__ = [
    "ADMIN",
    "AGENT",
    "AGENT_CALLS",
    "CALL",
    "CALLBACK",
    "CAMPAIGN",
    "CAMPAIGN_AGENT",
    "LIST_ENTRY",
    "LIST_VIEW",
    "QUEUE",
    "RULES",
    "TRANSFER",
    "VIEW",
    "ScopeRule",
    "call_in_scope",
    "call_view",
    "campaign_stats",
    "may_see_campaign",
    "snapshot",
    "visible_list_scopes",
]
