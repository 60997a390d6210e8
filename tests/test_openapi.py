"""The OpenAPI document: kept in the repo, equal to what the route table generates, covering every route."""

from __future__ import annotations

import json
import re
from typing import Any

from ctilink.config import Config
from ctilink.service.api import ApiContext
from ctilink.service.api.openapi import DOC_PATH, document
from ctilink.service.http import build_app


def _served_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route the falcon app answers, read from its router."""
    out: set[tuple[str, str]] = set()
    stack = list(app._router._roots)
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.resource is None:
            continue
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            if getattr(node.resource, "on_" + method.lower(), None) is not None:
                out.add((method, node.uri_template))
    return out


def test_repo_document_is_the_generated_one() -> None:
    on_disk = json.loads(DOC_PATH.read_text(encoding="utf-8"))
    assert on_disk == json.loads(json.dumps(document())), "run: python -m ctilink.service.api.openapi"


def test_every_served_route_is_documented_with_its_path_parameters() -> None:
    ctx = ApiContext(snapshot=lambda: None, submit=lambda r: None, config=Config())
    app = build_app(health=lambda: {"ok": True}, context=ctx)
    served = _served_routes(app)
    assert len(served) > 30
    doc = document()
    for method, path in served:
        assert path in doc["paths"], path
        op = doc["paths"][path].get(method.lower())
        assert op is not None, f"{method} {path}"
        names = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert names == set(re.findall(r"{(\w+)}", path))
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops if p != "/metrics"}
    assert documented == served


def test_document_is_served() -> None:
    from ctilink.service.http import serve
    from ctilink.testing import http

    ctx = ApiContext(snapshot=lambda: None, submit=lambda r: None, config=Config())
    server = serve("127.0.0.1:0", build_app(health=lambda: {"ok": True}, context=ctx))
    try:
        resp = http.get(server.address[:2], "/v1/openapi.json")
        assert resp.status == 200 and resp.json()["openapi"].startswith("3.1")
    finally:
        server.stop(timeout=1)


_PATH_ITEM_KEYS = {"$ref", "summary", "description", "servers", "parameters"} | {
    "get",
    "put",
    "post",
    "delete",
    "options",
    "head",
    "patch",
    "trace",
}


def test_metrics_is_documented_where_it_is_served() -> None:
    """/metrics is on metrics.listen, not on the API's server: its path item says so (OpenAPI 3.1 servers)."""
    from ctilink.config import HttpConfig, MetricsConfig

    doc = json.loads(DOC_PATH.read_text(encoding="utf-8"))
    assert [s["url"] for s in doc["servers"]] == [f"http://{HttpConfig().listen}"]
    metrics = doc["paths"]["/metrics"]
    assert [s["url"] for s in metrics.get("servers", [])] == [f"http://{MetricsConfig().listen}"]
    assert "metrics.listen" in metrics["servers"][0]["description"]
    for path, item in doc["paths"].items():
        assert set(item) <= _PATH_ITEM_KEYS, path  # nothing OpenAPI 3.1 does not define on a path item
        for method, op in item.items():
            if method in _PATH_ITEM_KEYS - {"$ref", "summary", "description", "servers", "parameters"}:
                assert op.get("security") == [] or op.get("x-scope", {}).get("rule"), f"{method} {path}"


def test_the_metrics_listener_serves_metrics_and_health_only() -> None:
    """The metrics listener (no API context) must not serve the /v1 views without the API's tokens."""
    from prometheus_client import CollectorRegistry

    from ctilink.core import Engine
    from ctilink.core.config import AgentProfile, EngineConfig, QueueConfig
    from ctilink.service.http import serve
    from ctilink.testing import http

    engine = Engine(
        EngineConfig(queues=[QueueConfig(name="support")], agents=[AgentProfile(id="1001", endpoints=["user/1001"])])
    )
    app = build_app(lambda: engine.snapshot(0.0), health=lambda: {"ok": True}, registry=CollectorRegistry())
    server = serve("127.0.0.1:0", app)
    try:
        address = server.address[:2]
        assert http.get(address, "/metrics").status == 200
        assert http.get(address, "/healthz").status == 200
        for path in ("/v1/agents", "/v1/calls", "/v1/queues", "/v1/agents/1001", "/v1/lists/dnc"):
            assert http.get(address, path).status == 404, path
    finally:
        server.stop(timeout=1)
