"""The OpenAPI 3.1 document, generated from the route table (and kept in ``docs/openapi.json``).

Rule: the document is derived, never hand-edited: a test checks that the file in the repo equals
:func:`document` and that every route the app serves is in it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ctilink.service.api.body import MAX_JSON_DEPTH, SMALL_BODY_BYTES
from ctilink.service.api.framework import Route
from ctilink.service.api.routes import BODIES, routes

DOC_PATH = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"

#: Routes served outside the table (no authentication).
EXTRA = {
    "/healthz": ("get", "Liveness and switch connectivity (on the API and the metrics listener)"),
    "/metrics": ("get", "Prometheus metrics, on the metrics listener (see servers)"),
    "/v1/openapi.json": ("get", "This document"),
}

#: /metrics is not on the API's server but on ``metrics.listen`` (OpenAPI 3.1 path-level servers).
METRICS_SERVERS = [
    {
        "url": "http://127.0.0.1:9464",
        "description": "metrics.listen (default 127.0.0.1:9464); on the API listener only when "
        "metrics.listen equals http.listen",
    }
]

_DESCRIPTION = (
    "Control and views of the ctilink CTI daemon. See docs/http-api.md and docs/integration.md. "
    f"Bodies: JSON (UTF-8), at most {SMALL_BODY_BYTES} bytes ([api] max_body_bytes for imports), "
    f"nested at most {MAX_JSON_DEPTH} deep; chunked bodies are read like any other. "
    "Each operation's x-scope names whose resources it touches (agent: the agent itself or a "
    "supervisor's team; call: an agent on it, or a supervisor's queue and every agent on it; "
    "list-entry: the entry's scope, global only for unscoped principals; see docs/http-api.md)."
)

_ERROR = {"$ref": "#/components/schemas/Error"}


def _responses(route: Route) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "OK"}
    if route.stream:
        ok["content"] = {"text/event-stream": {"schema": {"type": "string"}}}
    else:
        ok["content"] = {"application/json": {"schema": {"type": "object"}}}
    out: dict[str, Any] = {str(route.status): ok}
    err = {"content": {"application/json": {"schema": _ERROR}}}
    if route.method != "GET":
        out["400"] = {"description": "unreadable body: cut off, malformed chunks, JSON nested too deep", **err}
        out["413"] = {"description": "body too large", **err}
        out["422"] = {"description": "invalid body (errors name the field path)", **err}
    out["401"] = {"description": "missing or unknown token", **err}
    out["403"] = {"description": "out of the token's scope", **err}
    out["404"] = {"description": "unknown id", **err}
    if route.method != "GET":
        out["409"] = {"description": "refused by the engine in the current state", **err}
    return out


def _operation(route: Route) -> dict[str, Any]:
    """One route's operation object: summary, id, roles, scope rule, parameters, body, responses."""
    op: dict[str, Any] = {
        "summary": route.summary,
        "operationId": route.method.lower() + re.sub(r"[^A-Za-z0-9]+", "_", route.path).rstrip("_"),
        "security": [{"bearer": []}],
        "x-roles": list(route.roles),
        "x-scope": {"rule": route.scope.name, "description": route.scope.description},
        "responses": _responses(route),
    }
    params = [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
        for n in re.findall(r"{(\w+)}", route.path)
    ]
    params += [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}} for n in route.query]
    if route.stream:
        params.append({"name": "Last-Event-ID", "in": "header", "required": False, "schema": {"type": "string"}})
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{route.body.__name__}"}}},
        }
    return op


def _schemas() -> dict[str, Any]:
    """The error body and every request body's JSON schema (their nested models hoisted beside them)."""
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "required": ["error", "message"],
            "properties": {
                "error": {"type": "string"},
                "message": {"type": "string"},
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"path": {"type": "string"}, "message": {"type": "string"}},
                    },
                },
            },
        },
    }
    for model in BODIES:
        schemas[model.__name__] = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in schemas[model.__name__].pop("$defs", {}).items():
            schemas[name] = sub
    return schemas


def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes():
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    for path, (method, summary) in EXTRA.items():
        paths[path] = {method: {"summary": summary, "security": [], "responses": {"200": {"description": "OK"}}}}
    paths["/metrics"]["servers"] = METRICS_SERVERS
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ctilink HTTP API",
            "version": "1",
            "description": _DESCRIPTION,
        },
        "servers": [{"url": "http://127.0.0.1:8080"}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": _schemas()},
        "paths": dict(sorted(paths.items())),
    }


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=False) + "\n"


def write(path: Path = DOC_PATH) -> None:
    """Regenerate ``docs/openapi.json`` (``python -m ctilink.service.api.openapi``)."""
    path.write_text(render(), encoding="utf-8")


if __name__ == "__main__":
    write()
