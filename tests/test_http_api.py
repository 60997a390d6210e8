"""The HTTP control API end to end: FakeSwitch (ESL) <-> daemon <-> API with tokens and roles."""

from __future__ import annotations

import http.client as http_client
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent.event
import gevent.socket
import pytest
import structlog

from ctilink.config import parse_config
from ctilink.core import notifications as nt
from ctilink.logs import configure_logging
from ctilink.service.api.routes import routes
from ctilink.service.callbacks import Callbacks
from ctilink.service.daemon import Daemon
from ctilink.service.screenpop import ScreenPop
from ctilink.testing import http
from ctilink.testing.fake_switch import FakeSwitch

TOKENS = {
    "a1": "agent-1001-token-xxxxxxxx",
    "a2": "agent-1002-token-xxxxxxxx",
    "sup": "supervisor-support-xxxxxxx",
    "admin": "admin-token-xxxxxxxxxxxxx",
}


@pytest.fixture
def switch() -> Iterator[FakeSwitch]:
    srv = FakeSwitch(password="pw-test", time_scale=0, heartbeat_interval=3600)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def daemon(switch: FakeSwitch, tmp_path: Path) -> Iterator[Daemon]:
    config = parse_config(
        {
            "nodes": [{"name": "fs-test", "host": switch.host, "port": switch.port, "password": "pw-test"}],
            "http": {"listen": "127.0.0.1:0"},
            "metrics": {"listen": "127.0.0.1:0"},
            "store": {"path": str(tmp_path / "ctilink.db")},
            "api": {
                "tokens": [
                    {"name": "a1", "token": TOKENS["a1"], "role": "agent", "agent_id": "1001"},
                    {"name": "a2", "token": TOKENS["a2"], "role": "agent", "agent_id": "1002"},
                    {
                        "name": "sup",
                        "token": TOKENS["sup"],
                        "role": "supervisor",
                        "queues": ["support"],
                        "agents": ["1001"],
                    },
                    {"name": "admin", "token": TOKENS["admin"], "role": "admin"},
                ]
            },
            "calls": {"dial_template": "sofia/gateway/carrier/{number}", "caller_id_number": "+15550001111"},
            "queues": [
                {"name": "support", "required_skills": {"support": 3}, "wrap_up_s": 0},
                {"name": "sales", "required_skills": {"sales": 3}},
            ],
            "agents": [
                {"id": "1001", "endpoints": ["user/1001"], "skills": {"support": 5}},
                {"id": "1002", "endpoints": ["user/1002"], "skills": {"sales": 5}},
            ],
        }
    )
    d = Daemon.live(config)
    d.callbacks = Callbacks()
    d.start()
    assert d.links[0].conn.wait_connected(5)
    yield d
    d.stop()


def _req(d: Daemon, method: str, path: str, who: str | None, body: Any = None) -> http.Response:
    headers = {"Authorization": f"Bearer {TOKENS[who]}"} if who else {}
    assert d.http_address is not None
    return http.request(d.http_address, method, path, json=body, headers=headers)


def _fresh_snapshot(d: Daemon) -> None:
    assert d.loop is not None
    d.loop.refresh_snapshot(time.time())  # the test reads what the next 1 s refresh would show


