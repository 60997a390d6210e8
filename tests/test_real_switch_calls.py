"""Call-centre calls through ctilink and a real FreeSWITCH, with real SIP parties.

Run with ``CTILINK_TEST_ESL=host:port:password`` naming a FreeSWITCH 1.10 on this machine set up
as ``freeswitch_conf/README.md`` says (its ``external`` profile on 127.0.0.1:5080, ctilink's
dialplan, ``sessions-per-second`` raised above 40 for the 20 calls/s test), and SIPp installed
(Debian's ``sip-tester``). Callers are SIPp user agents dialling 7000; agents are SIPp phones on
127.0.0.1:5090 (answer after 0.5 s), 5091 (busy) and 5092 (never answer). Every verdict comes from
FreeSWITCH: the switch's own events, read over a connection of the test's own
(``ctilink.testing.observer``), its channel list, and the records ctilink wrote.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
import gevent.subprocess
import pytest
from daemon_process import AUTH, TOKEN, daemon_toml, eventually, start_daemon, stop_daemons

from ctilink.config import parse_config
from ctilink.core import CallRecord
from ctilink.core import notifications as nt
from ctilink.core import requests as rq
from ctilink.service.callbacks import Callbacks
from ctilink.service.daemon import Daemon
from ctilink.testing import http, sipp
from ctilink.testing.observer import Observer, Timeline

SPEC = os.environ.get("CTILINK_TEST_ESL", "")

pytestmark = [
    pytest.mark.freeswitch,
    pytest.mark.skipif(not SPEC, reason="set CTILINK_TEST_ESL=host:port:password to run against FreeSWITCH"),
    pytest.mark.skipif(not sipp.available(), reason="SIPp is needed for the SIP parties (apt-get install sip-tester)"),
]


@dataclass
class Rig:
    observer: Observer
    timeline: Timeline
    parties: sipp.SippParties
    host: str
    port: int
    password: str

    def channels(self) -> int:
        return self.observer.channel_count()

    def config(self, tmp: Path, agents: dict[str, str], **queue: Any) -> dict[str, Any]:
        return {
            "nodes": [{"name": "fs", "host": self.host, "port": self.port, "password": self.password}],
            "http": {"listen": "127.0.0.1:0"},
            "metrics": {"listen": "127.0.0.1:0"},
            "store": {"path": str(tmp / "ctilink.db")},
            "api": {"tokens": [{"name": "ops", "token": TOKEN, "role": "admin"}]},
            "queues": [{"name": "support", "wrap_up_s": 0, "ring_timeout_s": 5, **queue}],
            "agents": [{"id": a, "endpoints": [e]} for a, e in agents.items()],
        }


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    host, port, password = SPEC.rsplit(":", 2)
    timeline = Timeline()
    observer = Observer(host, int(port), password, timeline)
    assert observer.channel_count() == 0, "the switch must start without channels"
    parties = sipp.SippParties(tmp_path / "sipp", answer_delay_s=0.5)
    parties.start_agents(("answer", "busy", "no-answer"))
    yield Rig(observer, timeline, parties, host, int(port), password)
    parties.stop()
    observer.api("hupall NORMAL_CLEARING")
    # The next test starts from an empty switch: wait for the hang-ups to finish, not only be asked.
    eventually("the switch without channels", lambda: observer.channel_count() == 0)
    observer.close()


def _agents(n: int, kind: str = "answer") -> dict[str, str]:
    return {f"a{i:02d}": f"sofia/external/a{i:02d}@127.0.0.1:{sipp.AGENT_PORTS[kind]}" for i in range(1, n + 1)}


class Running:
    """ctilink in this process, with its records collected as they are written."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.records: list[CallRecord] = []
        callbacks = Callbacks()
        callbacks.on(nt.CallEnded, lambda note: self.records.append(note.record))
        self.daemon = Daemon.live(parse_config(config))
        self.daemon.callbacks = callbacks
        self.daemon.start()
        assert self.daemon.links[0].conn.wait_connected(10)

    def ready(self, *agents: str) -> None:
        for agent in agents:
            for request in (rq.AgentLogin(agent), rq.AgentReady(agent)):
                assert self.daemon.submit(request).get(timeout=10).error is None

    def command_failures(self, verb: str) -> float:
        value = self.daemon.registry.get_sample_value(
            "ctilink_esl_command_failures_total", {"node": "fs", "verb": verb}
        )
        return value or 0.0

    def stop(self) -> None:
        self.daemon.stop()


