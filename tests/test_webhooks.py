"""Webhooks against a real local receiver: outage, 500s, restart, recovery; signatures; safety."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gevent
import gevent.event
import gevent.pywsgi
import gevent.socket
import pytest

from ctilink.config import WebhookEndpointConfig
from ctilink.core import notifications as nt
from ctilink.service.httpclient import DestinationRefused, http_request, parse_allowlist
from ctilink.service.webhooks import WebhookService, backoff_s, sign, verify
from ctilink.store import SqliteStore, StoreWriter

SECRET = "whsec-test-0123456789"


class Receiver:
    """A real HTTP receiver: mode ``fail`` answers 500, ``ok`` 200 (and verifies signatures)."""

    def __init__(self, port: int = 0) -> None:
        self.mode = "ok"
        self.accepted: list[dict[str, Any]] = []
        self.requests = 0
        self.bad_signatures = 0
        self.changed = gevent.event.Event()
        self.server = gevent.pywsgi.WSGIServer(("127.0.0.1", port), self.app, log=None, error_log=None)

    def app(self, environ: dict[str, Any], start: Callable[..., Any]) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        self.requests += 1
        self.changed.set()
        if self.mode == "redirect":
            start("302 Found", [("Location", "http://example.invalid/elsewhere")])
            return [b""]
        if self.mode == "fail":
            start("500 Internal Server Error", [("Content-Type", "text/plain")])
            return [b"x" * 100_000]
        ok = verify(
            SECRET.encode(),
            environ["HTTP_X_CTILINK_TIMESTAMP"],
            body,
            environ["HTTP_X_CTILINK_SIGNATURE"],
            now=time.time(),
        )
        if not ok:
            self.bad_signatures += 1
            start("401 Unauthorized", [])
            return [b""]
        event = json.loads(body)
        assert event["id"] == environ["HTTP_X_CTILINK_EVENT_ID"]
        self.accepted.append(event)
        start("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[SqliteStore, StoreWriter]]:
    db = SqliteStore(str(tmp_path / "ctilink.db"), synchronous="NORMAL")
    writer = StoreWriter(db)
    writer.start()
    yield db, writer
    writer.stop(5)
    db.close()


def _endpoint(url: str, **kw: Any) -> WebhookEndpointConfig:
    base = {
        "name": "crm",
        "url": url,
        "secret": SECRET,
        "backoff_base_s": 0.005,
        "backoff_cap_s": 0.02,
        "max_attempts": 1000,
        "timeout_s": 2,
    }
    base.update(kw)
    return WebhookEndpointConfig.model_validate(base)


class Attempts:
    def __init__(self) -> None:
        self.log: list[tuple[str, bool, str | None]] = []
        self._waiters: list[tuple[Callable[[], bool], gevent.event.Event]] = []

    def __call__(self, endpoint: str, event_id: str, ok: bool, error: str | None) -> None:
        self.log.append((event_id, ok, error))
        for cond, ev in self._waiters:
            if cond():
                ev.set()

    def wait_for(self, cond: Callable[[], bool], timeout: float = 20) -> None:
        ev = gevent.event.Event()
        self._waiters.append((cond, ev))
        if not cond():
            assert ev.wait(timeout), "condition never met"
        self._waiters.remove((cond, ev))


def _notes() -> list[object]:
    notes: list[object] = []
    for i in range(5):
        for call in ("call-a", "call-b"):
            notes.append(
                nt.CallQueued(call_id=call, queue="support", position=i + 1, estimated_wait_s=None, at=1000.0 + i)
            )
    return notes


def test_outage_then_500s_then_restart_and_recovery_delivers_each_event_once_in_order(
    store: tuple[SqliteStore, StoreWriter],
) -> None:
    db, writer = store
    reserved = gevent.socket.socket()
    reserved.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused (the CRM is down)
    port = reserved.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hook"
    attempts = Attempts()
    svc = WebhookService([_endpoint(url)], store=db, writer=writer, on_attempt=attempts)
    svc.start()
    ids = [svc.observe(note, 0.0) for note in _notes()]
    assert all(ids) and len(set(ids)) == 10
    attempts.wait_for(lambda: sum(1 for _, ok, _ in attempts.log if not ok) >= 3)
    assert all("refused" in (err or "").lower() or "errno" in (err or "").lower() for _, _, err in attempts.log)
    # The daemon restarts while the CRM is down: everything is still in the outbox.
    svc.stop()
    writer.flush()
    assert len(db.outbox_due(float(2**53), limit=100)) == 10
    reserved.close()
    receiver = Receiver(port)
    receiver.mode = "fail"
    receiver.server.start()
    try:
        attempts2 = Attempts()
        svc2 = WebhookService([_endpoint(url)], store=db, writer=writer, on_attempt=attempts2)
        svc2.start()
        attempts2.wait_for(lambda: sum(1 for _, _, err in attempts2.log if err == "HTTP 500") >= 3)
        receiver.mode = "ok"
        attempts2.wait_for(lambda: len(receiver.accepted) >= 10)
        svc2.stop()
    finally:
        receiver.server.stop()
    got = [e["id"] for e in receiver.accepted]
    assert sorted(got) == sorted(ids) and len(got) == len(set(got)), "every event exactly once"
    assert got == ids, "in order (per endpoint, hence per call)"
    for call in ("call-a", "call-b"):
        positions = [e["data"]["position"] for e in receiver.accepted if e["data"]["call_id"] == call]
        assert positions == [1, 2, 3, 4, 5]
    assert receiver.bad_signatures == 0
    writer.flush()
    assert db.outbox_due(float(2**53), limit=100) == []


def test_dead_letters_are_kept_listed_and_retryable(store: tuple[SqliteStore, StoreWriter]) -> None:
    db, writer = store
    receiver = Receiver()
    receiver.mode = "fail"
    receiver.server.start()
    try:
        attempts = Attempts()
        svc = WebhookService([_endpoint(receiver.url, max_attempts=2)], store=db, writer=writer, on_attempt=attempts)
        svc.start()
        event_id = svc.observe(nt.CallQueued("c1", "support", 1, None, 1.0), 0.0)
        attempts.wait_for(lambda: svc.dead == 1)
        writer.flush()
        dead = svc.dead_letters()
        assert [(d.event_id, d.endpoint, d.attempts) for d in dead] == [(event_id, "crm", 2)]
        assert dead[0].last_error == "HTTP 500"
        receiver.mode = "ok"
        assert svc.retry_dead(event_id, "crm")
        attempts.wait_for(lambda: len(receiver.accepted) == 1)
        assert receiver.accepted[0]["id"] == event_id
        assert not svc.retry_dead("evt_nope", "crm")
        svc.stop()
    finally:
        receiver.server.stop()


def test_redirects_are_not_followed_and_event_filter_applies(store: tuple[SqliteStore, StoreWriter]) -> None:
    db, writer = store
    receiver = Receiver()
    receiver.mode = "redirect"
    receiver.server.start()
    try:
        attempts = Attempts()
        svc = WebhookService(
            [_endpoint(receiver.url, events=["CallQueued"], max_attempts=1)],
            store=db,
            writer=writer,
            on_attempt=attempts,
        )
        svc.start()
        assert svc.observe(nt.CallAnnounced("c1", 1, None, 1.0), 0.0) is None  # filtered out
        svc.observe(nt.CallQueued("c1", "support", 1, None, 1.0), 0.0)
        attempts.wait_for(lambda: len(attempts.log) == 1)
        assert "redirect" in (attempts.log[0][2] or "") and "not followed" in (attempts.log[0][2] or "")
        assert receiver.requests == 1
        svc.stop()
    finally:
        receiver.server.stop()


def test_only_http_and_allowlisted_destinations_and_capped_bodies() -> None:
    with pytest.raises(DestinationRefused):
        http_request("POST", "file:///etc/passwd")
    with pytest.raises(DestinationRefused):
        http_request("POST", "ftp://127.0.0.1/x")
    receiver = Receiver()
    receiver.mode = "fail"
    receiver.server.start()
    try:
        with pytest.raises(DestinationRefused):
            http_request("POST", receiver.url, body=b"{}", allow=parse_allowlist(["10.0.0.0/8", "crm.example"]))
        resp = http_request("POST", receiver.url, body=b"{}", max_body=1000, allow=parse_allowlist(["127.0.0.0/8"]))
        assert resp.status == 500 and resp.truncated and len(resp.body) == 1000
    finally:
        receiver.server.stop()


def test_signature_verification_rejects_tampering_and_replays() -> None:
    body = b'{"id":"evt_1","type":"CallQueued"}'
    now = 1_700_000_000
    sig = sign(b"s3cret", str(now), body)
    assert sig.startswith("v1=") and len(sig) == 3 + 64
    assert verify(b"s3cret", str(now), body, sig, now=now + 10)
    assert not verify(b"s3cret", str(now), body + b" ", sig, now=now)
    assert not verify(b"other", str(now), body, sig, now=now)
    assert not verify(b"s3cret", str(now + 1), body, sig, now=now)
    assert not verify(b"s3cret", str(now), body, sig, now=now + 3600)  # a replay, an hour later
    assert not verify(b"s3cret", "not-a-time", body, sig, now=now)


def test_backoff_is_capped_exponential_with_jitter() -> None:
    import random

    rng = random.Random(1)
    waits = [backoff_s(n, 1.0, 30.0, rng) for n in range(1, 12)]
    for n, wait in enumerate(waits, start=1):
        step = min(30.0, 2.0 ** (n - 1))
        assert step * 0.5 <= wait <= step
    assert max(waits) <= 30.0
