"""The routes of the HTTP API (v1): agents, calls, supervisors, lists, webhooks, campaigns, the event stream.

Rules: read routes are served from the engine snapshot (never from FreeSWITCH, never waiting on
the engine); action routes build one engine request, submit it to the engine greenlet and report
what it said (refusals map to 404/409/422 by the error's code: :mod:`ctilink.service.api.handling`).
Whose resources a route may touch is its scope rule (:mod:`ctilink.service.api.scopes`), checked by
the framework before the handler; views filter with the same rules. Logging in on an endpoint: an
agent or supervisor picks one of the agent's configured endpoints; only an admin may name another
(still a valid dial string).

The table is built by area, in a fixed order (the order clients and the OpenAPI document see):
agents, supervisor actions, calls, queues, number lists (:mod:`ctilink.service.api.list_routes`),
campaigns (:mod:`ctilink.service.api.campaign_routes`), administration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import falcon

from ctilink.config import ConfigError
from ctilink.core import call_control as cc
from ctilink.core import requests as rq
from ctilink.service.api import scopes as sc
from ctilink.service.api.campaign_routes import campaign_routes
from ctilink.service.api.context import ApiContext
from ctilink.service.api.framework import ApiError, Route, Stream, not_found
from ctilink.service.api.handling import ADMIN, SUP, query_param, submit
from ctilink.service.api.list_routes import list_routes
from ctilink.service.api.models import (
    BODIES,
    DialBody,
    DtmfBody,
    ForceStateBody,
    HangupBody,
    LoginBody,
    MonitorBody,
    NotReadyBody,
    RecordBody,
    TransferBody,
)
from ctilink.service.api.serialize import plain
from ctilink.service.auth import Principal

# -- helpers --------------------------------------------------------------------------------------


_snap = sc.snapshot
_call_view = sc.call_view


def _agent_view(ctx: ApiContext, who: Principal, agent_id: str) -> Any:
    who.require_agent(agent_id)
    try:
        return _snap(ctx).agent(agent_id)
    except KeyError:
        raise not_found("agent", agent_id) from None


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
    last = req.get_header("Last-Event-ID") or query_param(req, "last_event_id")
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
    return submit(ctx, rq.AgentLogin(agent_id, body.not_ready_reason, endpoints=endpoints))


def _agent_action(make: Callable[[str, Any], object]) -> Callable[..., Any]:
    def handler(ctx: ApiContext, who: Principal, p: dict[str, str], body: Any, req: falcon.Request) -> Any:
        _agent_view(ctx, who, p["agent_id"])
        return submit(ctx, make(p["agent_id"], body))

    return handler


def agent_dial(ctx: ApiContext, who: Principal, p: dict[str, str], body: DialBody, req: falcon.Request) -> Any:
    _agent_view(ctx, who, p["agent_id"])
    calls = ctx.config.calls
    return submit(
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
        return submit(ctx, rq.AgentReady(agent_id))
    if body.state == "logged-out":
        return submit(ctx, rq.AgentLogout(agent_id))
    if not body.reason:
        raise ApiError(
            422, "invalid-body", "reason is required for not-ready", [{"path": "reason", "message": "required"}]
        )
    return submit(ctx, rq.AgentNotReady(agent_id, body.reason))


def monitor(ctx: ApiContext, who: Principal, p: dict[str, str], body: MonitorBody, req: falcon.Request) -> Any:
    _agent_view(ctx, who, p["agent_id"])
    return submit(ctx, cc.MonitorAgent(p["agent_id"], body.dial_string, body.mode))


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
        return submit(ctx, make(p["call_id"], body))  # the route's scope rule found the call

    return handler


def transfer(ctx: ApiContext, who: Principal, p: dict[str, str], body: TransferBody, req: falcon.Request) -> Any:
    return submit(
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

_AGENT = "/v1/agents/{agent_id}"
_CALL = "/v1/calls/{call_id}"


def _agent_view_routes() -> list[Route]:
    """An agent's state, history and event stream; the agents in scope."""
    return [
        Route("GET", "/v1/agents", list_agents, "Agents in scope, from the engine snapshot", SUP, scope=sc.VIEW),
        Route("GET", _AGENT, get_agent, "One agent's state", scope=sc.AGENT),
        Route("GET", _AGENT + "/history", agent_history, "One agent's recent state changes", scope=sc.AGENT),
        Route(
            "GET",
            _AGENT + "/events",
            agent_events,
            "The agent's event stream (SSE; resume with Last-Event-ID)",
            query=("last_event_id",),
            stream=True,
            scope=sc.AGENT,
        ),
    ]