def _all_gone(rig: Rig, calls: int) -> None:
    eventually(f"{calls} callers to leave", lambda: len(rig.timeline.caller_gone) >= calls, timeout=calls / 2 + 60)
    gevent.sleep(3.0)  # ctilink's grace for a bridged partner to follow (2 s) before counting leaks


@pytest.mark.parametrize(("cps", "calls", "agents"), [(5, 40, 20), (20, 100, 60)])
def test_callers_are_answered_and_bridged_with_none_dropped_and_nothing_left(
    rig: Rig, tmp_path: Path, cps: int, calls: int, agents: int
) -> None:
    running = Running(rig.config(tmp_path, _agents(agents), ring_timeout_s=10))
    try:
        running.ready(*_agents(agents))
        rig.parties.call(calls=calls, cps=cps, talk_s=4.0)
        _all_gone(rig, calls)
        dropped = [c for c, how in rig.timeline.caller_gone.items() if how.startswith("send_")]
        assert dropped == [], f"{len(dropped)} callers hung up by the switch"
        assert len(rig.timeline.bridged) == calls
        assert rig.channels() == 0, "channels left behind"
        eventually("every record", lambda: len(running.records) == calls)
        assert {r.disposition.value for r in running.records} == {"answered"}
        assert running.command_failures("uuid_kill") == 0  # nothing gone was killed again
    finally:
        running.stop()


def test_a_busy_and_a_silent_phone_are_passed_over_and_the_caller_reaches_a_third(rig: Rig, tmp_path: Path) -> None:
    agents = {
        "busy": f"sofia/external/busy@127.0.0.1:{sipp.AGENT_PORTS['busy']}",
        "silent": f"sofia/external/silent@127.0.0.1:{sipp.AGENT_PORTS['no-answer']}",
        "good": f"sofia/external/good@127.0.0.1:{sipp.AGENT_PORTS['answer']}",
    }
    running = Running(rig.config(tmp_path, agents, ring_timeout_s=2, strategy="linear"))
    try:
        running.ready("busy", "silent")
        rig.parties.call(calls=1, cps=1, talk_s=12.0)
        eventually("both offers to fail", lambda: len([leg for leg in rig.timeline.leg_gone]) >= 2)
        running.ready("good")
        _all_gone(rig, 1)
        (record,) = running.records
        outcomes = {o.agent_id: o.result.value for o in record.offers if o.result is not None}
        assert outcomes.get("busy") == "busy" and outcomes.get("silent") == "no-answer"
        assert outcomes.get("good") == "answered" and record.disposition.value == "answered"
        assert rig.channels() == 0
    finally:
        running.stop()


def test_a_caller_who_gives_up_is_abandoned_not_dropped(rig: Rig, tmp_path: Path) -> None:
    running = Running(rig.config(tmp_path, _agents(1)))
    try:
        rig.parties.call(calls=1, cps=1, talk_s=2.0)  # nobody is logged in
        _all_gone(rig, 1)
        assert list(rig.timeline.caller_gone.values()) == ["recv_bye"]
        eventually("the record", lambda: running.records)
        assert running.records[0].disposition.value == "abandoned"
        assert rig.channels() == 0
    finally:
        running.stop()


def test_overflow_reaches_the_shipped_voicemail_extension(rig: Rig, tmp_path: Path) -> None:
    running = Running(rig.config(tmp_path, _agents(1), max_wait_s=1, overflow={"kind": "extension", "target": "7999"}))
    try:
        rig.parties.call(calls=1, cps=1, talk_s=4.0)
        (caller,) = eventually("the caller", lambda: list(rig.timeline.parked))
        eventually("voicemail to run", lambda: "voicemail" in rig.timeline.executed.get(caller, []))
        eventually("the record", lambda: running.records)
        assert running.records[0].disposition.value == "overflowed"
        _all_gone(rig, 1)
    finally:
        running.stop()