def test_auth_errors_401_403_422_404(daemon: Daemon) -> None:
    assert _req(daemon, "POST", "/v1/agents/1001/ready", None).status == 401
    wrong = http.request(
        daemon.http_address,
        "POST",
        "/v1/agents/1001/ready",  # type: ignore[arg-type]
        headers={"Authorization": "Bearer not-a-token"},
    )
    assert wrong.status == 401 and wrong.json()["error"] == "unauthorized"
    assert "bearer" in wrong.headers.get("www-authenticate", "").lower()
    assert _req(daemon, "POST", "/v1/agents/1002/login", "a1", {}).status == 403
    assert _req(daemon, "GET", "/v1/queues", "a1").status == 403  # agents do not see the supervisor view
    assert _req(daemon, "GET", "/v1/queues/sales", "sup").status == 403  # not the supervisor's queue
    bad = _req(daemon, "POST", "/v1/agents/1001/not-ready", "a1", {"reason": 5, "extra": 1})
    assert bad.status == 422
    assert {e["path"] for e in bad.json()["errors"]} == {"reason", "extra"}
    not_json = http.request(
        daemon.http_address,
        "POST",
        "/v1/agents/1001/not-ready",
        body=b"{nope",  # type: ignore[arg-type]
        headers={"Authorization": f"Bearer {TOKENS['a1']}", "Content-Type": "application/json"},
    )
    assert not_json.status == 422
    assert _req(daemon, "POST", "/v1/agents/9999/login", "admin", {}).status == 404
    assert _req(daemon, "GET", "/v1/calls/no-such-call", "admin").status == 404
    assert _req(daemon, "GET", "/healthz", None).status == 200


def test_agent_lifecycle_through_the_api(daemon: Daemon) -> None:
    assert _req(daemon, "POST", "/v1/agents/1001/login", "a1", {}).status == 200
    assert _req(daemon, "POST", "/v1/agents/1001/ready", "a1").status == 200
    refused = _req(daemon, "POST", "/v1/agents/1001/not-ready", "a1", {"reason": "no-such-reason"})
    assert refused.status == 422 and refused.json()["error"] == "unknown-not-ready-reason"
    assert _req(daemon, "POST", "/v1/agents/1001/not-ready", "a1", {"reason": "lunch"}).status == 200
    history = _req(daemon, "GET", "/v1/agents/1001/history", "a1").json()
    assert [(h["old"], h["new"]) for h in history["history"]] == [
        ("logged-out", "available"),
        ("available", "not-ready"),
    ]
    assert history["history"][-1]["reason"] == "lunch"
    # A wrap-up end with no wrap-up is refused by the engine (state conflict), not by the HTTP layer.
    assert _req(daemon, "POST", "/v1/agents/1001/end-wrap-up", "a1").status == 409
    # The supervisor forces its team member ready; it may not touch agents outside its team.
    assert _req(daemon, "POST", "/v1/agents/1001/force-state", "sup", {"state": "ready"}).status == 200
    assert _req(daemon, "POST", "/v1/agents/1002/force-state", "sup", {"state": "ready"}).status == 403
    _fresh_snapshot(daemon)
    view = _req(daemon, "GET", "/v1/queues", "sup").json()
    assert [q["name"] for q in view["queues"]] == ["support"]
    assert [(a["agent_id"], a["state"]) for a in view["agents"]] == [("1001", "available")]


