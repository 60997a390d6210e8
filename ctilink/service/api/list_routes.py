"""The number-list routes of the HTTP API: query a list, add, remove and import entries.

Rules: the lists are ``blacklist``, ``whitelist`` and ``dnc`` (any other name is 404). A query
reads the store (``ctx.query_list``), never the engine, at most ``limit`` entries (1 to 10 000,
default 1000); a scoped supervisor reads only the scopes it may manage. A change is one engine
request per entry, acknowledged only once durable (``ctx.durable`` flushes the store first), and
the answer says whether it was. An import submits every entry and reports each refusal by its
index; the entries' scope rule has already refused the whole import if one is out of scope.
"""

from __future__ import annotations

import time
from typing import Any

import falcon

from ctilink.core import requests as rq
from ctilink.service.api import scopes as sc
from ctilink.service.api.context import ApiContext
from ctilink.service.api.framework import ApiError, Route, not_found
from ctilink.service.api.handling import SUP, query_param, submit
from ctilink.service.api.models import ListEntryBody, ListImportBody
from ctilink.service.api.serialize import plain
from ctilink.service.auth import Principal

__all__ = ["list_routes"]

_LIST = "/v1/lists/{list_name}"

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
    scope = query_param(req, "scope")
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
                name, scope=one, number=query_param(req, "number"), now=time.time(), limit=limit - len(entries)
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
    return _durable(ctx, submit(ctx, _add_request(_list_name(p), body, who)))


def remove_entry(ctx: ApiContext, who: Principal, p: dict[str, str], body: None, req: falcon.Request) -> Any:
    name = _list_name(p)
    return _durable(
        ctx,
        submit(
            ctx,
            rq.RemoveListEntry(
                name, p["number"], scope=query_param(req, "scope") or "global", kind=query_param(req, "kind") or "exact"
            ),
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


def list_routes() -> list[Route]:
    """Number lists: query, add, remove, import."""
    return [
        Route(
            "GET",
            _LIST,
            query_list,
            "Query a number list (scoped supervisors: the entries of their scopes)",
            SUP,
            query=("number", "scope", "limit"),
            scope=sc.LIST_VIEW,
        ),
        Route(
            "POST",
            _LIST + "/entries",
            add_entry,
            "Add (or replace) a list entry",
            SUP,
            body=ListEntryBody,
            status=201,
            scope=sc.LIST_ENTRY,
        ),
        Route(
            "DELETE",
            _LIST + "/entries/{number}",
            remove_entry,
            "Remove a list entry",
            SUP,
            query=("scope", "kind"),
            scope=sc.LIST_ENTRY,
        ),
        Route(
            "POST",
            _LIST + "/import",
            import_entries,
            "Add many entries (all refused if one is out of scope)",
            SUP,
            body=ListImportBody,
            large_body=True,
            scope=sc.LIST_ENTRY,
        ),
    ]
