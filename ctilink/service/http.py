"""The read side of the HTTP API: health, the supervisor's queue view, agents; and /metrics.

Rules:
- Views are served from the engine snapshot the engine greenlet refreshes every second: a
  wallboard polling this never reaches FreeSWITCH (wallboards polling the switch are a known way
  to make it unresponsive) and never waits on the engine.
- The HTTP layer decides nothing (DESIGN.md): it renders views and, for actions, turns requests
  into engine inputs.
- Falcon (WSGI) served by gevent's WSGI server: see docs/dependencies.md.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from typing import Any

import falcon
import gevent.pywsgi
from prometheus_client import CollectorRegistry, make_wsgi_app

from ctilink.config import Listen
from ctilink.core import EngineSnapshot


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


SnapshotSource = Callable[[], EngineSnapshot | None]


class _Health:
    def __init__(self, health: Callable[[], dict[str, Any]]) -> None:
        self._health = health

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = self._health()
        resp.media = body
        resp.status = falcon.HTTP_200 if body.get("ok") else falcon.HTTP_503


class _Snapshot:
    def __init__(self, source: SnapshotSource) -> None:
        self._source = source

    def _snap(self) -> EngineSnapshot:
        snap = self._source()
        if snap is None:
            raise falcon.HTTPServiceUnavailable(title="starting", description="no engine snapshot yet")
        return snap


class _Queues(_Snapshot):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        snap = self._snap()
        agents = [_plain(a) for a in snap.agents]
        resp.media = {"at": snap.at, "queues": [_plain(q) for q in snap.queues], "agents": agents}


class _Queue(_Snapshot):
    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        try:
            resp.media = _plain(self._snap().queue(name))
        except KeyError:
            raise falcon.HTTPNotFound(title="unknown queue", description=f"no queue named {name!r}") from None


class _Agents(_Snapshot):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        snap = self._snap()
        resp.media = {"at": snap.at, "agents": [_plain(a) for a in snap.agents]}


class _Agent(_Snapshot):
    def on_get(self, req: falcon.Request, resp: falcon.Response, agent_id: str) -> None:
        try:
            resp.media = _plain(self._snap().agent(agent_id))
        except KeyError:
            raise falcon.HTTPNotFound(title="unknown agent", description=f"no agent {agent_id!r}") from None


def build_app(
    snapshot: SnapshotSource,
    *,
    health: Callable[[], dict[str, Any]],
    registry: CollectorRegistry | None = None,
) -> Callable[..., Any]:
    """The WSGI application; ``registry`` also mounts ``/metrics`` on it."""
    app = falcon.App()
    app.add_route("/healthz", _Health(health))
    app.add_route("/v1/queues", _Queues(snapshot))
    app.add_route("/v1/queues/{name}", _Queue(snapshot))
    app.add_route("/v1/agents", _Agents(snapshot))
    app.add_route("/v1/agents/{agent_id}", _Agent(snapshot))
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
