"""A small HTTP client on gevent sockets, for tests that run a server in the same process.

The stdlib client blocks the gevent hub when the process is not monkey-patched, so a test that
serves and requests in one process would deadlock; this keeps ``http.client``'s parsing and only
swaps the socket.
"""

from __future__ import annotations

import http.client
import json as jsonlib
from typing import Any

import gevent.socket


class _GeventHTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        self.sock = gevent.socket.create_connection((self.host, self.port), self.timeout)


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return jsonlib.loads(self.body)


def request(
    address: tuple[str, int],
    method: str,
    path: str,
    *,
    json: Any = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> Response:
    """One request to ``address``; returns status, headers (lower-cased names) and the whole body."""
    conn = _GeventHTTPConnection(address[0], address[1], timeout=timeout)
    hdrs = dict(headers or {})
    if json is not None:
        body = jsonlib.dumps(json).encode()
        hdrs.setdefault("Content-Type", "application/json")
    try:
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def get(address: tuple[str, int], path: str, **kwargs: Any) -> Response:
    return request(address, "GET", path, **kwargs)
