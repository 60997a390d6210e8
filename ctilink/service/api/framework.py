"""The HTTP API's plumbing: one route table, bearer auth on every route, typed bodies, JSON errors.

Rules:
- Every route is a :class:`Route` in one table: method, path, roles, body model, summary. The
  falcon app, the auth check and the OpenAPI document are all built from that table, so a route
  cannot exist without being documented or authenticated.
- Errors are JSON ``{"error": code, "message": ..., "errors": [{"path", "message"}]}``: 401 no or
  unknown token, 403 out of scope, 404 unknown id, 409 refused by the engine in the current state,
  413 body too large, 422 bad body (each error names its field path), 503 no engine yet.
- Bodies are parsed by pydantic models with unknown fields forbidden; caller text is never echoed
  back longer than 200 characters.
- The HTTP layer decides nothing: a handler checks scope, builds an engine request, submits it and
  reports what the engine said.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import falcon
from pydantic import BaseModel, ValidationError

from ctilink.service.auth import ANONYMOUS_READER, AuthError, Principal, TokenAuth

Handler = Callable[..., Any]


class ApiError(Exception):
    """An HTTP error with a JSON body."""

    def __init__(self, status: int, code: str, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors or []


def not_found(kind: str, ident: str) -> ApiError:
    return ApiError(404, f"unknown-{kind}", f"no {kind} {ident[:200]!r}")


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
    length = req.content_length or 0
    if length > max_bytes:
        raise ApiError(413, "body-too-large", f"body larger than {max_bytes} bytes")
    raw = req.bounded_stream.read(max_bytes + 1) if length or req.get_header("Transfer-Encoding") else b""
    if len(raw) > max_bytes:
        raise ApiError(413, "body-too-large", f"body larger than {max_bytes} bytes")
    if not raw.strip():
        raw = b"{}"
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(
            422,
            "invalid-json",
            f"body is not JSON: {str(exc)[:200]}",
            [{"path": "(body)", "message": "not valid JSON"}],
        ) from None
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
        def respond(req: falcon.Request, resp: falcon.Response, **params: str) -> None:
            principal: Principal | None = None
            if route.roles and auth.open and route.method == "GET":
                principal = ANONYMOUS_READER  # no tokens configured: read-only views (see auth.TokenAuth)
            elif route.roles:
                principal = auth.authenticate(req.get_header("Authorization"))
                principal.require_role(*route.roles)
            body = parse_body(route.body, req, max_body) if route.body is not None else None
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


def _handle_api_error(req: falcon.Request, resp: falcon.Response, ex: ApiError, params: dict[str, Any]) -> None:
    resp.status = falcon.code_to_http_status(ex.status)
    resp.media = {"error": ex.code, "message": ex.message, "errors": ex.errors}


def _handle_auth_error(req: falcon.Request, resp: falcon.Response, ex: AuthError, params: dict[str, Any]) -> None:
    resp.status = falcon.code_to_http_status(ex.status)
    code = "unauthorized" if ex.status == 401 else "forbidden"
    resp.media = {"error": code, "message": ex.message, "errors": []}
    if ex.status == 401:
        resp.set_header("WWW-Authenticate", 'Bearer realm="ctilink"')


def build_falcon(
    ctx: Any, auth: TokenAuth, routes: list[Route], *, max_body: int
) -> falcon.App[falcon.Request, falcon.Response]:
    app = falcon.App()
    app.add_error_handler(ApiError, _handle_api_error)
    app.add_error_handler(AuthError, _handle_auth_error)
    by_path: dict[str, list[Route]] = {}
    for route in routes:
        by_path.setdefault(route.path, []).append(route)
    for path, group in by_path.items():
        app.add_route(path, _PathResource(ctx, auth, group, max_body))
    return app


__all__ = ["ApiError", "Route", "Stream", "build_falcon", "not_found", "parse_body"]
