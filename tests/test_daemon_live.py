"""The daemon end to end over real sockets: FakeSwitch (ESL) <-> daemon <-> HTTP/metrics."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import gevent
import gevent.event
import pytest
from daemon_rig import daemon_config, running_switch

from ctilink.cli import main as cli_main
from ctilink.config import Config
from ctilink.core import CallRecord
from ctilink.core import notifications as nt
from ctilink.core import requests as rq
from ctilink.service.callbacks import Callbacks
from ctilink.service.daemon import Daemon
from ctilink.testing import http
from ctilink.testing.fake_switch import Endpoint, FakeSwitch


@pytest.fixture
def switch() -> Iterator[FakeSwitch]:
    yield from running_switch()


def _config(srv: FakeSwitch, tmp_path: Path) -> Config:
    return daemon_config(srv, tmp_path, ["1001"])


def _get(address: tuple[str, int] | None, path: str) -> tuple[int, bytes]:
    assert address is not None
    resp = http.get(address, path)
    return resp.status, resp.body


def test_parked_call_reaches_agent_bridged_recorded_and_measured(switch: FakeSwitch, tmp_path: Path) -> None:
    callbacks = Callbacks()
    ended: list[CallRecord] = []
    done = gevent.event.Event()

    def on_ended(note: nt.CallEnded) -> None:
        ended.append(note.record)
        done.set()

    callbacks.on(nt.CallEnded, on_ended)
    daemon = Daemon.live(_config(switch, tmp_path))
    daemon.callbacks = callbacks
    daemon.start()
    try:
        for link in daemon.links:
            assert link.conn.wait_connected(5)
        for request in (rq.AgentLogin("1001"), rq.AgentReady("1001")):
            effects = daemon.submit(request).get(timeout=5)
            assert effects.error is None
        caller = switch.inbound_call("15551230001", 'Alice, "the" Caller', "7000", {"ctilink_queue": "support"})
        originate = switch.wait_for_command(lambda t: t.startswith("bgapi originate"), timeout=5)
        assert "user/1001" in originate and "ctilink_role=agent" in originate
        bridge = switch.wait_for_command(lambda t: t.startswith("api uuid_bridge"), timeout=5)
        assert caller in bridge
        # The queue view is served from the engine's snapshot, never from the switch.
        commands_before = len(switch.commands)
        daemon.submit(rq.AgentNotReady("1001", "break")).get(timeout=5)  # pending: the agent is on a call
        status, body = _get(daemon.http_address, "/v1/agents/1001")
        assert status == 200
        assert json.loads(body)["agent_id"] == "1001"
        assert len(switch.commands) == commands_before
        # The caller hangs up: the call ends once, recorded in the store and in metrics.
        assert switch.hangup(caller)
        assert done.wait(5), "CallEnded never arrived"
        assert [r.disposition.value for r in ended] == ["answered"]
        daemon.writer.flush()
        stored = daemon.store.get_call_record(ended[0].call_id)
        assert stored is not None and stored.disposition == "answered"
        status, metrics = _get(daemon.metrics_address, "/metrics")
        assert status == 200
        assert b"ctilink_esl_connected" in metrics
        assert b'ctilink_calls_answered_total{queue="support"} 1.0' in metrics
    finally:
        daemon.stop()


def test_unknown_agent_request_is_refused_without_state_change(switch: FakeSwitch, tmp_path: Path) -> None:
    daemon = Daemon.live(_config(switch, tmp_path))
    daemon.start()
    try:
        effects = daemon.submit(rq.AgentLogin("no-such-agent")).get(timeout=5)
        assert effects.error is not None
        assert any(isinstance(n, nt.InputRejected) for n in effects.notifications)
        assert daemon.engine.snapshot(0).agent("1001").state.value == "logged-out"
    finally:
        daemon.stop()


def test_busy_agent_leg_keeps_the_call_queued(switch: FakeSwitch, tmp_path: Path) -> None:
    switch.set_endpoint("user/1001", Endpoint("busy"))
    daemon = Daemon.live(_config(switch, tmp_path))
    daemon.callbacks = Callbacks()
    results: list[nt.OfferResult] = []
    busy = gevent.event.Event()

    def on_result(note: nt.OfferResult) -> None:
        results.append(note)
        busy.set()

    daemon.callbacks.on(nt.OfferResult, on_result)
    daemon.start()
    try:
        assert daemon.links[0].conn.wait_connected(5)
        daemon.submit(rq.AgentLogin("1001")).get(timeout=5)
        daemon.submit(rq.AgentReady("1001")).get(timeout=5)
        switch.inbound_call("15551230004", "Bob", "7000", {"ctilink_queue": "support"})
        switch.wait_for_command(lambda t: t.startswith("bgapi originate"), timeout=5)
        assert busy.wait(5), "the busy outcome never reached the engine"
        assert [r.result.value for r in results] == ["busy"]
        waiting = daemon.engine.snapshot(0).queue("support").waiting
        assert len(waiting) == 1
    finally:
        daemon.stop()


def test_api_reload_refuses_a_bad_file_and_keeps_agent_states(switch: FakeSwitch, tmp_path: Path) -> None:
    base = f"""