def test_call_control_on_a_live_call(daemon: Daemon, switch: FakeSwitch) -> None:
    answered = gevent.event.AsyncResult()
    pops: list[ScreenPop] = []
    daemon.callbacks.on(nt.CallAnswered, answered.set)
    daemon.callbacks.on(ScreenPop, pops.append)
    _req(daemon, "POST", "/v1/agents/1001/login", "a1", {})
    _req(daemon, "POST", "/v1/agents/1001/ready", "a1")
    caller = switch.inbound_call("15551230001", "Alice", "7000", {"ctilink_queue": "support", "ctilink_ivr": "2"})
    note = answered.get(timeout=5)
    _fresh_snapshot(daemon)
    call = f"/v1/calls/{note.call_id}"
    assert _req(daemon, "GET", call, "a1").json()["agent_id"] == "1001"
    assert _req(daemon, "GET", call, "a2").status == 403  # not agent 1002's call
    assert _req(daemon, "POST", call + "/hold", "a1").status == 200
    switch.wait_for_command(lambda t: t.startswith("api uuid_hold") and caller in t, timeout=5)
    assert _req(daemon, "POST", call + "/dtmf", "a1", {"digits": "12#"}).status == 200
    switch.wait_for_command(lambda t: "uuid_send_dtmf" in t and "12#" in t, timeout=5)
    assert _req(daemon, "POST", call + "/dtmf", "a1", {"digits": "1;hangup"}).status == 422
    assert _req(daemon, "POST", call + "/recording/start", "a1", {}).status == 200
    switch.wait_for_command(lambda t: "uuid_record" in t and f"{note.call_id}.wav" in t, timeout=5)
    assert _req(daemon, "POST", call + "/transfer", "a1", {"queue": "support", "number": "1"}).status == 422
    assert (
        _req(daemon, "POST", "/v1/agents/1001/monitor", "sup", {"dial_string": "user/2001", "mode": "whisper"}).status
        == 200
    )
    switch.wait_for_command(lambda t: "eavesdrop" in t and "user/2001" in t, timeout=5)
    assert _req(daemon, "POST", call + "/hangup", "sup", {}).status == 200
    switch.wait_for_command(lambda t: t.startswith("api uuid_kill") and caller in t, timeout=5)
    assert [p.phase for p in pops][:2] == ["offered", "answered"]
    assert pops[0].customer_number == "+15551230001" and pops[0].ivr["ctilink_ivr"] == "2"


def test_click_to_dial_rings_the_agent_first(daemon: Daemon, switch: FakeSwitch) -> None:
    _req(daemon, "POST", "/v1/agents/1001/login", "a1", {})
    resp = _req(daemon, "POST", "/v1/agents/1001/dial", "a1", {"number": "5551239999"})
    assert resp.status == 200, resp.body
    agent_leg = switch.wait_for_command(lambda t: t.startswith("bgapi originate") and "user/1001" in t, timeout=5)
    assert "ctilink_click_to_dial" in agent_leg
    customer = switch.wait_for_command(lambda t: "sofia/gateway/carrier/15551239999" in t, timeout=5)
    assert "origination_caller_id_number=+15550001111" in customer
    switch.wait_for_command(lambda t: t.startswith("api uuid_bridge"), timeout=5)
    bad = _req(daemon, "POST", "/v1/agents/1001/dial", "a1", {"number": "not a number"})
    assert bad.status in (409, 422)


def test_lists_through_the_api(daemon: Daemon) -> None:
    added = _req(daemon, "POST", "/v1/lists/blacklist/entries", "admin", {"number": "+15557770000", "reason": "abuse"})
    assert added.status == 201, added.body
    found = _req(daemon, "GET", "/v1/lists/blacklist?number=%2B15557770000", "admin").json()
    assert [e["number"] for e in found["entries"]] == ["+15557770000"]
    # The supervisor of queue support manages that queue's entries, not the global ones.
    entry = {"number": "+15557770000", "reason": "abuse", "scope": "queue:support"}
    assert _req(daemon, "POST", "/v1/lists/blacklist/entries", "sup", entry).status == 201
    found = _req(daemon, "GET", "/v1/lists/blacklist?number=%2B15557770000", "sup").json()
    assert [(e["number"], e["scope"]) for e in found["entries"]] == [("+15557770000", "queue:support")]
    assert _req(daemon, "DELETE", "/v1/lists/blacklist/entries/%2B15557770000?scope=queue:support", "sup").status == 200
    assert _req(daemon, "DELETE", "/v1/lists/blacklist/entries/%2B15557770000", "sup").status == 403
    imported = _req(
        daemon,
        "POST",
        "/v1/lists/dnc/import",
        "admin",
        {"entries": [{"number": "+15557770001"}, {"number": "garbage!"}]},
    )
    assert imported.json()["added"] == 1 and imported.json()["errors"][0]["path"] == "entries[1]"
    assert _req(daemon, "DELETE", "/v1/lists/blacklist/entries/%2B15557770000", "admin").status == 200
    assert _req(daemon, "GET", "/v1/lists/blacklist?number=%2B15557770000", "admin").json()["entries"] == []
    assert _req(daemon, "GET", "/v1/lists/nosuchlist", "sup").status == 404
    assert _req(daemon, "POST", "/v1/lists/blacklist/entries", "a1", {"number": "+15557770000"}).status == 403
    assert _req(daemon, "GET", "/v1/webhooks/dead-letters", "sup").status == 403
    assert _req(daemon, "GET", "/v1/webhooks/dead-letters", "admin").json() == {"dead_letters": []}