def _agent_action_routes() -> list[Route]:
    """What an agent (or a supervisor for them) does: log in and out, readiness, wrap-up, dial."""
    return [
        Route(
            "POST",
            _AGENT + "/login",
            agent_login,
            "Log in, optionally on one of the agent's endpoints (admins: any dial string)",
            body=LoginBody,
            scope=sc.AGENT,
        ),
        Route(
            "POST",
            _AGENT + "/logout",
            _agent_action(lambda i, b: rq.AgentLogout(i)),
            "Log out (after the call)",
            scope=sc.AGENT,
        ),
        Route("POST", _AGENT + "/ready", _agent_action(lambda i, b: rq.AgentReady(i)), "Become ready", scope=sc.AGENT),
        Route(
            "POST",
            _AGENT + "/not-ready",
            _agent_action(lambda i, b: rq.AgentNotReady(i, b.reason)),
            "Become not ready with a reason",
            body=NotReadyBody,
            scope=sc.AGENT,
        ),
        Route(
            "POST",
            _AGENT + "/end-wrap-up",
            _agent_action(lambda i, b: rq.EndWrapUp(i)),
            "End wrap-up now",
            scope=sc.AGENT,
        ),
        Route(
            "POST",
            _AGENT + "/dial",
            agent_dial,
            "Click-to-dial: ring the agent, then the customer",
            body=DialBody,
            scope=sc.AGENT,
        ),
    ]


def _supervisor_routes() -> list[Route]:
    """A supervisor on an agent: force its state, listen in on its calls."""
    return [
        Route(
            "POST",
            _AGENT + "/force-state",
            force_state,
            "Supervisor: force an agent's state",
            SUP,
            body=ForceStateBody,
            scope=sc.AGENT,
        ),
        Route(
            "POST",
            _AGENT + "/monitor",
            monitor,
            "Supervisor: listen, whisper or barge",
            SUP,
            body=MonitorBody,
            scope=sc.AGENT_CALLS,
        ),
    ]


def _call_routes() -> list[Route]:
    """Live calls: the view, hold, transfer, hang-up, digits, recording."""
    return [
        Route("GET", "/v1/calls", list_calls, "Live calls in scope", SUP, scope=sc.VIEW),
        Route("GET", _CALL, get_call, "One live call", scope=sc.CALL),
        Route(
            "POST", _CALL + "/hold", _call_action(lambda i, b: cc.HoldCall(i, True)), "Hold the customer", scope=sc.CALL
        ),
        Route(
            "POST",
            _CALL + "/unhold",
            _call_action(lambda i, b: cc.HoldCall(i, False)),
            "Take the customer off hold",
            scope=sc.CALL,
        ),
        Route(
            "POST",
            _CALL + "/transfer",
            transfer,
            "Blind transfer to a queue, an agent or a number",
            body=TransferBody,
            scope=sc.TRANSFER,
        ),
        Route(
            "POST",
            _CALL + "/hangup",
            _call_action(lambda i, b: rq.HangupCall(i, b.cause)),
            "Hang up the call",
            body=HangupBody,
            scope=sc.CALL,
        ),
        Route(
            "POST",
            _CALL + "/dtmf",
            _call_action(lambda i, b: cc.SendDigits(i, b.digits)),
            "Send DTMF digits",
            body=DtmfBody,
            scope=sc.CALL,
        ),
        Route(
            "POST",
            _CALL + "/recording/start",
            _call_action(lambda i, b: cc.RecordCall(i, True, b.path)),
            "Start recording",
            body=RecordBody,
            scope=sc.CALL,
        ),
        Route(
            "POST",
            _CALL + "/recording/stop",
            _call_action(lambda i, b: cc.RecordCall(i, False, b.path)),
            "Stop recording",
            body=RecordBody,
            scope=sc.CALL,
        ),
    ]


def _queue_routes() -> list[Route]:
    """Live queue views and the recent abandons."""
    return [
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
    ]


def _admin_routes() -> list[Route]:
    """Administration: configuration reload, webhook dead letters."""
    return [
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


def routes() -> list[Route]:
    """Every API route except health, metrics and the OpenAPI document (added by the app)."""
    return [
        *_agent_view_routes(),
        *_agent_action_routes(),
        *_supervisor_routes(),
        *_call_routes(),
        *_queue_routes(),
        *list_routes(),
        *campaign_routes(),
        *_admin_routes(),
    ]


__all__ = ["BODIES", "ApiContext", "routes"]
