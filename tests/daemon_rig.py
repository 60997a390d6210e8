"""What the daemon tests over real sockets share: a fake FreeSWITCH and a configuration for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ctilink.config import Config, parse_config
from ctilink.testing.fake_switch import FakeSwitch

PASSWORD = "pw-test"


def running_switch() -> Iterator[FakeSwitch]:
    """A started fake switch with instant rings and no heartbeats (for a pytest fixture)."""
    srv = FakeSwitch(password=PASSWORD, time_scale=0, heartbeat_interval=3600)
    srv.start()
    yield srv
    srv.stop()


def daemon_config(srv: FakeSwitch, tmp_path: Path, agent_ids: list[str]) -> Config:
    """One node (``srv``), the ``support`` queue without wrap-up, and these agents on it."""
    return parse_config(
        {
            "nodes": [{"name": "fs-test", "host": srv.host, "port": srv.port, "password": PASSWORD}],
            "http": {"listen": "127.0.0.1:0"},
            "metrics": {"listen": "127.0.0.1:0"},
            "store": {"path": str(tmp_path / "ctilink.db")},
            "queues": [{"name": "support", "required_skills": {"support": 3}, "wrap_up_s": 0}],
            "agents": [{"id": a, "endpoints": [f"user/{a}"], "skills": {"support": 5}} for a in agent_ids],
        }
    )