# -- bodies: chunked, bounded, nested (the security probe's findings) --------------------------------


def _raw(d: Daemon, head: str, chunks: list[bytes] | None = None, body: bytes = b"") -> http.Response:
    """One request written by hand (http.client cannot send a chunked body of our choosing)."""
    assert d.http_address is not None
    sock = gevent.socket.create_connection(d.http_address, timeout=10)
    try:
        data = head.replace("\n", "\r\n").encode() + b"\r\n"
        if chunks is not None:
            data += b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
        sock.sendall(data + body)
        resp = http_client.HTTPResponse(sock)  # type: ignore[arg-type]
        resp.begin()
        return http.Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        sock.close()


def _head(d: Daemon, method: str, path: str, who: str, extra: str = "") -> str:
    return (
        f"{method} {path} HTTP/1.1\nHost: x\nAuthorization: Bearer {TOKENS[who]}\n"
        f"Content-Type: application/json\n{extra}"
    )


def _answered_call(d: Daemon, switch: FakeSwitch) -> tuple[str, str]:
    answered = gevent.event.AsyncResult()
    d.callbacks.on(nt.CallAnswered, answered.set)
    _req(d, "POST", "/v1/agents/1001/login", "a1", {})
    _req(d, "POST", "/v1/agents/1001/ready", "a1")
    caller = switch.inbound_call("15551230001", "Alice", "7000", {"ctilink_queue": "support"})
    note = answered.get(timeout=5)
    _fresh_snapshot(d)
    return note.call_id, caller


def test_a_chunked_body_is_read_and_obeyed(daemon: Daemon, switch: FakeSwitch) -> None:
    call_id, caller = _answered_call(daemon, switch)
    path = f"/v1/calls/{call_id}/hangup"
    resp = _raw(
        daemon, _head(daemon, "POST", path, "a1", "Transfer-Encoding: chunked\n"), [b'{"cause": ', b'"USER_BUSY"}']
    )
    assert resp.status == 200, resp.body
    kill = switch.wait_for_command(lambda t: t.startswith("api uuid_kill") and caller in t, timeout=5)
    assert "USER_BUSY" in kill  # the cause in the chunks, not the default NORMAL_CLEARING of an unread body


def test_a_chunked_body_with_a_bad_field_is_refused_and_does_nothing(daemon: Daemon, switch: FakeSwitch) -> None:
    call_id, _ = _answered_call(daemon, switch)
    resp = _raw(
        daemon,
        _head(daemon, "POST", f"/v1/calls/{call_id}/hangup", "a1", "Transfer-Encoding: chunked\n"),
        [b'{"cause": "not; a cause"}'],
    )
    assert resp.status == 422 and resp.json()["errors"][0]["path"] == "cause"
    # An unknown transfer coding is not a body we can read: refused, not taken as empty.
    gz = _raw(daemon, _head(daemon, "POST", f"/v1/calls/{call_id}/recording/start", "a1", "Transfer-Encoding: gzip\n"))
    assert gz.status == 501 and gz.headers.get("connection") == "close"
    # A body on a route that takes none is refused too: nothing is done on a body nobody read.
    held = _req(daemon, "POST", f"/v1/calls/{call_id}/hold", "a1", {"call_id": "another"})
    assert held.status == 422 and held.json()["error"] == "unexpected-body"
    assert not any(("uuid_kill" in t or "uuid_record" in t or "uuid_hold" in t) for t in switch.commands)


