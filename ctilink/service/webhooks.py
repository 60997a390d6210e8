"""Signed webhooks with a durable outbox: a CRM outage or a daemon restart loses no event.

Rules:
- An event is written to the store's outbox (one row per endpoint) *before* any delivery is tried,
  and the row is deleted only after the receiver answered 2xx. After ``max_attempts`` failures the
  row is kept as a dead letter (listable, retryable by an admin), never dropped.
- Delivery is in order per endpoint (so in order per call): an endpoint's next event waits while
  the one before it is being retried. Retries back off exponentially from ``backoff_base_s`` up to
  ``backoff_cap_s``, with jitter (each wait is 50-100 % of the step) so receivers coming back up
  are not hit by every daemon at once.
- Each POST carries ``X-Ctilink-Event-Id`` (the idempotency key: a receiver that saw it already
  must answer 2xx and ignore it), ``X-Ctilink-Timestamp`` (Unix seconds of this attempt) and
  ``X-Ctilink-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>``. See
  docs/integration.md for verification.
- Delivery is at least once: a 2xx whose outbox delete did not commit before a crash is sent again
  after the restart, with the same event id.
- Safety: http(s) only, redirects never followed (a 3xx is a failure), an optional allowlist of
  destination hosts/networks, response bodies read up to ``max_response_bytes``.

Theory: :meth:`WebhookService.observe` (engine greenlet) serializes a notification once and
submits outbox rows to the batching store writer; when the row has committed, it joins its
endpoint's in-memory queue. One sender greenlet per endpoint works its queue head first. At start
the queues are refilled from the store, oldest first. This module knows nothing about what the
events mean, only their type name (for the endpoint's filter).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import random
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import gevent
import gevent.event
import orjson
import structlog

from ctilink.config import WebhookEndpointConfig
from ctilink.service.api.serialize import envelope, note_type
from ctilink.service.httpclient import HttpResponse, http_request, parse_allowlist
from ctilink.store import StoreWriter
from ctilink.store.base import Store
from ctilink.store.records import OutboxItem

log = structlog.get_logger("ctilink.webhooks")

SIGNATURE_HEADER = "X-Ctilink-Signature"
TIMESTAMP_HEADER = "X-Ctilink-Timestamp"
EVENT_ID_HEADER = "X-Ctilink-Event-Id"
EVENT_TYPE_HEADER = "X-Ctilink-Event-Type"

#: Notification types never sent out (internal bookkeeping, or too chatty to be useful).
NEVER_SENT = frozenset({"ListChanged"})

Attempted = Callable[[str, str, bool, str | None], None]  # (endpoint, event_id, ok, error)
Sender = Callable[..., HttpResponse]


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``: ``v1=<hex>``."""
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


_TIMESTAMP_RE = re.compile(r"[0-9]{1,15}")
_SIGNATURE_RE = re.compile(r"v1=[0-9a-f]{64}")


def verify(
    secret: bytes,
    timestamp: str | None,
    body: bytes,
    signature: str | None,
    *,
    now: float,
    tolerance_s: float = 300.0,
) -> bool:
    """Receiver-side check: right signature, and a timestamp within ``tolerance_s`` of ``now``.

    Never raises on what the sender controls: a missing header (None), a timestamp that is not
    plain ASCII digits (``int()`` would take ``" 12"``, ``"1_2"`` or Arabic-Indic digits), or a
    signature with non-ASCII characters (which ``hmac.compare_digest`` refuses with TypeError) all
    answer False. ``signature`` may list several ``v1=`` values, comma-separated (secret rotation).
    """
    if not isinstance(timestamp, str) or not isinstance(signature, str):
        return False
    if _TIMESTAMP_RE.fullmatch(timestamp) is None:
        return False
    if abs(now - int(timestamp)) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body).encode("ascii")
    offered = [part.strip() for part in signature.split(",")]
    # compare_digest on bytes: a str with non-ASCII characters would raise instead of failing.
    return any(
        _SIGNATURE_RE.fullmatch(part) is not None and hmac.compare_digest(expected, part.encode("ascii"))
        for part in offered
    )


