"""SIGKILL the daemon in the middle of a burst of list changes: every change it acknowledged was committed.

The HTTP API acknowledges a list change only after the store has committed it, so every 2xx the
clients received must be in the database after the kill, and the database must be consistent.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import sys
from pathlib import Path

import gevent
import gevent.event
import gevent.pool
import gevent.subprocess
import pytest

from ctilink.config import load_config
from ctilink.store import SqliteStore
from ctilink.testing import http
from ctilink.testing.fake_switch import FakeSwitch

ROOT = Path(__file__).resolve().parents[1]


def _toml(port: int, db: Path) -> str:
    return f"""
[[nodes]]
name = "fs-crash"
port = {port}
password = "crash-pw"

[http]
listen = "127.0.0.1:0"

[metrics]
enabled = false

[store]
path = "{db}"

[logging]
format = "json"

[api]
tokens = [{{ name = "ops", token = "admin-token-0123456789", role = "admin" }}]

[[queues]]
name = "support"

[[agents]]
id = "1001"
endpoints = ["user/1001"]
"""


@pytest.fixture
def switch():
    srv = FakeSwitch(password="crash-pw", time_scale=0, heartbeat_interval=3600)
    srv.start()
    yield srv
    srv.stop()


def _http_address(proc: gevent.subprocess.Popen) -> tuple[str, int]:
    with gevent.Timeout(30):
        while True:
            line = proc.stderr.readline()
            assert line, "daemon exited before it started"
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("event") == "daemon_started":
                host, port = record["http"]
                return host, int(port)


def test_every_acknowledged_list_change_was_committed_before_a_sigkill(switch: FakeSwitch, tmp_path: Path) -> None:
    db = tmp_path / "ctilink.db"
    config = tmp_path / "ctilink.toml"
    config.write_text(_toml(switch.port, db))
    load_config(config)  # the test's own configuration is valid
    proc = gevent.subprocess.Popen(
        [sys.executable, "-m", "ctilink.cli", "run", "-c", str(config)],
        stderr=gevent.subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    acknowledged: list[str] = []
    try:
        address = _http_address(proc)
        auth = {"Authorization": "Bearer admin-token-0123456789"}

        def add(i: int) -> None:
            number = f"+1555300{i:04d}"
            try:
                resp = http.request(
                    address,
                    "POST",
                    "/v1/lists/blacklist/entries",
                    headers=auth,
                    json={"number": number, "reason": f"burst {i}"},
                    timeout=10,
                )
            except OSError:
                return  # the daemon died mid-request: not acknowledged
            if resp.status == 201 and resp.json().get("durable") is True:
                acknowledged.append(number)
                if len(acknowledged) == 150:
                    enough.set()

        enough = gevent.event.Event()

        def killer() -> None:
            enough.wait()
            proc.send_signal(signal.SIGKILL)  # in the middle of the burst: 8 requests are in flight

        gevent.spawn(killer)
        pool = gevent.pool.Pool(8)
        for i in range(2000):
            if enough.is_set():
                break
            pool.spawn(add, i)  # blocks while 8 are in flight
        enough.set()  # kill in any case, so a failing run ends instead of hanging
        pool.join(timeout=30)
        proc.stderr.read()  # to EOF: the process is gone
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert len(acknowledged) >= 150
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    store = SqliteStore(str(db))
    try:
        stored = {e.number for e in store.load_list_entries()}
    finally:
        store.close()
    missing = [n for n in acknowledged if n not in stored]
    assert missing == [], f"{len(missing)} acknowledged list changes were lost"