def test_body_size_is_bounded_chunked_or_not(daemon: Daemon) -> None:
    big = b'{"reason": "' + b"x" * (70 * 1024) + b'"}'
    path = "/v1/agents/1001/not-ready"
    sized = _raw(daemon, _head(daemon, "POST", path, "a1", f"Content-Length: {len(big)}\n"), body=big)
    assert sized.status == 413 and sized.json()["error"] == "body-too-large"
    chunked = _raw(
        daemon, _head(daemon, "POST", path, "a1", "Transfer-Encoding: chunked\n"), [big[:40_000], big[40_000:]]
    )
    assert chunked.status == 413 and chunked.headers.get("connection") == "close"


def test_an_endless_chunked_body_is_answered_413_and_the_connection_closed(daemon: Daemon) -> None:
    assert daemon.http_address is not None
    sock = gevent.socket.create_connection(daemon.http_address, timeout=10)
    try:
        head = _head(daemon, "POST", "/v1/agents/1001/not-ready", "a1", "Transfer-Encoding: chunked\n")
        chunk = b"x" * 16384
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + b"%x\r\n%s\r\n" % (len(chunk), chunk) * 5)
        reply = b""
        while b"\r\n\r\n" not in reply:  # the answer comes while the body is still coming
            data = sock.recv(65536)
            assert data, reply
            reply += data
        assert reply.startswith(b"HTTP/1.1 413") and b"connection: close" in reply.lower()
        sent = 0
        try:  # keep sending: the server drains a bounded amount, then hangs up
            while sent < 64 * 1024 * 1024:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except OSError:
            pass
        assert sent < 64 * 1024 * 1024
    finally:
        sock.close()


def test_deeply_nested_json_is_400_and_logged_without_the_body(
    daemon: Daemon, capsys: pytest.CaptureFixture[str]
) -> None:
    deep = '{"number": "+15557770000", "reason": ' + "[" * 5000 + "]" * 5000 + "}"
    configure_logging(fmt="json", mask_numbers=True)
    try:
        resp = http.request(
            daemon.http_address,  # type: ignore[arg-type]
            "POST",
            "/v1/lists/blacklist/entries",
            body=deep.encode(),
            headers={"Authorization": f"Bearer {TOKENS['admin']}", "Content-Type": "application/json"},
        )
    finally:
        structlog.reset_defaults()
    assert resp.status == 400, resp.body
    assert resp.json()["error"] == "json-too-deep" and "32" in resp.json()["message"]
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if "http_body_refused" in line]
    assert [(e["route"], e["reason"], e["status"]) for e in lines] == [
        ("POST /v1/lists/{list_name}/entries", "json-too-deep", 400)
    ]
    assert "7770000" not in json.dumps(lines)
    # Every route with a body answers 400 the same way, and so do numbers Python will not parse.
    for route in routes():
        if route.body is None:
            continue
        path = route.path.replace("{", "").replace("}", "")
        nested = http.request(
            daemon.http_address,  # type: ignore[arg-type]
            route.method,
            path,
            body=b"[" * 100 + b"]" * 100,
            headers={"Authorization": f"Bearer {TOKENS['admin']}"},
        )
        assert (nested.status, nested.json()["error"]) == (400, "json-too-deep"), route.path
    huge = http.request(
        daemon.http_address,  # type: ignore[arg-type]
        "POST",
        "/v1/lists/blacklist/entries",
        body=b'{"number": "1", "priority": ' + b"9" * 5000 + b"}",
        headers={"Authorization": f"Bearer {TOKENS['admin']}"},
    )
    assert huge.status == 422 and huge.json()["error"] == "invalid-json"


# -- login endpoints ---------------------------------------------------------------------------------------

PSTN = "sofia/gateway/default/19005550100"


