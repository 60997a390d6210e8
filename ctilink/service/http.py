"""The HTTP listener: the v1 control API, the agent event stream, health, OpenAPI and /metrics.

Rules:
- Views are served from the engine snapshot the engine greenlet refreshes every second: a
  wallboard polling this never reaches FreeSWITCH (wallboards polling the switch are a known way
  to make it unresponsive) and never waits on the engine.
- The HTTP layer decides nothing (DESIGN.md): it checks who is asking, renders views and, for
  actions, turns requests into engine inputs (:mod:`ctilink.service.api.routes`).
- Every ``/v1`` route needs a bearer token from ``[[api.tokens]]``; ``/healthz``, ``/metrics`` and
  ``/v1/openapi.json`` do not. Listens on 127.0.0.1 by default.
- ``/metrics`` is on ``metrics.listen``; on the API listener only when the two are the same
  address. The metrics listener serves ``/metrics`` and ``/healthz`` and nothing else: the views
  must not be reachable there without the API's tokens.
- A request body the application did not read to its end (refused before reading, or too large)
  is not read on to keep the connection alive: at most :data:`DRAIN_BYTES` more within
  :data:`DRAIN_S` are discarded (so a client still sending sees the answer, not a reset) and the
  connection closes. gevent's server would otherwise read an endless chunked body forever.
- Falcon (WSGI) served by gevent's WSGI server: see docs/dependencies.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import falcon
import gevent
import gevent.pywsgi
from prometheus_client import CollectorRegistry, make_wsgi_app

from ctilink.config import Listen
from ctilink.core import EngineSnapshot
from ctilink.service.api.body import BODY_READ, declares_body
from ctilink.service.api.context import ApiContext
from ctilink.service.api.framework import build_falcon
from ctilink.service.api.openapi import document
from ctilink.service.api.routes import routes
from ctilink.service.auth import TokenAuth

SnapshotSource = Callable[[], EngineSnapshot | None]

DRAIN_BYTES = 4 * 1024 * 1024
DRAIN_S = 1.0


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


def build_app(
    snapshot: SnapshotSource | None = None,
    *,
    health: Callable[[], dict[str, Any]],
    registry: CollectorRegistry | None = None,
    context: ApiContext | None = None,
) -> Callable[..., Any]:
    """The WSGI application; ``registry`` also mounts ``/metrics`` on it.

    ``context`` carries what the API routes need (submit, tokens, event hub, webhooks); without
    it, the app is the metrics listener's: ``/healthz`` and ``/metrics`` only (``snapshot`` is
    not served there, whatever tokens the API has).
    """
    app: falcon.App[falcon.Request, falcon.Response]
    if context is None:
        app = falcon.App()
    else:
        app = build_falcon(
            context, TokenAuth(context.config.api.tokens), routes(), max_body=context.config.api.max_body_bytes
        )
        app.add_route("/v1/openapi.json", _OpenApi())
    app.add_route("/healthz", _Health(health))
    if registry is None:
        return app
    metrics = make_wsgi_app(registry)

    def dispatch(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") == "/metrics":
            return metrics(environ, start_response)
        return app(environ, start_response)

    return dispatch


class _Drain:
    """Stands in for the request input once the app is done: discards a bounded remainder."""

    def __init__(self, wsgi_input: Any) -> None:
        self._input = wsgi_input

    def _discard(self) -> None:  # what gevent's handler calls after the response (its Input API)
        left = DRAIN_BYTES
        try:
            self._input.send_100_continue_enabled = False  # never invite the body we are refusing
            with gevent.Timeout(DRAIN_S, False):
                while left > 0:
                    data = self._input.read(min(65536, left))
                    if not data:
                        return
                    left -= len(data)
        except (OSError, ValueError):
            return


class _Handler(gevent.pywsgi.WSGIHandler):  # type: ignore[misc]  # gevent ships no type hints
    close_connection: bool
    wsgi_input: Any

    def run_application(self) -> None:
        try:
            super().run_application()
        finally:
            if declares_body(self.environ) and not self.environ.get(BODY_READ):
                self.close_connection = True
                self.wsgi_input = _Drain(self.wsgi_input)


def serve(listen: str, app: Callable[..., Any]) -> gevent.pywsgi.WSGIServer:
    """Start a gevent WSGI server on ``host:port`` (port 0 picks a free one); returns it started."""
    where = Listen.parse(listen)
    server = gevent.pywsgi.WSGIServer((where.host, where.port), app, log=None, error_log=None, handler_class=_Handler)
    server.start()
    return server


__all__ = ["build_app", "serve"]
