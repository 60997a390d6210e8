"""Screen pop latency: agent-offer decision -> (a) SSE event received, (b) webhook received.

Runs the daemon on the simulated switch (50 agents, ~90 % load, ``--speed`` times real time) with
50 SSE clients (one per agent, real sockets) and a webhook endpoint (ScreenPop events only) to a
local receiver, all through the durable outbox in a SQLite store. The CRM lookup is an in-process
callable answering at once (the "cached" case: no CRM round trip).

    .venv/bin/python bench/screenpop_latency.py --seconds 20

Last line: {"sse_p50_ms", "sse_p99_ms", "webhook_p50_ms", "webhook_p99_ms", "pops"}.
Targets: SSE p99 < 50 ms, webhook p99 < 100 ms.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import gevent
import gevent.pywsgi
import gevent.socket

from ctilink.config import parse_config
from ctilink.core import notifications as nt
from ctilink.service.demo import build_demo, demo_config, simulated_daemon
from ctilink.store import SqliteStore

TOKEN = "bench-admin-token-0123456789"
AGENTS = 50


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--speed", type=float, default=20.0)
    args = parser.parse_args()

    offered_at: dict[tuple[str, str], float] = {}
    sse_ms: list[float] = []
    hook_ms: list[float] = []

    def receiver(environ: dict[str, Any], start: Any) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        now = time.perf_counter()
        event = json.loads(body)
        data = event["data"]
        if event["type"] == "ScreenPop" and data["phase"] == "offered":
            t0 = offered_at.get((data["call_id"], data["agent_id"]))
            if t0 is not None:
                hook_ms.append(now - t0)
        start("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    hook_server = gevent.pywsgi.WSGIServer(("127.0.0.1", 0), receiver, log=None, error_log=None)
    hook_server.start()

    base = demo_config(AGENTS, http="127.0.0.1:0", metrics="127.0.0.1:0").model_dump(mode="python")
    base.update(
        {
            "api": {"tokens": [{"name": "bench", "token": TOKEN, "role": "admin"}]},
            "webhooks": {
                "endpoints": [
                    {
                        "name": "crm",
                        "url": f"http://127.0.0.1:{hook_server.server_port}/hook",
                        "secret": "bench-secret",
                        "events": ["ScreenPop"],
                    }
                ]
            },
            "store": {"path": "unused.db"},  # the shipped default: synchronous=FULL
        }
    )
    base["metrics"]["enabled"] = False
    config = parse_config(json.loads(json.dumps(base, default=str)), "<bench>")
    sim = build_demo(config, seed=7, load=0.9)
    tmp = tempfile.mkdtemp(prefix="ctilink-bench-")
    store = SqliteStore(str(Path(tmp) / "bench.db"), synchronous=config.store.synchronous)
    daemon = simulated_daemon(config, sim, speed=args.speed, store=store)
    daemon.crm.set_lookup(lambda number: {"id": f"C-{number}", "name": "Known Customer"})
    notify = daemon.notify

    def timed_notify(note: object, now: float) -> None:
        if isinstance(note, nt.CallOffered):
            offered_at[(note.call_id, note.agent_id)] = time.perf_counter()
        notify(note, now)

    daemon.notify = timed_notify  # type: ignore[method-assign]
    sim.on_notification[:] = [lambda note: daemon.notify(note, sim.now)]
    daemon.start()
    assert daemon.http_address is not None

    def sse_client(agent_id: str) -> None:
        sock = gevent.socket.create_connection(daemon.http_address, timeout=None)
        sock.sendall(f"GET /v1/agents/{agent_id}/events HTTP/1.0\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
        stream = sock.makefile("rb")
        kind = ""
        for line in stream:
            if line.startswith(b"event: "):
                kind = line[7:].strip().decode()
            elif line.startswith(b"data: ") and kind == "ScreenPop":
                now = time.perf_counter()
                data = json.loads(line[6:])["data"]
                if data["phase"] == "offered":
                    t0 = offered_at.get((data["call_id"], data["agent_id"]))
                    if t0 is not None:
                        sse_ms.append(now - t0)

    clients = [gevent.spawn(sse_client, a.id) for a in config.agents[:AGENTS]]
    gevent.sleep(args.seconds)
    daemon.stop()
    gevent.killall(clients, timeout=2)
    hook_server.stop(timeout=1)
    print(
        f"offers={len(offered_at)} sse_samples={len(sse_ms)} webhook_samples={len(hook_ms)} "
        f"sim_seconds={sim.now:.0f} speed={args.speed}"
    )
    print(
        json.dumps(
            {
                "sse_p50_ms": _pct(sse_ms, 0.50),
                "sse_p99_ms": _pct(sse_ms, 0.99),
                "webhook_p50_ms": _pct(hook_ms, 0.50),
                "webhook_p99_ms": _pct(hook_ms, 0.99),
                "pops": daemon.screenpop.pops,
            }
        )
    )


if __name__ == "__main__":
    from bench_lock import one_benchmark_at_a_time

    with one_benchmark_at_a_time():
        main()
