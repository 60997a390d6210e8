"""Real redis-server and redis-sentinel processes for the store tests (no mocks, no fakes).

Rules:
- Each process listens on a free loopback port, keeps its files in its own temporary folder,
  persists nothing (``--save "" --appendonly no``) and is killed by whoever started it.
- A missing binary fails the test with the command that installs it: CI must run these tests.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

INSTALL_HINT = "run ./scripts/test.sh (it installs the redis-server and redis-sentinel packages)"


def binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: {INSTALL_HINT}", pytrace=False)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: object, timeout: float, what: str) -> None:
    """Poll ``check()`` until it is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def start_server(folder: Path, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    """A redis-server on a free loopback port, answering PING."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    args = [binary("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    args += ["--dir", str(folder), "--daemonize", "no", *extra]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port, socket_timeout=1)
    wait_until(client.ping, 10, f"redis-server on port {port}")
    client.close()
    return proc, port


def start_sentinel(folder: Path, master_port: int, name: str) -> tuple[subprocess.Popen[bytes], int]:
    """A sentinel watching the master on ``master_port`` with short failure timeouts."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = folder / "sentinel.conf"
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndaemonize no\ndir {folder}\n"
        f"sentinel monitor {name} 127.0.0.1 {master_port} 2\n"
        f"sentinel down-after-milliseconds {name} 500\n"
        f"sentinel failover-timeout {name} 2000\n"
        f"sentinel parallel-syncs {name} 1\n"
    )
    proc = subprocess.Popen([binary("redis-sentinel"), str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port, socket_timeout=1)
    wait_until(client.ping, 10, f"redis-sentinel on port {port}")
    client.close()
    return proc, port


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)