def test_callers_whose_number_is_not_digits_reach_an_agent(rig: Rig, tmp_path: Path) -> None:
    numbers = ["anonymous", "caller1", "1555-123-0001"]
    running = Running(rig.config(tmp_path, _agents(3)))
    try:
        running.ready(*_agents(3))
        rig.parties.call(calls=3, cps=1, talk_s=3.0, numbers=numbers)
        _all_gone(rig, 3)
        assert len(rig.timeline.bridged) == 3
        eventually("the records", lambda: len(running.records) == 3)
        assert sorted(r.caller_number or "" for r in running.records) == sorted(numbers)
        assert {r.disposition.value for r in running.records} == {"answered"}
    finally:
        running.stop()


def test_an_event_socket_reload_with_calls_up_loses_nothing(rig: Rig, tmp_path: Path) -> None:
    running = Running(rig.config(tmp_path, _agents(3)))
    try:
        running.ready(*_agents(3))
        rig.parties.call(calls=3, cps=2, talk_s=10.0)
        eventually("three bridges", lambda: len(rig.timeline.bridged) == 3)
        connects = rig.observer.connects
        rig.observer.send_only("bgapi reload mod_event_socket")
        eventually("the observer to reconnect", lambda: rig.observer.connects > connects)
        eventually("ctilink to reconnect", lambda: running.daemon.links[0].conn.connected)
        eventually("the records", lambda: len(running.records) == 3, timeout=40)
        assert {r.disposition.value for r in running.records} == {"answered"}
        assert running.command_failures("uuid_kill") == 0
        gevent.sleep(3.0)
        assert rig.channels() == 0
    finally:
        running.stop()


def test_a_daemon_killed_with_calls_up_takes_them_back_and_records_them(rig: Rig, tmp_path: Path) -> None:
    db = tmp_path / "ctilink.db"
    config = tmp_path / "ctilink.toml"
    config.write_text(daemon_toml(port=rig.port, password=rig.password, db=db, agents=_agents(3), host=rig.host))
    auth = AUTH
    proc, address = start_daemon(config)
    second = None
    try:
        for agent in _agents(3):
            for action in ("login", "ready"):
                assert http.request(address, "POST", f"/v1/agents/{agent}/{action}", headers=auth, json={}).status < 300
        rig.parties.call(calls=3, cps=2, talk_s=12.0)
        eventually("three bridges", lambda: len(rig.timeline.bridged) == 3)

        def sessions() -> int:
            with sqlite3.connect(db) as conn:
                rows = conn.execute("SELECT blob FROM config_overrides WHERE kind = 'agent_session'").fetchall()
            return sum(json.loads(b)["state"] == "on-call" for (b,) in rows)

        eventually("the sessions to be stored", lambda: sessions() == 3)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        second, address = start_daemon(config)

        def on_call() -> bool:
            agents = http.request(address, "GET", "/v1/agents", headers=auth).json()["agents"]
            return sum(a["state"] == "on-call" for a in agents) == 3

        eventually("the calls to be taken back", on_call)
        _all_gone(rig, 3)

        def records() -> list[tuple[str]]:
            with sqlite3.connect(db) as conn:
                return conn.execute("SELECT disposition FROM call_records").fetchall()

        assert eventually("three records", lambda: (r := records()) and len(r) == 3 and r) == [("answered",)] * 3
        assert rig.channels() == 0
    finally:
        stop_daemons(proc, second)


