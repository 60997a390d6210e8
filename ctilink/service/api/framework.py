"""The HTTP API's plumbing: one route table, bearer auth on every route, typed bodies, JSON errors.

Rules:
- Every route is a :class:`Route` in one table: method, path, roles, body model, summary. The
  falcon app, the auth check and the OpenAPI document are all built from that table, so a route
  cannot exist without being documented or authenticated.
- Errors are JSON ``{"error": code, "message": ..., "errors": [{"path", "message"}]}``: 401 no or
  unknown token, 403 out of scope, 404 unknown id, 409 refused by the engine in the current state,
  400 unreadable body (cut off, nested too deep), 411/501 a transfer coding we cannot read, 413
  body too large, 422 bad body (each error names its field path), 500 a bug (logged with the
  route, never the body), 503 no engine yet.
- Bodies are read to their end and bounded (:mod:`ctilink.service.api.body`), then parsed by
  pydantic models with unknown fields forbidden; caller text is never echoed back longer than 200
  characters. A refused body is logged with the route template and the reason, never its text
  (it may hold phone numbers).
- Every route names its scope rule (:mod:`ctilink.service.api.scopes`); it runs after the body
  parse and before the handler, so a request refused for scope has changed nothing.
- The HTTP layer decides nothing: a handler builds an engine request, submits it and reports what
  the engine said.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import falcon
import structlog
from pydantic import BaseModel, ValidationError

from ctilink.service.api.body import BODY_READ, SMALL_BODY_BYTES, declares_body, parse_json, read_body, refuse_body
from ctilink.service.api.errors import ApiError, not_found
from ctilink.service.api.scopes import ScopeRule
from ctilink.service.auth import ANONYMOUS_READER, AuthError, Principal, TokenAuth

log = structlog.get_logger("ctilink.http")

Handler = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class Route:
    method: str  # GET, POST, DELETE
    path: str  # falcon template, e.g. /v1/agents/{agent_id}/ready
    handler: Handler  # handler(ctx, principal, params, body, req) -> JSON value (or a Stream)
    summary: str
    roles: tuple[str, ...] = ("agent", "supervisor", "admin")  # empty: no authentication
    body: type[BaseModel] | None = None
    query: tuple[str, ...] = ()  # documented query parameters
    stream: bool = False  # text/event-stream
    status: int = 200
    large_body: bool = False  # bulk input: bounded by [api] max_body_bytes instead of SMALL_BODY_BYTES
    scope: ScopeRule = field(kw_only=True)  # no default: whose things the route touches must be said

    def max_body(self, configured: int) -> int:
        return configured if self.large_body else min(SMALL_BODY_BYTES, configured)

    @property
    def template(self) -> str:
        """``METHOD /path/{param}``: how logs name the route (the path itself may hold a number)."""
        return f"{self.method} {self.path}"


@dataclass(frozen=True, slots=True)
class Stream:
    """A streaming response (Server-Sent Events)."""

    chunks: Iterator[bytes]
    content_type: str = "text/event-stream"


def _path_of(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(body)"


def parse_body(model: type[BaseModel], req: falcon.Request, max_bytes: int) -> BaseModel:
    data = parse_json(read_body(req, max_bytes))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [{"path": _path_of(tuple(e["loc"])), "message": e["msg"][:200]} for e in exc.errors(include_url=False)]
        raise ApiError(
            422,
            "invalid-body",
            "the body failed validation: " + "; ".join(f"{e['path']}: {e['message']}" for e in errors)[:500],
            errors,
        ) from None


class _PathResource:
    """All methods of one path; falcon finds ``on_get``/``on_post``/... set per route."""

    def __init__(self, ctx: Any, auth: TokenAuth, routes: list[Route], max_body: int) -> None:
        for route in routes:
            setattr(self, "on_" + route.method.lower(), self._responder(ctx, auth, route, max_body))

    @staticmethod
    def _responder(ctx: Any, auth: TokenAuth, route: Route, max_body: int) -> Callable[..., None]:
        limit = route.max_body(max_body)

        def respond(req: falcon.Request, resp: falcon.Response, **params: str) -> None:
            principal: Principal | None = None
            if route.roles and auth.open and route.method == "GET":
                principal = ANONYMOUS_READER  # no tokens configured: read-only views (see auth.TokenAuth)
            elif route.roles:
                principal = auth.authenticate(req.get_header("Authorization"))
                principal.require_role(*route.roles)
            try:
                body = None
                if route.body is not None:
                    body = parse_body(route.body, req, limit)
                else:
                    refuse_body(req)
            except ApiError as exc:
                if exc.status != 422:  # a body we could not read at all: worth an operator's look
                    log.warning("http_body_refused", route=route.template, status=exc.status, reason=exc.code)
                raise
            if principal is not None:
                route.scope.check(ctx, principal, params, body, req)
            result = route.handler(ctx, principal, params, body, req)
            if isinstance(result, Stream):
                resp.content_type = result.content_type
                resp.set_header("Cache-Control", "no-cache")
                resp.set_header("X-Accel-Buffering", "no")
                resp.stream = result.chunks
                return
            resp.status = falcon.code_to_http_status(route.status)
            resp.media = result

        return respond


def _unread_body(req: falcon.Request, resp: falcon.Response) -> None:
    # The body was not read to its end: the server will not read the rest to keep the connection
    # (see ctilink.service.http), so say the connection closes.
    if declares_body(req.env) and not req.env.get(BODY_READ):
        resp.set_header("Connection", "close")


def _handle_api_error(req: falcon.Request, resp: falcon.Response, ex: ApiError, params: dict[str, Any]) -> None:
    resp.status = falcon.code_to_http_status(ex.status)
    resp.media = {"error": ex.code, "message": ex.message, "errors": ex.errors}
    _unread_body(req, resp)


def _handle_auth_error(req: falcon.Request, resp: falcon.Response, ex: AuthError, params: dict[str, Any]) -> None:
    resp.status = falcon.code_to_http_status(ex.status)
    code = "unauthorized" if ex.status == 401 else "forbidden"
    resp.media = {"error": code, "message": ex.message, "errors": []}
    if ex.status == 401:
        resp.set_header("WWW-Authenticate", 'Bearer realm="ctilink"')
    _unread_body(req, resp)


def _unexpected(masked: bool) -> Callable[..., None]:
    def handle(req: falcon.Request, resp: falcon.Response, ex: Exception, params: dict[str, Any]) -> None:
        # A traceback may quote caller input (a number in a KeyError); with masking on, the type only.
        log.error(
            "http_handler_failed",
            route=f"{req.method} {req.uri_template}",
            error_type=type(ex).__name__,
            exc_info=None if masked else ex,
        )
        resp.status = falcon.HTTP_500
        resp.media = {"error": "internal", "message": "internal error (logged)", "errors": []}
        _unread_body(req, resp)

    return handle


def build_falcon(
    ctx: Any, auth: TokenAuth, routes: list[Route], *, max_body: int
) -> falcon.App[falcon.Request, falcon.Response]:
    app = falcon.App()
    masked = bool(getattr(getattr(getattr(ctx, "config", None), "logging", None), "mask_numbers", False))
    app.add_error_handler(Exception, _unexpected(masked))  # falcon's own errors keep their handlers
    app.add_error_handler(ApiError, _handle_api_error)
    app.add_error_handler(AuthError, _handle_auth_error)
    by_path: dict[str, list[Route]] = {}
    for route in routes:
        if route.scope.admin_only and set(route.roles) != {"admin"}:
            raise ValueError(f"{route.template}: scope rule {route.scope.name!r} is for admin-only routes")
        by_path.setdefault(route.path, []).append(route)
    for path, group in by_path.items():
        app.add_route(path, _PathResource(ctx, auth, group, max_body))
    return app


__all__ = ["ApiError", "Route", "Stream", "build_falcon", "not_found", "parse_body"]
