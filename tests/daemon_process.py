"""``ctilink run`` as a real process for the tests that kill it: its TOML and its start."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
import gevent.subprocess

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def eventually(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Wait for a condition only another process can make true (its store, its engine, the switch)."""
    with gevent.Timeout(timeout, AssertionError(f"timed out waiting for {what}")):
        while True:
            value = check()
            if value:
                return value
            gevent.sleep(0.02)


def daemon_toml(*, port: int, password: str, db: Path, agents: dict[str, str], host: str = "127.0.0.1") -> str:
    """One node, the HTTP API with an admin token, the ``support`` queue without wrap-up, ``agents``
    (id -> endpoint)."""
    rows = "".join(f'\n[[agents]]\nid = "{a}"\nendpoints = ["{e}"]\n' for a, e in agents.items())
    return f"""
[[nodes]]
name = "fs"
host = "{host}"
port = {port}
password = "{password}"

[http]
listen = "127.0.0.1:0"

[metrics]
enabled = false

[store]
path = "{db}"

[logging]
format = "json"

[api]
tokens = [{{ name = "ops", token = "{TOKEN}", role = "admin" }}]

[[queues]]
name = "support"
wrap_up_s = 0
{rows}"""


def start_daemon(config: Path) -> tuple[gevent.subprocess.Popen, tuple[str, int]]:
    """Start ``ctilink run -c config``; return it and its HTTP address once it says it started."""
    proc = gevent.subprocess.Popen(
        [sys.executable, "-m", "ctilink.cli", "run", "-c", str(config)],
        stderr=gevent.subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    with gevent.Timeout(30):
        while True:
            line = proc.stderr.readline()
            assert line, "daemon exited before it started"
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("event") == "daemon_started":
                gevent.spawn(_drain, proc)  # keep its log pipe from filling up
                host, port = record["http"]
                return proc, (host, int(port))


def _drain(proc: gevent.subprocess.Popen) -> None:
    for _ in proc.stderr:
        pass


def stop_daemons(*procs: gevent.subprocess.Popen | None) -> None:
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