def test_a_freeswitch_restart_with_calls_up_leaves_no_ghost(rig: Rig, tmp_path: Path) -> None:
    running = Running(rig.config(tmp_path, _agents(2)))
    try:
        running.ready(*_agents(2))
        rig.parties.call(calls=2, cps=2, talk_s=30.0)
        eventually("two bridges", lambda: len(rig.timeline.bridged) == 2)
        connects = rig.observer.connects
        rig.observer.send_only("bgapi fsctl shutdown restart")
        eventually("FreeSWITCH to come back", lambda: rig.observer.connects > connects, timeout=90)
        eventually("ctilink to reconnect", lambda: running.daemon.links[0].conn.connected, timeout=30)
        eventually("both calls to end", lambda: len(running.records) == 2)
        snapshot = eventually("a snapshot", lambda: running.daemon.snapshot)
        eventually("no ghost call", lambda: not running.daemon.snapshot.calls)
        assert {a.state.value for a in snapshot.agents} <= {"available", "on-call"}
        eventually("agents free", lambda: {a.state.value for a in running.daemon.snapshot.agents} == {"available"})
        # The restarted node serves a new caller as usual.
        before = len(rig.timeline.bridged)
        rig.parties.call(calls=1, cps=1, talk_s=3.0)
        eventually("the new caller to be bridged", lambda: len(rig.timeline.bridged) > before)
    finally:
        running.stop()


def _dial(running: Running, agent: str, number: str) -> None:
    address = running.daemon.http_address
    assert address is not None
    answer = http.request(address, "POST", f"/v1/agents/{agent}/dial", json={"number": number}, headers=AUTH)
    assert answer.status == 200, answer.body


def _click_to_dial_config(rig: Rig, tmp: Path, customer: str) -> dict[str, Any]:
    config = rig.config(tmp, _agents(1))
    config["calls"] = {"dial_template": f"sofia/external/{{number}}@127.0.0.1:{sipp.AGENT_PORTS[customer]}"}
    return config


def test_click_to_dial_rings_the_agent_then_bridges_the_customer_and_records_it(rig: Rig, tmp_path: Path) -> None:
    running = Running(_click_to_dial_config(rig, tmp_path, "answer"))
    try:
        running.ready("a01")
        _dial(running, "a01", "2025550123")
        eventually("the agent and the customer bridged", lambda: len(rig.timeline.pairs) >= 1)
        (a, b) = rig.timeline.pairs[0]
        assert {rig.timeline.roles.get(a), rig.timeline.roles.get(b)} == {"c2d-agent", "c2d-customer"}
        assert running.daemon.snapshot is not None
        eventually(
            "the agent on the call", lambda: running.daemon.engine.snapshot(0).agent("a01").state.value == "on-call"
        )
        agent_leg = a if rig.timeline.roles[a] == "c2d-agent" else b
        rig.observer.api(f"uuid_kill {agent_leg} NORMAL_CLEARING")  # the agent hangs up at the phone
        eventually("both legs gone", lambda: rig.channels() == 0)
        eventually("the record", lambda: running.records)
        (record,) = running.records
        assert getattr(record, "outcome", None) is not None and record.outcome.value == "answered"  # type: ignore[attr-defined]
        eventually("the agent free", lambda: running.daemon.engine.snapshot(0).agent("a01").state.value == "available")
        assert running.command_failures("uuid_kill") == 0  # FreeSWITCH ended the partner; nothing killed twice
    finally:
        running.stop()


def test_click_to_dial_to_a_busy_customer_hangs_up_the_agent_and_frees_them(rig: Rig, tmp_path: Path) -> None:
    running = Running(_click_to_dial_config(rig, tmp_path, "busy"))
    try:
        running.ready("a01")
        _dial(running, "a01", "2025550123")
        eventually("the customer leg refused", lambda: "USER_BUSY" in rig.timeline.causes.values())
        eventually("the agent's phone hung up", lambda: rig.channels() == 0)
        eventually("the record", lambda: running.records)
        (record,) = running.records
        assert record.outcome.value == "customer-no-answer"  # type: ignore[attr-defined]  # busy: they did not take it
        assert rig.timeline.pairs == []
        eventually("the agent free", lambda: running.daemon.engine.snapshot(0).agent("a01").state.value == "available")
    finally:
        running.stop()
