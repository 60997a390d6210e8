"""`ctilink run` as a real process: SIGHUP reloads (or refuses a bad file and keeps running),
SIGTERM stops cleanly without touching live calls."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import gevent
import gevent.subprocess
import pytest

from ctilink.testing.fake_switch import FakeSwitch

ROOT = Path(__file__).resolve().parents[1]


def _toml(port: int, db: Path, extra_queue: bool = False) -> str:
    text = f"""
[[nodes]]
name = "fs-sig"
host = "127.0.0.1"
port = {port}
password = "sig-pw"

[http]
listen = "127.0.0.1:0"

[metrics]
enabled = false

[store]
path = "{db}"

[logging]
format = "json"
level = "info"

[[queues]]
name = "support"

[[agents]]
id = "1001"
endpoints = ["user/1001"]
skills = {{ support = 5 }}
"""
    if extra_queue:
        text += '\n[[queues]]\nname = "sales"\n'
    return text


class LogReader:
    """Reads the daemon's JSON log lines cooperatively, waiting for named events."""

    def __init__(self, proc: gevent.subprocess.Popen) -> None:
        self.proc = proc
        self.events: list[dict[str, object]] = []

    def wait_for(self, event: str, timeout: float = 20.0) -> dict[str, object]:
        with gevent.Timeout(timeout, TimeoutError(f"no {event!r} in {[e.get('event') for e in self.events]}")):
            for seen in self.events:
                if seen.get("event") == event:
                    return seen
            while True:
                line = self.proc.stderr.readline()
                if not line:
                    raise AssertionError(f"daemon exited before {event!r}: {self.events}")
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                self.events.append(record)
                if record.get("event") == event:
                    return record


@pytest.fixture
def switch():
    srv = FakeSwitch(password="sig-pw", time_scale=0, heartbeat_interval=3600)
    srv.start()
    yield srv
    srv.stop()


def test_reload_and_graceful_stop(switch: FakeSwitch, tmp_path: Path) -> None:
    config = tmp_path / "ctilink.toml"
    config.write_text(_toml(switch.port, tmp_path / "ctilink.db"))
    proc = gevent.subprocess.Popen(
        [sys.executable, "-m", "ctilink.cli", "run", "-c", str(config)],
        stderr=gevent.subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    logs = LogReader(proc)
    try:
        logs.wait_for("daemon_started")
        logs.wait_for("esl_connected")
        # A caller waits in the queue (no agent logged in): a live call the daemon must leave up.
        caller = switch.inbound_call("15551230001", "Alice", "7000", {"ctilink_queue": "support"})
        switch.wait_for_command(lambda t: t.startswith("api uuid_broadcast") and caller in t, timeout=10)

        config.write_text("[[queues]\nthis is not toml")
        proc.send_signal(signal.SIGHUP)
        refused = logs.wait_for("config_reload_refused")
        assert "TOML syntax" in str(refused["error"])
        assert proc.poll() is None, "a bad configuration must not stop the daemon"

        config.write_text(_toml(switch.port, tmp_path / "ctilink.db", extra_queue=True))
        proc.send_signal(signal.SIGHUP)
        reloaded = logs.wait_for("config_reloaded")
        assert reloaded["queues"] == 2

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        logs.wait_for("daemon_stopped")
        assert not any(t.startswith("api uuid_kill") for t in switch.commands), "stopping must not hang up calls"
        assert caller in switch.channels
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