def verify_request(
    secret: bytes,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance_s: float = 300.0,
) -> bool:
    """:func:`verify` from a request's headers, looked up case-insensitively (HTTP/2 and many
    frameworks hand them over lower-cased); missing headers answer False."""
    folded = {str(name).lower(): value for name, value in headers.items()}
    return verify(
        secret,
        folded.get(TIMESTAMP_HEADER.lower()),
        body,
        folded.get(SIGNATURE_HEADER.lower()),
        now=time.time() if now is None else now,
        tolerance_s=tolerance_s,
    )


def backoff_s(attempts: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Wait before the next try after ``attempts`` failures: capped exponential, 50-100 % jitter."""
    step = min(cap_s, base_s * (2 ** min(attempts - 1, 60)))
    return float(step * (0.5 + 0.5 * rng.random()))


@dataclass(slots=True)
class _Endpoint:
    config: WebhookEndpointConfig
    secret: bytes
    types: frozenset[str]
    allow: Any
    queue: deque[OutboxItem]
    wake: gevent.event.Event
    greenlet: gevent.Greenlet | None = None

    def wants(self, kind: str) -> bool:
        return kind not in NEVER_SENT and (not self.types or kind in self.types)


class WebhookService:
    """Outbox-backed webhook delivery for the configured endpoints."""

    def __init__(
        self,
        endpoints: list[WebhookEndpointConfig],
        *,
        store: Store | None,
        writer: StoreWriter | None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        sender: Sender = http_request,
        on_attempt: Attempted | None = None,
    ) -> None:
        self._store = store
        self._writer = writer
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._send = sender
        self._on_attempt = on_attempt
        self._endpoints: dict[str, _Endpoint] = {}
        for cfg in endpoints:
            self._endpoints[cfg.name] = _Endpoint(
                config=cfg,
                secret=cfg.secret.get_secret_value().encode(),
                types=frozenset(cfg.events),
                allow=parse_allowlist(cfg.allow_hosts) if cfg.allow_hosts else None,
                queue=deque(),
                wake=gevent.event.Event(),
            )
        self._seq = itertools.count(1)
        self._stop = gevent.event.Event()
        self.delivered = 0
        self.failed_attempts = 0
        self.dead = 0
        if store is None and self._endpoints:
            log.warning("webhooks_without_store", note="no store: undelivered events are lost on restart")

    @property
    def endpoints(self) -> list[str]:
        return list(self._endpoints)

    # -- intake (engine greenlet) ---------------------------------------------------------------

    def new_event_id(self, now: float) -> str:
        # Sortable: creation time first, then a counter for events created in the same microsecond.
        return f"evt_{int(now * 1_000_000):016x}{next(self._seq) % 0xFFFFFF:06x}"

    def observe(self, note: object, now: float) -> str | None:
        """Queue ``note`` for every endpoint that wants its type; returns its event id."""
        kind = note_type(note)
        targets = [ep for ep in self._endpoints.values() if ep.wants(kind)]
        if not targets:
            return None
        created = self._clock()
        event_id = self.new_event_id(created)
        payload = orjson.dumps(envelope(event_id, note), option=orjson.OPT_NON_STR_KEYS)
        for ep in targets:
            item = OutboxItem(event_id, ep.config.name, payload, created, created)
            self._write(item, ep)
        return event_id

    def _write(self, item: OutboxItem, ep: _Endpoint) -> None:
        def committed(ok: bool, value: Any) -> None:
            if not ok:
                log.error(
                    "webhook_outbox_write_failed",
                    endpoint=ep.config.name,
                    event_id=item.event_id,
                    error=str(value)[:300],
                )
                return
            ep.queue.append(item)
            ep.wake.set()

        if self._writer is None:
            committed(True, None)
        else:
            self._writer.submit("outbox_enqueue", item, on_done=committed)

    # -- life cycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Refill the queues from the store (oldest first) and start one sender per endpoint."""
        if self._store is not None:
            pending = self._store.outbox_due(float(2**53), limit=1_000_000)
            pending.sort(key=lambda i: (i.created_at, i.event_id))
            for item in pending:
                ep = self._endpoints.get(item.endpoint)
                if ep is None:
                    log.warning("webhook_endpoint_gone", endpoint=item.endpoint, event_id=item.event_id)
                    continue
                ep.queue.append(item)
        for ep in self._endpoints.values():
            ep.greenlet = gevent.spawn(self._sender, ep)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for ep in self._endpoints.values():
            ep.wake.set()
        gevent.joinall([ep.greenlet for ep in self._endpoints.values() if ep.greenlet is not None], timeout=timeout)

    def pending(self, endpoint: str | None = None) -> int:
        return sum(len(ep.queue) for name, ep in self._endpoints.items() if endpoint in (None, name))

    # -- dead letters ---------------------------------------------------------------------------

    def dead_letters(self, limit: int = 100) -> list[OutboxItem]:
        return self._store.outbox_dead_letters(limit) if self._store is not None else []

    def retry_dead(self, event_id: str, endpoint: str) -> bool:
        """Put a dead letter back in its endpoint's queue (at the end); False if there is none."""
        ep = self._endpoints.get(endpoint)
        if ep is None or self._store is None:
            return False
        items = [
            i for i in self._store.outbox_dead_letters(1_000_000) if i.event_id == event_id and i.endpoint == endpoint
        ]
        if not items:
            return False
        now = self._clock()
        if self._writer is not None:
            self._writer.submit("outbox_retry_dead", event_id, endpoint, now).get()
        else:
            self._store.outbox_retry_dead(event_id, endpoint, now)
        ep.queue.append(replace(items[0], dead=False, attempts=0, next_attempt_at=now))
        ep.wake.set()
        return True

    # -- delivery (one greenlet per endpoint) ---------------------------------------------------

    def _sender(self, ep: _Endpoint) -> None:
        while not self._stop.is_set():
            if not ep.queue:
                ep.wake.clear()
                if not ep.queue:
                    ep.wake.wait()
                continue
            item = ep.queue[0]
            delay = item.next_attempt_at - self._clock()
            if delay > 0:
                self._stop.wait(delay)
                continue
            ok, error = self._deliver(ep, item)
            if self._stop.is_set() and not ok:
                return
            if ok:
                ep.queue.popleft()
                self.delivered += 1
                self._record("outbox_mark_delivered", item.event_id, item.endpoint)
            else:
                self.failed_attempts += 1
                attempts = item.attempts + 1
                dead = attempts >= ep.config.max_attempts
                next_at = self._clock() + backoff_s(
                    attempts, ep.config.backoff_base_s, ep.config.backoff_cap_s, self._rng
                )
                self._record("outbox_mark_failed", item.event_id, item.endpoint, next_at, error=error, dead=dead)
                if dead:
                    ep.queue.popleft()
                    self.dead += 1
                    log.warning("webhook_dead_letter", endpoint=item.endpoint, event_id=item.event_id, error=error)
                else:
                    ep.queue[0] = replace(item, attempts=attempts, next_attempt_at=next_at, last_error=error)
            if self._on_attempt is not None:
                try:
                    self._on_attempt(item.endpoint, item.event_id, ok, error)
                except Exception:
                    log.exception("webhook_observer_failed")

    def _record(self, op: str, *args: Any, **kwargs: Any) -> None:
        if self._writer is not None:
            self._writer.submit(op, *args, **kwargs)
        elif self._store is not None:
            getattr(self._store, op)(*args, **kwargs)

    def _deliver(self, ep: _Endpoint, item: OutboxItem) -> tuple[bool, str | None]:
        timestamp = str(int(self._clock()))
        kind = "event"
        with contextlib.suppress(orjson.JSONDecodeError):
            kind = str(orjson.loads(item.payload).get("type", "event"))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "ctilink-webhooks/1",
            EVENT_ID_HEADER: item.event_id,
            EVENT_TYPE_HEADER: kind,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(ep.secret, timestamp, item.payload),
        }
        try:
            with gevent.Timeout(ep.config.timeout_s + 1.0, TimeoutError):
                resp = self._send(
                    "POST",
                    ep.config.url,
                    headers=headers,
                    body=item.payload,
                    timeout=ep.config.timeout_s,
                    max_body=ep.config.max_response_bytes,
                    allow=ep.allow,
                )
        except Exception as exc:
            return False, f"{type(exc).__name__}: {exc}"[:500]
        if 200 <= resp.status < 300:
            return True, None
        if 300 <= resp.status < 400:
            return False, f"HTTP {resp.status} redirect to {resp.headers.get('location', '?')[:200]} not followed"
        return False, f"HTTP {resp.status}"


__all__ = [
    "EVENT_ID_HEADER",
    "EVENT_TYPE_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WebhookService",
    "backoff_s",
    "sign",
    "verify",
]
