"""The routes of the HTTP API (v1): agents, calls, supervisors, lists, webhooks, campaigns, the event stream.

Rules: read routes are served from the engine snapshot (never from FreeSWITCH, never waiting on
the engine); action routes build one engine request, submit it to the engine greenlet and report
what it said (refusals map to 404/409/422 by the error's code). Whose resources a route may touch
is its scope rule (:mod:`ctilink.service.api.scopes`), checked by the framework before the handler;
views filter with the same rules. Logging in on an endpoint: an agent or supervisor picks one of
the agent's configured endpoints; only an admin may name another (still a valid dial string).
Campaign routes read the dialer's live stats and send dialer requests (start, pause, resume,
stop, preview accept/skip, schedule callback) the same way; the dialer's refusals (an unknown
campaign or contact: 404; no preview, a contact being dialed: 409) are typed the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import falcon

from ctilink.config import ConfigError
from ctilink.core import call_control as cc
from ctilink.core import requests as rq
from ctilink.service.api import scopes as sc
from ctilink.service.api.context import ApiContext
from ctilink.service.api.framework import ApiError, Route, Stream, not_found
from ctilink.service.api.models import (
    BODIES,
    CallbackBody,
    DialBody,
    DtmfBody,
    ForceStateBody,
    HangupBody,
    ListEntryBody,
    ListImportBody,
    LoginBody,
    MonitorBody,
    NotReadyBody,
    PreviewSkipBody,
    RecordBody,
    TransferBody,
)
from ctilink.service.api.serialize import plain
from ctilink.service.auth import Principal

_NOT_FOUND_CODES = {"unknown-agent", "unknown-call", "unknown-queue", "unknown-list", "unknown-list-entry"}
_INVALID_CODES = {
    "invalid-input",
    "invalid-value",
    "invalid-number",
    "invalid-list-entry",
    "unknown-not-ready-reason",
    "unknown-disposition-code",
    "unknown-skill",
}


# -- helpers --------------------------------------------------------------------------------------


_snap = sc.snapshot
_call_view = sc.call_view


def _agent_view(ctx: ApiContext, who: Principal, agent_id: str) -> Any:
    who.require_agent(agent_id)
    try:
        return _snap(ctx).agent(agent_id)
    except KeyError:
        raise not_found("agent", agent_id) from None


def _submit(ctx: ApiContext, request: object) -> dict[str, Any]:
    effects = ctx.submit(request).get(timeout=ctx.submit_timeout_s)
    error = effects.error
    if error is not None:
        code = getattr(error, "code", "error")
        status = 404 if code in _NOT_FOUND_CODES else 422 if code in _INVALID_CODES else 409
        raise ApiError(status, code, str(error)[:500])
    return {
        "ok": True,
        "request": type(request).__name__,
        "commands": len(effects.commands),
        "notifications": [type(n).__name__ for n in effects.notifications],
    }


def _q(req: falcon.Request, name: str) -> str | None:
    value = req.get_param(name)
    return value[:256] if value is not None else None


# -- agents ---------------------------------------------------------------------------------------


def list_agents(ctx: ApiContext, who: Principal, p: dict[str, str], body: None, req: falcon.Request) -> Any:
    snap = _snap(ctx)
    return {"at": snap.at, "agents": [plain(a) for a in snap.agents if who.may_see_agent(a.agent_id)]}


def get_agent(ctx: ApiContext, who: Principal, p: dict[str, str], body: None, req: falcon.Request) -> Any:
    return plain(_agent_view(ctx, who, p["agent_id"]))


def agent_history(ctx: ApiContext, who: Principal, p: dict[str, str], body: None, req: falcon.Request) -> Any:
    view = _agent_view(ctx, who, p["agent_id"])
    return {"agent_id": view.agent_id, "state": view.state.value, "history": ctx.activity.history(view.agent_id)}


def agent_events(ctx: ApiContext, who: Principal, p: dict[str, str], body: None, req: falcon.Request) -> Any:
    _agent_view(ctx, who, p["agent_id"])
    if ctx.hub is None:
        raise ApiError(503, "no-event-stream", "the agent event stream is not running")
    last = req.get_header("Last-Event-ID") or _q(req, "last_event_id")
    return Stream(ctx.hub.stream(p["agent_id"], last))


def _profile(ctx: ApiContext, agent_id: str) -> Any:
    for profile in ctx.config.agents:
        if profile.id == agent_id:
            return profile
    return None


def agent_login(ctx: ApiContext, who: Principal, p: dict[str, str], body: LoginBody, req: falcon.Request) -> Any:
    agent_id = p["agent_id"]
    _agent_view(ctx, who, agent_id)
    endpoints: tuple[str, ...] | None = None
    if body.endpoint is not None:
        profile = _profile(ctx, agent_id)
        if profile is None:
            raise not_found("agent", agent_id)
        if body.endpoint not in profile.endpoints and not who.is_admin:
            # An endpoint is where calls are sent: naming a new one (a PSTN gateway) is configuration.
            raise ApiError(
                403,
                "endpoint-not-allowed",
                f"agent {agent_id!r} may log in only on a configured endpoint; an admin may add one",
                [{"path": "endpoint", "message": "not one of the agent's configured endpoints"}],
            )
        endpoints = (body.endpoint, *(e for e in profile.endpoints if e != body.endpoint))
        try:
            profile.model_validate({**profile.model_dump(), "endpoints": list(endpoints)})
        except ValueError as exc:
            raise ApiError(
                422,
                "invalid-body",
                "endpoint is not a valid dial string",
                [{"path": "endpoint", "message": str(exc).splitlines()[-1][:200]}],
            ) from None
    # One request: the engine applies the endpoints only if it accepts the login.
    return _submit(ctx, rq.AgentLogin(agent_id, body.not_ready_reason, endpoints=endpoints))


def _agent_action(make: Callable[[str, Any], object]) -> Callable[..., Any]:
    def handler(ctx: ApiContext, who: Principal, p: dict[str, str], body: Any, req: falcon.Request) -> Any:
        _agent_view(ctx, who, p["agent_id"])
        return _submit(ctx, make(p["agent_id"], body))

    return handler


def agent_dial(ctx: ApiContext, who: Principal, p: dict[str, str], body: DialBody, req: falcon.Request) -> Any:
    _agent_view(ctx, who, p["agent_id"])
    calls = ctx.config.calls
    return _submit(
        ctx,
        cc.ClickToDial(
            p["agent_id"],
            body.number,
            calls.dial_template,
            calls.caller_id_number,
            calls.caller_id_name,
            calls.ring_timeout_s,
        ),
    )


def force_state(ctx: ApiContext, who: Principal, p: dict[str, str], body: ForceStateBody, req: falcon.Request) -> Any:
    agent_id = p["agent_id"]
    _agent_view(ctx, who, agent_id)
    if body.state == "ready":
        return _submit(ctx, rq.AgentReady(agent_id))
    if body.state == "logged-out":
        return _submit(ctx, rq.AgentLogout(agent_id))
    if not body.reason:
        raise ApiError(
            422, "invalid-body", "reason is required for not-ready", [{"path": "reason", "message": "required"}]
        )
    return _submit(ctx, rq.AgentNotReady(agent_id, body.reason))


def monitor(ctx: ApiContext, who: Principal, p: dict[str, str], body: MonitorBody, req: falcon.Request) -> Any:
    _agent_view(ctx, who, p["agent_id"])
    return _submit(ctx, cc.MonitorAgent(p["agent_id"], body.dial_string, body.mode))


# -- calls ----------------------------------------------------------------------------------------


def list_calls(ctx: ApiContext, who: Principal, p: dict[str, str], body: None, req: falcon.Request) -> Any:
    snap = _snap(ctx)
    return {"at": snap.at, "calls": [plain(c) for c in snap.calls if sc.call_in_scope(c, who)]}


def get_call(ctx: ApiContext, who: Principal, p: dict[str, str], body: None, req: falcon.Request) -> Any:
    view = _call_view(ctx, who, p["call_id"])
    if view is None:
        raise not_found("call", p["call_id"])
    return plain(view)


def _call_action(make: Callable[[str, Any], object]) -> Callable[..., Any]:
    def handler(ctx: ApiContext, who: Principal, p: dict[str, str], body: Any, req: falcon.Request) -> Any:
        return _submit(ctx, make(p["call_id"], body))  # the route's scope rule found the call

    return handler


def transfer(ctx: ApiContext, who: Principal, p: dict[str, str], body: TransferBody, req: falcon.Request) -> Any:
    return _submit(
        ctx,
        rq.TransferCall(
            p["call_id"], queue=body.queue, agent_id=body.agent_id, number=body.number, context=body.context
        ),
    )


# -- supervisor views -----------------------------------------------------------------------------


def list_queues(ctx: ApiContext, who: Principal, p: dict[str, str], body: None, req: falcon.Request) -> Any:
    snap = _snap(ctx)
    return {
        "at": snap.at,
        "queues": [plain(q) for q in snap.queues if who.may_see_queue(q.name)],
        "agents": [plain(a) for a in snap.agents if who.may_see_agent(a.agent_id)],
    }


def get_queue(ctx: ApiContext, who: Principal, p: dict[str, str], body: None, req: falcon.Request) -> Any:
    who.require_queue(p["name"])
    try:
        return plain(_snap(ctx).queue(p["name"]))
    except KeyError:
        raise not_found("queue", p["name"]) from None


def abandoned(ctx: ApiContext, who: Principal, p: dict[str, str], body: None, req: falcon.Request) -> Any:
    return {"calls": [c for c in ctx.activity.abandoned() if who.may_see_queue(c["queue"])]}


# -- lists ----------------------------------------------------------------------------------------

_LISTS = ("blacklist", "whitelist", "dnc")


def _list_name(p: dict[str, str]) -> str:
    name = p["list_name"]
    if name not in _LISTS:
        raise not_found("list", name)
    return name


def query_list(ctx: ApiContext, who: Principal, p: dict[str, str], body: None, req: falcon.Request) -> Any:
    name = _list_name(p)
    if ctx.query_list is None:
        raise ApiError(503, "no-lists", "lists are not available")
    limit = req.get_param_as_int("limit", min_value=1, max_value=10_000) or 1000
    scope = _q(req, "scope")
    # A scoped supervisor reads the scopes it may manage, one after another in the store's key
    # order (list, scope, ...), so the concatenation is sorted as an unscoped read would be.
    visible = sc.visible_list_scopes(ctx, who) if scope is None else [scope]  # a given scope passed its rule
    scopes: list[str | None] = [None] if visible is None else list(visible)
    entries: list[Any] = []
    try:
        for one in scopes:
            if len(entries) >= limit:
                break
            entries += ctx.query_list(
                name, scope=one, number=_q(req, "number"), now=time.time(), limit=limit - len(entries)
            )
    except Exception as exc:
        raise ApiError(422, "invalid-query", str(exc)[:300]) from None
    return {"list": name, "entries": [plain(e) for e in entries]}


def _add_request(name: str, entry: ListEntryBody, who: Principal) -> rq.AddListEntry:
    return rq.AddListEntry(
        list_name=name,
        number=entry.number,
        scope=entry.scope,
        expires_at=entry.expires_at,
        reason=entry.reason,
        added_by=who.name,
        priority=entry.priority,
        target=entry.target,
        action=entry.action,
        cause=entry.cause,
    )


def _durable(ctx: ApiContext, out: dict[str, Any]) -> dict[str, Any]:
    if ctx.durable is not None:
        ctx.durable()
    out["durable"] = ctx.durable is not None
    return out


def add_entry(ctx: ApiContext, who: Principal, p: dict[str, str], body: ListEntryBody, req: falcon.Request) -> Any:
    return _durable(ctx, _submit(ctx, _add_request(_list_name(p), body, who)))


def remove_entry(ctx: ApiContext, who: Principal, p: dict[str, str], body: None, req: falcon.Request) -> Any:
    name = _list_name(p)
    return _durable(
        ctx,
        _submit(
            ctx,
            rq.RemoveListEntry(name, p["number"], scope=_q(req, "scope") or "global", kind=_q(req, "kind") or "exact"),
        ),
    )


def import_entries(
    ctx: ApiContext, who: Principal, p: dict[str, str], body: ListImportBody, req: falcon.Request
) -> Any:
    name = _list_name(p)
    results = [ctx.submit(_add_request(name, entry, who)) for entry in body.entries]
    errors = []
    for i, result in enumerate(results):
        error = result.get(timeout=ctx.submit_timeout_s).error
        if error is not None:
            errors.append({"path": f"entries[{i}]", "message": str(error)[:200], "code": error.code})
    return _durable(ctx, {"ok": not errors, "added": len(results) - len(errors), "errors": errors})


# -- administration -------------------------------------------------------------------------------


def reload_config(ctx: ApiContext, who: Principal, p: dict[str, str], body: None, req: falcon.Request) -> Any:
    if ctx.reload is None:
        raise ApiError(409, "reload-unavailable", "this daemon was not started from a configuration file")
    try:
        return ctx.reload()
    except ConfigError as exc:
        raise ApiError(
            422,
            "invalid-config",
            "the new configuration is invalid; the old one keeps running",
            [{"path": path, "message": message[:200]} for path, message in exc.errors],
        ) from None


# -- webhooks -------------------------------------------------------------------------------------


def dead_letters(ctx: ApiContext, who: Principal, p: dict[str, str], body: None, req: falcon.Request) -> Any:
    items = ctx.webhooks.dead_letters(1000) if ctx.webhooks is not None else []
    return {
        "dead_letters": [
            {
                "event_id": i.event_id,
                "endpoint": i.endpoint,
                "attempts": i.attempts,
                "last_error": i.last_error,
                "created_at": i.created_at,
            }
            for i in items
        ]
    }


def retry_dead(ctx: ApiContext, who: Principal, p: dict[str, str], body: None, req: falcon.Request) -> Any:
    if ctx.webhooks is None or not ctx.webhooks.retry_dead(p["event_id"], p["endpoint"]):
        raise not_found("dead-letter", f"{p['endpoint']}/{p['event_id']}")
    return {"ok": True}


# -- the table ------------------------------------------------------------------------------------

# -- campaigns ------------------------------------------------------------------------------------


def _campaign(ctx: ApiContext, who: Principal, name: str) -> Any:
    return sc.campaign_stats(ctx, name)  # its scope rule has run: the lookup only


def _submit_campaign(ctx: ApiContext, request: object) -> dict[str, Any]:
    from ctilink.dialer.dialer import DialerError

    assert ctx.submit_campaign is not None  # _campaign() found the campaign, so the dialer is wired
    result = ctx.submit_campaign(request)
    if isinstance(result, DialerError):
        message = str(result)[:500]
        status, code = (404, "unknown-campaign-item") if message.startswith("unknown") else (409, "campaign-refused")
        raise ApiError(status, code, message)
    out: dict[str, Any] = {"ok": True, "request": type(request).__name__}
    if result is not None and hasattr(result, "commands"):
        out["commands"] = len(result.commands)
        out["notifications"] = [type(n).__name__ for n in result.notifications]
    return out


def list_campaigns(ctx: ApiContext, who: Principal, p: dict[str, str], body: None, req: falcon.Request) -> Any:
    stats = ctx.campaigns() if ctx.campaigns is not None else []
    return {"campaigns": [plain(s) for s in stats if sc.may_see_campaign(who, s)]}


def get_campaign(ctx: ApiContext, who: Principal, p: dict[str, str], body: None, req: falcon.Request) -> Any:
    return plain(_campaign(ctx, who, p["name"]))


def _campaign_action(kind: str) -> Callable[..., Any]:
    def handler(ctx: ApiContext, who: Principal, p: dict[str, str], body: None, req: falcon.Request) -> Any:
        from ctilink.dialer import dialer as dl

        _campaign(ctx, who, p["name"])
        make = {
            "start": dl.StartCampaign,
            "pause": dl.PauseCampaign,
            "resume": dl.ResumeCampaign,
            "stop": dl.StopCampaign,
        }[kind]
        return _submit_campaign(ctx, make(p["name"]))

    return handler


def preview_accept(ctx: ApiContext, who: Principal, p: dict[str, str], body: None, req: falcon.Request) -> Any:
    from ctilink.dialer.dialer import PreviewAccept

    _campaign(ctx, who, p["name"])
    return _submit_campaign(ctx, PreviewAccept(p["name"], p["agent_id"]))


def preview_skip(ctx: ApiContext, who: Principal, p: dict[str, str], body: PreviewSkipBody, req: falcon.Request) -> Any:
    from ctilink.dialer.dialer import PreviewSkip

    _campaign(ctx, who, p["name"])
    return _submit_campaign(ctx, PreviewSkip(p["name"], p["agent_id"], body.reason))


def schedule_callback(
    ctx: ApiContext, who: Principal, p: dict[str, str], body: CallbackBody, req: falcon.Request
) -> Any:
    from ctilink.dialer.dialer import ScheduleCallback

    _campaign(ctx, who, p["name"])
    return _submit_campaign(ctx, ScheduleCallback(p["name"], p["contact_id"][:128], body.at, body.agent_id))


SUP = ("supervisor", "admin")
ADMIN = ("admin",)


def routes() -> list[Route]:
    """Every API route except health, metrics and the OpenAPI document (added by the app)."""
    a = "/v1/agents/{agent_id}"
    c = "/v1/calls/{call_id}"
    k = "/v1/campaigns/{name}"
    lists = "/v1/lists/{list_name}"
    return [
        Route("GET", "/v1/agents", list_agents, "Agents in scope, from the engine snapshot", SUP, scope=sc.VIEW),
        Route("GET", a, get_agent, "One agent's state", scope=sc.AGENT),
        Route("GET", a + "/history", agent_history, "One agent's recent state changes", scope=sc.AGENT),
        Route(
            "GET",
            a + "/events",
            agent_events,
            "The agent's event stream (SSE; resume with Last-Event-ID)",
            query=("last_event_id",),
            stream=True,
            scope=sc.AGENT,
        ),
        Route(
            "POST",
            a + "/login",
            agent_login,
            "Log in, optionally on one of the agent's endpoints (admins: any dial string)",
            body=LoginBody,
            scope=sc.AGENT,
        ),
        Route(
            "POST",
            a + "/logout",
            _agent_action(lambda i, b: rq.AgentLogout(i)),
            "Log out (after the call)",
            scope=sc.AGENT,
        ),
        Route("POST", a + "/ready", _agent_action(lambda i, b: rq.AgentReady(i)), "Become ready", scope=sc.AGENT),
        Route(
            "POST",
            a + "/not-ready",
            _agent_action(lambda i, b: rq.AgentNotReady(i, b.reason)),
            "Become not ready with a reason",
            body=NotReadyBody,
            scope=sc.AGENT,
        ),
        Route(
            "POST",
            a + "/end-wrap-up",
            _agent_action(lambda i, b: rq.EndWrapUp(i)),
            "End wrap-up now",
            scope=sc.AGENT,
        ),
        Route(
            "POST",
            a + "/dial",
            agent_dial,
            "Click-to-dial: ring the agent, then the customer",
            body=DialBody,
            scope=sc.AGENT,
        ),
        Route(
            "POST",
            a + "/force-state",
            force_state,
            "Supervisor: force an agent's state",
            SUP,
            body=ForceStateBody,
            scope=sc.AGENT,
        ),
        Route(
            "POST",
            a + "/monitor",
            monitor,
            "Supervisor: listen, whisper or barge",
            SUP,
            body=MonitorBody,
            scope=sc.AGENT_CALLS,
        ),
        Route("GET", "/v1/calls", list_calls, "Live calls in scope", SUP, scope=sc.VIEW),
        Route("GET", c, get_call, "One live call", scope=sc.CALL),
        Route("POST", c + "/hold", _call_action(lambda i, b: cc.HoldCall(i, True)), "Hold the customer", scope=sc.CALL),
        Route(
            "POST",
            c + "/unhold",
            _call_action(lambda i, b: cc.HoldCall(i, False)),
            "Take the customer off hold",
            scope=sc.CALL,
        ),
        Route(
            "POST",
            c + "/transfer",
            transfer,
            "Blind transfer to a queue, an agent or a number",
            body=TransferBody,
            scope=sc.TRANSFER,
        ),
        Route(
            "POST",
            c + "/hangup",
            _call_action(lambda i, b: rq.HangupCall(i, b.cause)),
            "Hang up the call",
            body=HangupBody,
            scope=sc.CALL,
        ),
        Route(
            "POST",
            c + "/dtmf",
            _call_action(lambda i, b: cc.SendDigits(i, b.digits)),
            "Send DTMF digits",
            body=DtmfBody,
            scope=sc.CALL,
        ),
        Route(
            "POST",
            c + "/recording/start",
            _call_action(lambda i, b: cc.RecordCall(i, True, b.path)),
            "Start recording",
            body=RecordBody,
            scope=sc.CALL,
        ),
        Route(
            "POST",
            c + "/recording/stop",
            _call_action(lambda i, b: cc.RecordCall(i, False, b.path)),
            "Stop recording",
            body=RecordBody,
            scope=sc.CALL,
        ),
        Route(
            "GET", "/v1/queues", list_queues, "Live queue view: waiting calls and agents by state", SUP, scope=sc.VIEW
        ),
        Route("GET", "/v1/queues/{name}", get_queue, "One queue's live view", SUP, scope=sc.QUEUE),
        Route(
            "GET",
            "/v1/abandoned",
            abandoned,
            "Recently abandoned calls (number and wait) for calling back",
            SUP,
            scope=sc.VIEW,
        ),
        Route(
            "GET",
            lists,
            query_list,
            "Query a number list (scoped supervisors: the entries of their scopes)",
            SUP,
            query=("number", "scope", "limit"),
            scope=sc.LIST_VIEW,
        ),
        Route(
            "POST",
            lists + "/entries",
            add_entry,
            "Add (or replace) a list entry",
            SUP,
            body=ListEntryBody,
            status=201,
            scope=sc.LIST_ENTRY,
        ),
        Route(
            "DELETE",
            lists + "/entries/{number}",
            remove_entry,
            "Remove a list entry",
            SUP,
            query=("scope", "kind"),
            scope=sc.LIST_ENTRY,
        ),
        Route(
            "POST",
            lists + "/import",
            import_entries,
            "Add many entries (all refused if one is out of scope)",
            SUP,
            body=ListImportBody,
            large_body=True,
            scope=sc.LIST_ENTRY,
        ),
        Route(
            "GET", "/v1/campaigns", list_campaigns, "Outbound campaigns with their live statistics", SUP, scope=sc.VIEW
        ),
        Route("GET", k, get_campaign, "One campaign's live statistics", SUP, scope=sc.CAMPAIGN),
        Route("POST", k + "/start", _campaign_action("start"), "Start dialing the campaign", SUP, scope=sc.CAMPAIGN),
        Route(
            "POST",
            k + "/pause",
            _campaign_action("pause"),
            "Pause: no new dials, calls in flight finish",
            SUP,
            scope=sc.CAMPAIGN,
        ),
        Route("POST", k + "/resume", _campaign_action("resume"), "Resume a paused campaign", SUP, scope=sc.CAMPAIGN),
        Route(
            "POST",
            k + "/stop",
            _campaign_action("stop"),
            "Stop: no new dials, previews are returned",
            SUP,
            scope=sc.CAMPAIGN,
        ),
        Route(
            "POST",
            k + "/preview/{agent_id}/accept",
            preview_accept,
            "Preview mode: dial the offered contact",
            scope=sc.CAMPAIGN_AGENT,
        ),
        Route(
            "POST",
            k + "/preview/{agent_id}/skip",
            preview_skip,
            "Preview mode: skip the offered contact",
            body=PreviewSkipBody,
            scope=sc.CAMPAIGN_AGENT,
        ),
        Route(
            "POST",
            k + "/contacts/{contact_id}/callback",
            schedule_callback,
            "Schedule a callback (optionally kept for one agent)",
            body=CallbackBody,
            scope=sc.CALLBACK,
        ),
        Route(
            "POST",
            "/v1/admin/reload",
            reload_config,
            "Re-read the configuration file: queues, skills and agents change, no agent's state does",
            ADMIN,
            scope=sc.ADMIN,
        ),
        Route(
            "GET", "/v1/webhooks/dead-letters", dead_letters, "Webhook deliveries that gave up", ADMIN, scope=sc.ADMIN
        ),
        Route(
            "POST",
            "/v1/webhooks/dead-letters/{endpoint}/{event_id}/retry",
            retry_dead,
            "Queue a dead letter again",
            ADMIN,
            scope=sc.ADMIN,
        ),
    ]


__all__ = ["BODIES", "ApiContext", "routes"]
