"""The daemon under load: CPU and RSS at 1,000 concurrent calls and 500 agents, and what a caller
feels: the time from the switch writing a call's CHANNEL_PARK to the switch reading the agent leg's
``originate``.

Two processes on loopback (real sockets, real ESL wire format):
- this one runs the fake FreeSWITCH (``ctilink.testing.fake_switch``), places the calls and
  timestamps, on the switch side, each CHANNEL_PARK it writes and each command it reads;
- a child runs the ctilink daemon (``Daemon.live``: ESL connection, engine greenlet, store) whose
  CPU and RSS are read from /proc.

Phase 1 (light load): probe calls one at a time to a queue with free agents.
Phase 2 (loaded): 1,000 concurrent calls in a second queue served by 480 agents (so about 480 are
talking and 520 waiting, with calls ending and arriving all the time), while probe calls keep
arriving at the probe queue's 20 free agents; latency, CPU and RSS are measured over that window.

Run:  python bench/daemon_load.py        (about 2 minutes)
Final line: {"calls": .., "agents": .., "cpu_percent": .., "rss_mb": .., "park_to_originate_p50_ms": ..,
             "park_to_originate_p99_ms": .., "park_to_originate_p99_ms_loaded": ..}
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LOAD_AGENTS = 480
PROBE_AGENTS = 20
CONCURRENT = 1000
LIGHT_PROBES = 300
LOADED_WINDOW_S = 40.0
PROBE_RATE = 5.0  # probe calls per second during the loaded window
PASSWORD = "bench-secret"


def _config(port: int, db: str) -> str:
    agents = []
    for i in range(LOAD_AGENTS):
        agents.append(f'[[agents]]\nid = "l{i}"\nendpoints = ["user/l{i}"]\nskills = {{ load = 5 }}\n')
    for i in range(PROBE_AGENTS):
        agents.append(f'[[agents]]\nid = "p{i}"\nendpoints = ["user/p{i}"]\nskills = {{ probe = 5 }}\n')
    return f"""
[[nodes]]
name = "bench"
host = "127.0.0.1"
port = {port}
password = "{PASSWORD}"

[http]
enabled = false

[metrics]
enabled = false

[store]
path = "{db}"

[logging]
level = "warning"
format = "json"

[[queues]]
name = "load"
required_skills = {{ load = 1 }}
wrap_up_s = 0
ring_timeout_s = 30

[[queues]]
name = "probe"
required_skills = {{ probe = 1 }}
wrap_up_s = 0
ring_timeout_s = 30

