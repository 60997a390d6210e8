"""The HTTP listener: the v1 control API, the agent event stream, health, OpenAPI and /metrics.

Rules:
- Views are served from the engine snapshot the engine greenlet refreshes every second: a
  wallboard polling this never reaches FreeSWITCH (wallboards polling the switch are a known way
  to make it unresponsive) and never waits on the engine.
- The HTTP layer decides nothing (DESIGN.md): it checks who is asking, renders views and, for
  actions, turns requests into engine inputs (:mod:`ctilink.service.api.routes`).
- Every ``/v1`` route needs a bearer token from ``[[api.tokens]]``; ``/healthz``, ``/metrics`` and
  ``/v1/openapi.json`` do not. Listens on 127.0.0.1 by default.
- Falcon (WSGI) served by gevent's WSGI server: see docs/dependencies.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import falcon
import gevent.pywsgi
from prometheus_client import CollectorRegistry, make_wsgi_app

from ctilink.config import Listen
from ctilink.core import EngineSnapshot
from ctilink.service.api.framework import build_falcon
from ctilink.service.api.openapi import document
from ctilink.service.api.routes import ApiContext, routes
from ctilink.service.auth import TokenAuth

SnapshotSource = Callable[[], EngineSnapshot | None]


class _Health:
    def __init__(self, health: Callable[[], dict[str, Any]]) -> None:
        self._health = health

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = self._health()
        resp.media = body
        resp.status = falcon.HTTP_200 if body.get("ok") else falcon.HTTP_503


class _OpenApi:
    def __init__(self) -> None:
        self._doc = document()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._doc


def _no_submit(request: object) -> Any:
    raise falcon.HTTPServiceUnavailable(title="read-only", description="this listener takes no actions")


def build_app(
    snapshot: SnapshotSource | None = None,
    *,
    health: Callable[[], dict[str, Any]],
    registry: CollectorRegistry | None = None,
    context: ApiContext | None = None,
) -> Callable[..., Any]:
    """The WSGI application; ``registry`` also mounts ``/metrics`` on it.

    ``context`` carries what the API routes need (submit, tokens, event hub, webhooks); without
    it, a read-only app over ``snapshot`` is built (no tokens configured: every /v1 call is 401).
    """
    if context is None:
        assert snapshot is not None
        context = ApiContext(snapshot=snapshot, submit=_no_submit, health=health)
    app = build_falcon(
        context, TokenAuth(context.config.api.tokens), routes(), max_body=context.config.api.max_body_bytes
    )
    app.add_route("/healthz", _Health(health))
    app.add_route("/v1/openapi.json", _OpenApi())
    if registry is None:
        return app
    metrics = make_wsgi_app(registry)

    def dispatch(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") == "/metrics":
            return metrics(environ, start_response)
        return app(environ, start_response)

    return dispatch


def serve(listen: str, app: Callable[..., Any]) -> gevent.pywsgi.WSGIServer:
    """Start a gevent WSGI server on ``host:port`` (port 0 picks a free one); returns it started."""
    where = Listen.parse(listen)
    server = gevent.pywsgi.WSGIServer((where.host, where.port), app, log=None, error_log=None)
    server.start()
    return server


__all__ = ["build_app", "serve"]
