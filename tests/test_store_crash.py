"""Durability: SIGKILL a real writer process mid-burst; every acknowledged write must be there."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ctilink.store import SqliteStore

ROOT = Path(__file__).resolve().parent.parent
ACKS_BEFORE_KILL = 400


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("round_", [1, 2])
def test_every_acknowledged_write_was_committed_before_a_sigkill(tmp_path: Path, round_: int) -> None:
    db = tmp_path / "crash.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    child = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "support" / "crashprobe.py"), str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    assert child.stdout is not None
    acked: list[str] = []
    try:
        assert child.stdout.readline() == b"ready\n", child.stderr.read().decode() if child.stderr else ""
        # Kill a different distance into the burst each round, while writes are still flowing.
        target = ACKS_BEFORE_KILL * round_
        while len(acked) < target:
            line = child.stdout.readline()
            assert line, f"probe exited early: {child.stderr.read().decode() if child.stderr else ''}"
            acked.append(line.decode())
        os.kill(child.pid, signal.SIGKILL)
        # Lines already in the pipe were printed after their commit: they count too.
        acked.extend(line.decode() for line in child.stdout.read().splitlines(keepends=True))
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        child.stdout.close()
        if child.stderr:
            child.stderr.close()
    assert child.returncode == -signal.SIGKILL  # it was still running: killed mid-burst

    complete = [line.split() for line in acked if line.endswith("\n")]
    assert all(parts[0] == "ack" for parts in complete), [p for p in complete if p[0] != "ack"][:3]
    lists = {p[2] for p in complete if p[1] == "list"}
    calls = {p[2] for p in complete if p[1] == "call"}
    assert len(lists) + len(calls) >= ACKS_BEFORE_KILL * round_

    with SqliteStore(db) as store:
        assert store.integrity_check() == "ok"
        stored_numbers = {e.number for e in store.load_list_entries()}
        stored_calls = {r.call_id for r in store.find_call_records(limit=10_000_000)}
    assert lists <= stored_numbers, sorted(lists - stored_numbers)[:5]
    assert calls <= stored_calls, sorted(calls - stored_calls)[:5]
