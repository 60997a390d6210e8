"""SIGKILL ``ctilink run`` with calls up and start it again: it takes back every live call.

The daemon runs as a real process against the fake FreeSWITCH over TCP, with its SQLite store.
Callers are bridged to agents, the daemon is killed, and a new one starts on the same store and
switch. It must find the calls again from what the switch reports (resync), put each agent back
on their own call, restore every agent's session (ready, or not ready with its reason, on the
endpoint they logged in with), offer new callers only to agents who are free, and write one
record per call when those callers hang up, without killing a channel the switch says is gone.
"""

from __future__ import annotations

import json
import re
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent
import gevent.subprocess
import pytest
from daemon_process import AUTH, daemon_toml, eventually, start_daemon, stop_daemons

from ctilink.config import load_config
from ctilink.testing import http
from ctilink.testing.fake_switch import FakeSwitch

AGENTS = ["a01", "a02", "a03", "a04", "a05"]


@pytest.fixture
def switch() -> Iterator[FakeSwitch]:
    srv = FakeSwitch(password="restart-pw", time_scale=0, heartbeat_interval=3600)
    srv.start()
    yield srv
    srv.stop()


def _post(address: tuple[str, int], path: str, body: dict[str, Any] | None = None) -> None:
    resp = http.request(address, "POST", path, headers=AUTH, json=body or {})
    assert resp.status < 300, (path, resp.status, resp.body[:300])


def _agents(address: tuple[str, int]) -> dict[str, dict[str, Any]]:
    resp = http.request(address, "GET", "/v1/agents", headers=AUTH)
    return {a["agent_id"]: a for a in resp.json()["agents"]}


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute(sql))


def _agent_of(originate: str) -> str:
    m = re.search(r"ctilink_agent_id=(\w+)", originate)
    assert m is not None, originate
    return m.group(1)


def test_a_killed_daemon_restarts_with_its_calls_and_agents(switch: FakeSwitch, tmp_path: Path) -> None:
    db = tmp_path / "ctilink.db"
    config = tmp_path / "ctilink.toml"
    config.write_text(
        daemon_toml(port=switch.port, password="restart-pw", db=db, agents={a: f"user/{a}" for a in AGENTS})
    )
    load_config(config)
    proc, address = start_daemon(config)
    second: gevent.subprocess.Popen | None = None
    try:
        for agent in ("a01", "a02", "a03", "a05"):
            _post(address, f"/v1/agents/{agent}/login")
            _post(address, f"/v1/agents/{agent}/ready")
        _post(address, "/v1/agents/a04/login", {"endpoint": "user/a04-desk", "not_ready_reason": "lunch"})
        callers = [
            switch.inbound_call(f"155501010{i}", f"caller{i}", "7000", {"ctilink_queue": "support"}) for i in range(3)
        ]
        for caller in callers:
            switch.wait_for_command(lambda t, c=caller: t.startswith(f"api uuid_bridge {c} "))
        originates = [t for t in switch.commands if t.startswith("bgapi originate")]
        talking = sorted(_agent_of(t) for t in originates)
        assert len(talking) == 3 and "a04" not in talking
        call_ids = {
            m.group(1): m.group(2)
            for t in switch.commands
            if (m := re.match(r"api uuid_setvar (\S+) ctilink_call_id (\S+)", t))
        }
        sessions = "SELECT name, blob FROM config_overrides WHERE kind = 'agent_session'"
        eventually(
            "the sessions to be stored",
            lambda: sum(json.loads(b)["state"] == "on-call" for _, b in _rows(db, sessions)) == 3,
        )

        proc.send_signal(signal.SIGKILL)
        proc.wait()
        sent_before = len(switch.commands)
        assert all(c in switch.channels for c in callers)  # the calls outlive the daemon

        second, address = start_daemon(config)

        def back_on_their_calls() -> dict[str, dict[str, Any]] | None:
            agents = _agents(address)
            return agents if sum(a["state"] == "on-call" for a in agents.values()) == 3 else None

        states = eventually("the restarted daemon to take back its calls", back_on_their_calls)
        assert sorted(a for a, v in states.items() if v["state"] == "on-call") == talking
        assert (states["a04"]["state"], states["a04"]["reason"]) == ("not-ready", "lunch")
        free = next(a for a in ("a01", "a02", "a03", "a05") if a not in talking)
        assert states[free]["state"] == "available"
        calls = http.request(address, "GET", "/v1/calls", headers=AUTH).json()["calls"]
        assert sorted(c["call_id"] for c in calls) == sorted(call_ids[c] for c in callers)

        # A new caller goes to the one free agent, not to anyone already talking.
        newcomer = switch.inbound_call("15550109", "caller9", "7000", {"ctilink_queue": "support"})
        offer = switch.wait_for_command(lambda t: t.startswith("bgapi originate") and t not in originates)
        assert _agent_of(offer) == free
        switch.wait_for_command(lambda t: t.startswith(f"api uuid_bridge {newcomer} "))
        # a04 kept the phone they logged in on.
        _post(address, "/v1/agents/a04/ready")
        late = switch.inbound_call("15550108", "caller8", "7000", {"ctilink_queue": "support"})
        offer = switch.wait_for_command(lambda t: t.startswith("bgapi originate") and "ctilink_agent_id=a04" in t)
        assert "}user/a04-desk &park()" in offer
        switch.wait_for_command(lambda t: t.startswith(f"api uuid_bridge {late} "))

        for caller in (newcomer, late):
            eventually("the bridge", lambda c=caller: switch.channels[c].other_uuid)
        for caller in [*callers, newcomer, late]:
            assert switch.hangup(caller)
        records = "SELECT call_id, disposition, record FROM call_records"
        rows = eventually("the call records", lambda: len(_rows(db, records)) == 5 and _rows(db, records))
        by_id = {call_id: (disposition, json.loads(record)) for call_id, disposition, record in rows}
        for caller in callers:
            disposition, record = by_id[call_ids[caller]]
            assert disposition == "answered"
            assert record["offers"][-1]["agent_id"] in talking
        # Nothing FreeSWITCH said was gone was hung up again, and nothing ctilink made is left.
        after = switch.commands[sent_before:]
        assert [t for t in after if t.startswith("api uuid_kill")] == [], "\n".join(t[:150] for t in after)
        assert switch.channels == {}
        eventually(
            "every agent free again",
            lambda: all(v["state"] == "available" for v in _agents(address).values()),
        )
    finally:
        stop_daemons(proc, second)