def _offered_to(d: Daemon, switch: FakeSwitch, agent: str) -> str:
    """Ring the agent with a support call; the originate command it got."""
    _req(d, "POST", f"/v1/agents/{agent}/ready", "admin")
    switch.inbound_call("15551230002", "Bob", "7000", {"ctilink_queue": "support"})
    return switch.wait_for_command(lambda t: t.startswith("bgapi originate") and "ctilink_role=agent" in t, timeout=5)


def test_an_agent_logs_in_only_on_a_configured_endpoint(daemon: Daemon, switch: FakeSwitch) -> None:
    for who in ("a1", "sup"):
        refused = _req(daemon, "POST", "/v1/agents/1001/login", who, {"endpoint": PSTN})
        assert refused.status == 403, refused.body
        assert [e["path"] for e in refused.json()["errors"]] == ["endpoint"]
    profile = daemon.engine.agent_profile("1001")
    assert profile is not None and list(profile.endpoints) == ["user/1001"]
    _fresh_snapshot(daemon)
    assert _req(daemon, "GET", "/v1/agents/1001", "a1").json()["state"] == "logged-out"
    assert _req(daemon, "POST", "/v1/agents/1001/login", "a1", {"endpoint": "user/1001"}).status == 200
    offer = _offered_to(daemon, switch, "1001")
    assert "user/1001" in offer and "19005550100" not in offer
    assert not any("19005550100" in t for t in switch.commands)


def test_a_refused_login_changes_no_endpoint(daemon: Daemon, switch: FakeSwitch) -> None:
    assert _req(daemon, "POST", "/v1/agents/1001/login", "a1", {}).status == 200
    # Already logged in: the engine refuses the login, and the endpoint given with it is not kept.
    again = _req(daemon, "POST", "/v1/agents/1001/login", "admin", {"endpoint": "user/1999"})
    assert again.status == 409, again.body
    profile = daemon.engine.agent_profile("1001")
    assert profile is not None and list(profile.endpoints) == ["user/1001"]
    bad = _req(daemon, "POST", "/v1/agents/1002/login", "admin", {"endpoint": "user/1002 ;hangup"})
    assert bad.status == 422 and [e["path"] for e in bad.json()["errors"]] == ["endpoint"]
    offer = _offered_to(daemon, switch, "1001")
    assert "user/1001" in offer and "user/1999" not in offer


def test_an_admin_may_log_an_agent_in_on_a_new_endpoint(daemon: Daemon, switch: FakeSwitch) -> None:
    assert _req(daemon, "POST", "/v1/agents/1001/login", "admin", {"endpoint": "user/1999"}).status == 200
    profile = daemon.engine.agent_profile("1001")
    assert profile is not None and list(profile.endpoints) == ["user/1999", "user/1001"]
    assert "user/1999" in _offered_to(daemon, switch, "1001")


def test_an_unexpected_error_is_a_logged_json_500(capsys: pytest.CaptureFixture[str]) -> None:
    """A bug in a handler answers JSON and leaves a log line naming the route (no traceback when masking)."""
    from ctilink.config import Config
    from ctilink.service.api import ApiContext
    from ctilink.service.http import build_app, serve

    def broken() -> None:
        raise KeyError("+15557770000")  # as a bug might, quoting caller input

    config = Config.model_validate({"logging": {"mask_numbers": True}})
    ctx = ApiContext(snapshot=broken, submit=lambda r: None, config=config)  # type: ignore[arg-type,return-value]
    server = serve("127.0.0.1:0", build_app(health=lambda: {"ok": True}, context=ctx))
    configure_logging(fmt="json", mask_numbers=True)
    try:
        resp = http.get(server.address[:2], "/v1/agents")
    finally:
        structlog.reset_defaults()
        server.stop(timeout=1)
    assert resp.status == 500 and resp.json()["error"] == "internal"
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if "http_handler_failed" in line]
    assert [(e["route"], e["error_type"]) for e in lines] == [("GET /v1/agents", "KeyError")]
    assert "7770000" not in json.dumps(lines)
