"""The campaign routes of the HTTP API: live statistics and the dialer's requests.

Rules: reads come from the dialer's live stats (``ctx.campaigns``), filtered by the same scope
rule as the route (a supervisor sees the campaigns of its queues). Actions (start, pause, resume,
stop, preview accept/skip, schedule a callback) are dialer requests sent through
``ctx.submit_campaign``, after the route's scope rule has found the campaign. The dialer's
refusals are typed like the engine's: an unknown campaign or contact 404, anything else (no
preview offered, a contact being dialed) 409.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import falcon

from ctilink.dialer import dialer as dl
from ctilink.service.api import scopes as sc
from ctilink.service.api.context import ApiContext
from ctilink.service.api.framework import ApiError, Route
from ctilink.service.api.handling import SUP
from ctilink.service.api.models import CallbackBody, PreviewSkipBody
from ctilink.service.api.serialize import plain
from ctilink.service.auth import Principal

__all__ = ["campaign_routes"]

_CAMPAIGN = "/v1/campaigns/{name}"


def _campaign(ctx: ApiContext, who: Principal, name: str) -> Any:
    return sc.campaign_stats(ctx, name)  # its scope rule has run: the lookup only


def _submit_campaign(ctx: ApiContext, request: object) -> dict[str, Any]:
    assert ctx.submit_campaign is not None  # _campaign() found the campaign, so the dialer is wired
    result = ctx.submit_campaign(request)
    if isinstance(result, dl.DialerError):
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
    _campaign(ctx, who, p["name"])
    return _submit_campaign(ctx, dl.PreviewAccept(p["name"], p["agent_id"]))


def preview_skip(ctx: ApiContext, who: Principal, p: dict[str, str], body: PreviewSkipBody, req: falcon.Request) -> Any:
    _campaign(ctx, who, p["name"])
    return _submit_campaign(ctx, dl.PreviewSkip(p["name"], p["agent_id"], body.reason))


def schedule_callback(
    ctx: ApiContext, who: Principal, p: dict[str, str], body: CallbackBody, req: falcon.Request
) -> Any:
    _campaign(ctx, who, p["name"])
    return _submit_campaign(ctx, dl.ScheduleCallback(p["name"], p["contact_id"][:128], body.at, body.agent_id))


def _campaign_control_routes() -> list[Route]:
    """Outbound campaigns: their live statistics, start, pause, resume, stop."""
    return [
        Route(
            "GET", "/v1/campaigns", list_campaigns, "Outbound campaigns with their live statistics", SUP, scope=sc.VIEW
        ),
        Route("GET", _CAMPAIGN, get_campaign, "One campaign's live statistics", SUP, scope=sc.CAMPAIGN),
        Route(
            "POST",
            _CAMPAIGN + "/start",
            _campaign_action("start"),
            "Start dialing the campaign",
            SUP,
            scope=sc.CAMPAIGN,
        ),
        Route(
            "POST",
            _CAMPAIGN + "/pause",
            _campaign_action("pause"),
            "Pause: no new dials, calls in flight finish",
            SUP,
            scope=sc.CAMPAIGN,
        ),
        Route(
            "POST",
            _CAMPAIGN + "/resume",
            _campaign_action("resume"),
            "Resume a paused campaign",
            SUP,
            scope=sc.CAMPAIGN,
        ),
        Route(
            "POST",
            _CAMPAIGN + "/stop",
            _campaign_action("stop"),
            "Stop: no new dials, previews are returned",
            SUP,
            scope=sc.CAMPAIGN,
        ),
    ]


def _campaign_agent_routes() -> list[Route]:
    """An agent's side of a campaign: preview accept and skip, callbacks."""
    return [
        Route(
            "POST",
            _CAMPAIGN + "/preview/{agent_id}/accept",
            preview_accept,
            "Preview mode: dial the offered contact",
            scope=sc.CAMPAIGN_AGENT,
        ),
        Route(
            "POST",
            _CAMPAIGN + "/preview/{agent_id}/skip",
            preview_skip,
            "Preview mode: skip the offered contact",
            body=PreviewSkipBody,
            scope=sc.CAMPAIGN_AGENT,
        ),
        Route(
            "POST",
            _CAMPAIGN + "/contacts/{contact_id}/callback",
            schedule_callback,
            "Schedule a callback (optionally kept for one agent)",
            body=CallbackBody,
            scope=sc.CALLBACK,
        ),
    ]


def campaign_routes() -> list[Route]:
    """Every campaign route: the supervisor's control, then the agent's side."""
    return [*_campaign_control_routes(), *_campaign_agent_routes()]
