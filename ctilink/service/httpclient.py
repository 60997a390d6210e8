"""A small outbound HTTP client on gevent sockets (webhooks, CRM lookups).

Rules:
- Only ``http`` and ``https`` URLs. Redirects are never followed (a 3xx is just a status).
- With an allowlist, the host name is resolved once, every address is checked against it, and the
  connection goes to a checked address (a DNS answer cannot change between check and connect).
- Response bodies are read up to ``max_body`` bytes; the rest is dropped and ``truncated`` set.
- Cooperative: never blocks the gevent hub, whether or not the process is monkey-patched.

Theory: stdlib ``http.client`` does the HTTP; this module only supplies gevent sockets, the
scheme/host checks and the size cap. It knows nothing about what is being sent.
"""

from __future__ import annotations

import http.client
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import gevent.socket
import gevent.ssl


class HttpClientError(Exception):
    """The request could not be made or its answer could not be used."""


class DestinationRefused(HttpClientError):
    """The URL's scheme or host is not allowed."""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    truncated: bool


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_allowlist(entries: Sequence[str]) -> tuple[frozenset[str], tuple[Network, ...]]:
    """Split allowlist entries into host names (lower-case) and networks (CIDR or single address)."""
    names: set[str] = set()
    nets: list[Network] = []
    for entry in entries:
        try:
            nets.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            names.add(entry.lower().rstrip("."))
    return frozenset(names), tuple(nets)


def _resolve(host: str, port: int, allow: tuple[frozenset[str], tuple[Network, ...]] | None) -> str:
    infos = gevent.socket.getaddrinfo(host, port, 0, gevent.socket.SOCK_STREAM)
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise HttpClientError(f"{host!r} did not resolve")
    if allow is None:
        return str(addresses[0])
    names, nets = allow
    if host.lower().rstrip(".") in names:
        return str(addresses[0])
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not any(ip in net for net in nets):
            raise DestinationRefused(f"host {host!r} ({address}) is not in the destination allowlist")
    return str(addresses[0])


class _Conn(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float, tls: bool) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address
        self._tls = tls

    def connect(self) -> None:
        sock = gevent.socket.create_connection((self._address, self.port), self.timeout)
        if self._tls:
            context = gevent.ssl.create_default_context()
            sock = context.wrap_socket(sock, server_hostname=self.host)
        self.sock = sock


def http_request(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 5.0,
    max_body: int = 65536,
    allow: tuple[frozenset[str], tuple[Network, ...]] | None = None,
) -> HttpResponse:
    """One request; raises :class:`HttpClientError` (or OSError/TimeoutError) when it cannot be made."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise DestinationRefused(f"scheme {parts.scheme!r} is not allowed (http or https only)")
    host = parts.hostname
    if not host:
        raise DestinationRefused("the URL has no host")
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    address = _resolve(host, port, allow)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    conn = _Conn(host, port, address, timeout, tls)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read(max_body + 1) if max_body >= 0 else b""
        truncated = len(data) > max_body
        return HttpResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data[:max_body], truncated)
    except http.client.HTTPException as exc:
        raise HttpClientError(f"bad HTTP answer: {type(exc).__name__}: {exc}"[:300]) from None
    finally:
        conn.close()


__all__ = ["DestinationRefused", "HttpClientError", "HttpResponse", "http_request", "parse_allowlist"]