[[nodes]]
name = "fs-test"
port = {switch.port}
password = "pw-test"
[http]
listen = "127.0.0.1:0"
[metrics]
enabled = false
[store]
path = "{tmp_path / "ctilink.db"}"
[api]
tokens = [{{ name = "ops", token = "reload-admin-0123456789", role = "admin" }}]
[[agents]]
id = "1001"
endpoints = ["user/1001"]
skills = {{ support = 5 }}
[[queues]]
name = "support"
"""
    path = tmp_path / "ctilink.toml"
    path.write_text(base)
    from ctilink.config import load_config

    daemon = Daemon.live(load_config(path))
    daemon.config_path = str(path)
    daemon.start()
    auth = {"Authorization": "Bearer reload-admin-0123456789"}
    try:
        for request in (rq.AgentLogin("1001"), rq.AgentReady("1001")):
            daemon.submit(request).get(timeout=5)
        path.write_text(base + '\n[[queues]]\nname = "sales"\nstrategy = "no such strategy!"\n')
        bad = http.request(daemon.http_address, "POST", "/v1/admin/reload", headers=auth)
        assert bad.status == 422
        assert any(d["path"] == "queues[1].strategy" for d in bad.json()["errors"])
        # A value the engine builds but FreeSWITCH would refuse is refused as `ctilink run` refuses it.
        path.write_text(base + '\n[[queues]]\nname = "sales"\nhold_music = "/s/{x}.wav"\n')
        bad = http.request(daemon.http_address, "POST", "/v1/admin/reload", headers=auth)
        assert bad.status == 422
        assert any(d["path"] == "queues[1].hold_music" for d in bad.json()["errors"])
        assert {q.name for q in daemon.engine.snapshot(0).queues} == {"support"}
        path.write_text(base + '\n[[queues]]\nname = "sales"\n')
        # `ctilink lists import` writes the store while the daemon runs; a reload brings it in.
        csv = tmp_path / "blacklist.csv"
        csv.write_text("list,number,scope,expires,reason,added_by\nblacklist,+15557770001,global,,spam,ops\n")
        assert cli_main(["lists", "import", str(csv), "--db", str(tmp_path / "ctilink.db")]) == 0
        assert daemon.engine.match_list("+15557770001", "blacklist", now=time.time()) is None
        ok = http.request(daemon.http_address, "POST", "/v1/admin/reload", headers=auth)
        assert ok.status == 200 and ok.json()["queues"] == 2
        assert daemon.engine.match_list("+15557770001", "blacklist", now=time.time()) is not None
        snap = daemon.engine.snapshot(0)
        assert {q.name for q in snap.queues} == {"support", "sales"}
        assert snap.agent("1001").state.value == "available"  # a reload never changes an agent's state
        assert daemon.api_context is not None and daemon.api_context.config is daemon.config
        assert http.request(daemon.http_address, "POST", "/v1/admin/reload").status == 401
    finally:
        daemon.stop()