""" + "\n".join(agents)


# -- the child: the daemon ------------------------------------------------------------------------


def run_daemon(config_path: str) -> None:
    from gevent import monkey

    monkey.patch_all(thread=False, subprocess=False)
    import gevent

    from ctilink.config import load_config
    from ctilink.core import requests as rq
    from ctilink.logs import configure_logging
    from ctilink.service.daemon import Daemon, run_until_signal

    config = load_config(config_path)
    configure_logging(fmt="json", level="warning")
    daemon = Daemon.live(config)

    def login_all() -> None:
        daemon.links[0].conn.wait_connected(30)
        results = []
        for agent in config.agents:
            results.append(daemon.submit(rq.AgentLogin(agent.id)))
            results.append(daemon.submit(rq.AgentReady(agent.id)))
        for r in results:
            r.get(timeout=30)
        print("READY", flush=True)

    gevent.spawn_later(0, login_all)
    run_until_signal(daemon)


# -- the parent: the switch and the callers -------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    # Not monkey-patched: the fake switch is gevent-native, and a patched parent's fork/exec of the
    # daemon child stalls the hub (seen here).
    import gevent
    import gevent.event

    from ctilink.testing.fake_switch import Endpoint, FakeSwitch

    rng = random.Random(7)
    switch = FakeSwitch(password=PASSWORD, heartbeat_interval=20.0, time_scale=1.0)
    switch.set_endpoint("user/l", Endpoint("answer", delay_s=0.5))
    switch.set_endpoint("user/p", Endpoint("answer", delay_s=0.2))
    switch.start()

    parked_at: dict[str, float] = {}  # caller uuid -> when its CHANNEL_PARK was written
    call_of: dict[str, str] = {}  # ctilink_call_id -> caller uuid
    latencies: dict[str, float] = {}  # caller uuid -> park-to-originate seconds
    arrived: dict[str, gevent.event.Event] = {}
    setvar = re.compile(r"^api uuid_setvar (\S+) ctilink_call_id (\S+)$")
    originate = re.compile(r"ctilink_call_id=([0-9a-fA-F-]+)")

    def on_command(line: str) -> None:
        now = time.perf_counter()
        if line.startswith("api uuid_setvar"):
            m = setvar.match(line)
            if m:
                call_of[m.group(2)] = m.group(1)
        elif line.startswith("bgapi originate"):
            m = originate.search(line)
            uuid = call_of.get(m.group(1)) if m else None
            if uuid is not None and uuid in parked_at and uuid not in latencies:
                latencies[uuid] = now - parked_at[uuid]
                event = arrived.get(uuid)
                if event is not None:
                    event.set()

    switch.on_command.append(on_command)

    def place(queue: str, number: str) -> str:
        # inbound_call writes CHANNEL_CREATE then CHANNEL_PARK; stamp the park as it is written.
        t0 = time.perf_counter()
        uuid = switch.inbound_call(number, "Bench Caller", "7000", {"ctilink_queue": queue})
        parked_at[uuid] = t0
        return uuid

    tmp = tempfile.TemporaryDirectory(prefix="ctilink-bench-")
    config_path = Path(tmp.name) / "ctilink.toml"
    config_path.write_text(_config(switch.port, str(Path(tmp.name) / "ctilink.db")))
    child = subprocess.Popen(
        [sys.executable, __file__, "--daemon", str(config_path)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    gevent.get_hub().threadpool.spawn(child.stdout.readline).get(timeout=120)

    def probe(queue: str = "probe") -> float | None:
        uuid = place(queue, f"1555999{rng.randrange(10_000):04d}")
        done = arrived.setdefault(uuid, gevent.event.Event())
        if uuid in latencies:
            done.set()
        ok = done.wait(10)
        gevent.spawn_later(0.3, switch.hangup, uuid)  # the probe caller leaves after the agent rang
        return latencies.get(uuid) if ok else None

    # Phase 1: light load.
    light: list[float] = []
    for _ in range(LIGHT_PROBES):
        got = probe()
        if got is not None:
            light.append(got)
        gevent.sleep(0.05)

    # Phase 2: ramp to 1,000 concurrent calls that end and are replaced all the time.
    live: set[str] = set()

    def load_call() -> None:
        uuid = place("load", f"1555124{rng.randrange(10_000):04d}")
        live.add(uuid)

        def leave() -> None:
            live.discard(uuid)
            switch.hangup(uuid)
            load_call()  # a new caller takes its place: concurrency stays at CONCURRENT

        gevent.spawn_later(rng.uniform(20.0, 60.0), leave)

    for i in range(CONCURRENT):
        load_call()
        if i % 50 == 49:
            gevent.sleep(0.05)
    gevent.sleep(10.0)  # let the queue reach its steady mix of talking and waiting callers

    loaded: list[float] = []
    cpu0, wall0 = _cpu_seconds(child.pid), time.monotonic()
    probes: list[gevent.Greenlet] = []
    while time.monotonic() - wall0 < LOADED_WINDOW_S:
        probes.append(gevent.spawn(probe))
        gevent.sleep(1.0 / PROBE_RATE)
    gevent.joinall(probes, timeout=15)
    cpu1, wall1 = _cpu_seconds(child.pid), time.monotonic()
    rss = _rss_mb(child.pid)
    concurrent_now = len(live)
    loaded = [g.value for g in probes if g.value is not None]

    child.terminate()
    child.wait(30)
    switch.stop()
    tmp.cleanup()
    print(
        json.dumps(
            {
                "light_probes": len(light),
                "loaded_probes": len(loaded),
                "probes_lost": len(probes) - len(loaded),
                "park_to_originate_p50_ms_loaded": round(_pct(loaded, 0.5) * 1000, 2) if loaded else None,
                "concurrent_calls_at_end": concurrent_now,
            }
        ),
        file=sys.stderr,
    )
    print(
        json.dumps(
            {
                "calls": CONCURRENT,
                "agents": LOAD_AGENTS + PROBE_AGENTS,
                "cpu_percent": round(100 * (cpu1 - cpu0) / (wall1 - wall0), 1),
                "rss_mb": round(rss, 1),
                "park_to_originate_p50_ms": round(_pct(light, 0.5) * 1000, 2),
                "park_to_originate_p99_ms": round(_pct(light, 0.99) * 1000, 2),
                "park_to_originate_p99_ms_loaded": round(_pct(loaded, 0.99) * 1000, 2) if loaded else None,
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--daemon", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.daemon:
        run_daemon(args.daemon)
    else:
        from bench_lock import one_benchmark_at_a_time

        with one_benchmark_at_a_time():
            main()
