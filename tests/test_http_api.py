"""The HTTP control API end to end: FakeSwitch (ESL) <-> daemon <-> API with tokens and roles."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent.event
import pytest

from ctilink.config import parse_config
from ctilink.core import notifications as nt
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
    added = _req(daemon, "POST", "/v1/lists/blacklist/entries", "sup", {"number": "+15557770000", "reason": "abuse"})
    assert added.status == 201, added.body
    found = _req(daemon, "GET", "/v1/lists/blacklist?number=%2B15557770000", "sup").json()
    assert [e["number"] for e in found["entries"]] == ["+15557770000"]
    imported = _req(
        daemon,
        "POST",
        "/v1/lists/dnc/import",
        "admin",
        {"entries": [{"number": "+15557770001"}, {"number": "garbage!"}]},
    )
    assert imported.json()["added"] == 1 and imported.json()["errors"][0]["path"] == "entries[1]"
    assert _req(daemon, "DELETE", "/v1/lists/blacklist/entries/%2B15557770000", "sup").status == 200
    assert _req(daemon, "GET", "/v1/lists/blacklist?number=%2B15557770000", "sup").json()["entries"] == []
    assert _req(daemon, "GET", "/v1/lists/nosuchlist", "sup").status == 404
    assert _req(daemon, "POST", "/v1/lists/blacklist/entries", "a1", {"number": "+15557770000"}).status == 403
    assert _req(daemon, "GET", "/v1/webhooks/dead-letters", "sup").status == 403
    assert _req(daemon, "GET", "/v1/webhooks/dead-letters", "admin").json() == {"dead_letters": []}
