"""ACD scale benchmark: the engine's decision time at 100 and 10,000 agents, and its throughput
through the simulated switch.

What is measured (wall-clock, ``time.perf_counter_ns`` around the engine call only):
- *agent becomes available -> offer*: an ``engine.tick`` (wrap-up or busy/no-answer pause over) or an
  ``EndWrapUp`` / ``AgentReady`` request whose effects contain an ``Originate``;
- *call arrives -> offer*: ``engine.handle(ChannelParked)`` of a new call whose effects contain an
  ``Originate`` (the whole arrival: screening, answer, music, routing and the offer).
Both are pooled into one latency distribution per scale (p50/p99), and also printed separately.

The world: 200 skills (20 languages, 50 products, 130 others), 50 queues each needing one language
and one product (strategies mixed: longest-idle, fewest-calls, highest-skill-level); agents hold 6
languages, about half the products of their department and 10 other skills (~30 skills each).
Two departments: queues 0-24 are overloaded (offered load 1.25x their agents, so calls wait, about
agents/10 of them, and every agent freed is offered one at once); queues 25-49 run at 0.7 (arriving
calls usually find an agent). Calls are Poisson, talk is log-normal (median 60 s), patience
exponential (mean 60 s), wrap-up 5 s, a few no-answers and busies. Warm-up, then measurement until
both kinds of decision have ``--samples`` samples (or the virtual-time cap).

*events_per_s*: events delivered to the engine per wall-clock second during the 10,000-agent
measurement, sim switch included (the sim's own cost is in the figure, so the engine's share is
higher; it is printed too). *rss_mb*: peak resident set size of the process.

Also over *every* engine input (``p50_us_all_10000`` / ``p99_us_all_10000``: every handle and
tick of the measured stretch, whatever it produced), and the engine alone
(``engine_inputs_per_s``): the inputs the simulator fed it, recorded, replayed on a fresh engine
with the same configuration, rng and ids (so the same decisions), no simulator in the loop; only
the measured stretch is timed. That recording run is a second run of the 10,000-agent world, after
the figures above and ``rss_mb`` are taken, so the recording costs none of them.

Run: ``.venv/bin/python bench/acd_scale.py``. The last line is JSON.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import pstats
import random
import resource
import sys
import time
import uuid as uuidlib
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ctilink.commands import Originate
from ctilink.core import AgentProfile, Engine, EngineConfig, QueueConfig
from ctilink.core import requests as rq
from ctilink.events import ChannelParked
from ctilink.sim import AgentBehaviour, CallerBehaviour, Exponential, LogNormal, SimulatedSwitch, Uniform

LANGS = [f"lang{i:02d}" for i in range(20)]
PRODUCTS = [f"prod{i:02d}" for i in range(50)]
OTHER = [f"misc{i:03d}" for i in range(130)]
SKILLS = LANGS + PRODUCTS + OTHER
N_QUEUES = 50
STRATEGIES = ["longest-idle-agent", "longest-idle-agent", "longest-idle-agent", "fewest-calls", "highest-skill-level"]
TALK = LogNormal(60.0, 0.5)
WRAP_S = 5.0
AHT_S = TALK.mean + WRAP_S + 2.0


def _gc_counts() -> list[int]:
    return [g["collections"] for g in gc.get_stats()]


class TimedEngine:
    """Wraps the real engine: times each call and classifies the decisions that led to an offer."""

    def __init__(self, engine: Engine, record: bool = False) -> None:
        self.engine = engine
        self.record = record
        self.measuring = False
        self.avail_ns: list[int] = []
        self.arrival_ns: list[int] = []
        self.arrival_all_ns: list[int] = []
        self.all_ns: list[int] = []  # every measured engine call, whatever it produced
        # Every input in order, (item, now) or (None, now) for a tick, to replay on the engine alone.
        self.inputs: list[tuple[Any, float]] = []
        self.measure_from = 0
        self.engine_ns = 0
        self.calls = 0
        self.slowest: list[tuple[int, str]] = []  # (ns, input kind) of the slowest engine calls
        self.gc_during_slowest = 0

    def _note_slow(self, dt: int, kind: str, before: list[int]) -> None:
        if len(self.slowest) < 10 or dt > self.slowest[-1][0]:
            # Which garbage-collector generation ran inside the call, if any: big outliers are GC.
            after = _gc_counts()
            ran = [g for g in range(3) if after[g] != before[g]]
            self.slowest.append((dt, kind + (f" +gc{max(ran)}" if ran else "")))
            self.slowest.sort(reverse=True)
            del self.slowest[10:]

    def handle(self, item: Any, now: float) -> Any:
        if self.record:
            self.inputs.append((item, now))
        gcs = _gc_counts() if self.measuring else []
        t0 = time.perf_counter_ns()
        eff = self.engine.handle(item, now)
        dt = time.perf_counter_ns() - t0
        if self.measuring:
            self.engine_ns += dt
            self.calls += 1
            self.all_ns.append(dt)
            self._note_slow(dt, type(item).__name__, gcs)
            kind = type(item)
            if kind is ChannelParked and not item.variables.get("ctilink_call_id"):
                self.arrival_all_ns.append(dt)
                if any(type(c) is Originate for c in eff.commands):
                    self.arrival_ns.append(dt)
            elif kind in (rq.EndWrapUp, rq.AgentReady) and any(type(c) is Originate for c in eff.commands):
                self.avail_ns.append(dt)
        return eff

    def tick(self, now: float) -> Any:
        if self.record:
            self.inputs.append((None, now))
        gcs = _gc_counts() if self.measuring else []
        t0 = time.perf_counter_ns()
        eff = self.engine.tick(now)
        dt = time.perf_counter_ns() - t0
        if self.measuring:
            self.engine_ns += dt
            self.calls += 1
            self.all_ns.append(dt)
            self._note_slow(dt, "tick", gcs)
            if any(type(c) is Originate for c in eff.commands):
                self.avail_ns.append(dt)
        return eff

    def next_deadline(self) -> float | None:
        return self.engine.next_deadline()


def new_engine(n_agents: int, seed: int) -> Engine:
    config = build_config(n_agents, random.Random(seed))
    ids = random.Random(f"ids:{seed}")
    return Engine(
        config, rng=random.Random(seed), id_factory=lambda: str(uuidlib.UUID(int=ids.getrandbits(128), version=4))
    )


def replay_engine_alone(n_agents: int, seed: int, inputs: list[tuple[Any, float]], measure_from: int) -> float:
    """Inputs per second of the engine alone: the recorded inputs replayed on a fresh engine (same
    config, rng and ids, so the same decisions), timing only the measured stretch."""
    engine = new_engine(n_agents, seed)
    handle, tick = engine.handle, engine.tick
    for item, now in inputs[:measure_from]:
        handle(item, now) if item is not None else tick(now)
    gc.collect()
    measured = inputs[measure_from:]
    t0 = time.perf_counter()
    for item, now in measured:
        if item is not None:
            handle(item, now)
        else:
            tick(now)
    return len(measured) / (time.perf_counter() - t0)


def build_config(n_agents: int, rng: random.Random) -> EngineConfig:
    queues = []
    for i in range(N_QUEUES):
        queues.append(
            QueueConfig(
                name=f"q{i:02d}",
                required_skills={LANGS[i % len(LANGS)]: rng.randint(1, 3), PRODUCTS[i]: rng.randint(1, 3)},
                strategy=STRATEGIES[i % len(STRATEGIES)],
                ring_timeout_s=15,
                wrap_up_s=WRAP_S,
            )
        )
    agents = []
    for n in range(n_agents):
        dept = n % 2
        products = PRODUCTS[25 * dept : 25 * dept + 25]
        skills = {s: rng.randint(1, 10) for s in rng.sample(LANGS, 6)}
        skills.update({s: rng.randint(1, 10) for s in products if rng.random() < 0.5})
        skills.update({s: rng.randint(1, 10) for s in rng.sample(OTHER, 10)})
        agents.append(AgentProfile(id=f"ag{n:05d}", endpoints=[f"sofia/internal/ag{n:05d}@10.0.0.1"], skills=skills))
    return EngineConfig(queues=queues, agents=agents, skills=SKILLS)


def waiting_calls(engine: Engine) -> int:
    return sum(len(q.waiting) for q in engine.snapshot().queues)


def percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[k] / 1000.0  # microseconds


def run_scale(
    n_agents: int, *, seed: int, samples: int, warmup_s: float, cap_s: float, profile: bool, record: bool = False
) -> dict[str, Any]:
    t_build = time.perf_counter()
    engine = new_engine(n_agents, seed)
    config = engine.config
    timed = TimedEngine(engine, record=record)
    sim = SimulatedSwitch(timed, seed=seed, keep_notifications=False, keep_commands=False)
    build_s = time.perf_counter() - t_build

    behaviour = AgentBehaviour(
        ring_delay=Uniform(0.5, 3.0),
        p_no_answer=0.02,
        p_busy=0.01,
        p_end_wrap_up_early=0.3,
        wrap_up_time=Uniform(1.0, 4.0),
    )
    sim.add_agents([a.id for a in config.agents], behaviour, login_at=0.0)
    per_dept = n_agents / 2
    mu = per_dept / AHT_S  # calls/s one department can serve
    caller = CallerBehaviour(patience=Exponential(60.0), talk=TALK, hangs_up_first=0.7)
    for i in range(N_QUEUES):
        load = 1.25 if i < 25 else 0.7
        sim.add_caller_stream(f"q{i:02d}", load * mu / 25, caller)

    t0 = time.perf_counter()
    sim.run_until(warmup_s)
    warm_wall = time.perf_counter() - t0
    waiting_start = waiting_calls(engine)

    gc.collect()
    timed.measure_from = len(timed.inputs)
    timed.measuring = True
    events0, requests0 = sim.events_sent, sim.agents.requests_sent
    wall = 0.0
    waits = [waiting_start]
    prof = cProfile.Profile() if profile else None
    while (len(timed.avail_ns) < samples or len(timed.arrival_ns) < samples) and sim.now < warmup_s + cap_s:
        t1 = time.perf_counter()
        if prof:
            prof.enable()
        sim.run_for(10.0)
        if prof:
            prof.disable()
        wall += time.perf_counter() - t1
        waits.append(waiting_calls(engine))
    timed.measuring = False
    inputs = (sim.events_sent - events0) + (sim.agents.requests_sent - requests0)
    pooled = timed.avail_ns + timed.arrival_ns
    states: dict[str, int] = {}
    for view in engine.snapshot().agents:
        states[view.state.value] = states.get(view.state.value, 0) + 1
    result = {
        "agents": n_agents,
        "build_s": round(build_s, 2),
        "warmup_wall_s": round(warm_wall, 1),
        "virtual_s": round(sim.now - warmup_s, 1),
        "waiting_calls_mean": round(sum(waits) / len(waits), 1),
        "waiting_calls_min_max": [min(waits), max(waits)],
        "agent_states": states,
        "n_avail": len(timed.avail_ns),
        "n_arrival": len(timed.arrival_ns),
        "p50_us": percentile(pooled, 0.50),
        "p99_us": percentile(pooled, 0.99),
        "avail_p50_us": percentile(timed.avail_ns, 0.50),
        "avail_p99_us": percentile(timed.avail_ns, 0.99),
        "arrival_p50_us": percentile(timed.arrival_ns, 0.50),
        "arrival_p99_us": percentile(timed.arrival_ns, 0.99),
        "arrival_any_p99_us": percentile(timed.arrival_all_ns, 0.99),
        "all_p50_us": percentile(timed.all_ns, 0.50),
        "all_p99_us": percentile(timed.all_ns, 0.99),
        "max_us": max(pooled) / 1000.0 if pooled else float("nan"),
        "inputs": inputs,
        "events_per_s": inputs / wall if wall else float("nan"),
        "engine_only_events_per_s": timed.calls / (timed.engine_ns / 1e9) if timed.engine_ns else float("nan"),
        "engine_share": (timed.engine_ns / 1e9) / wall if wall else float("nan"),
        "stats": {k: sim.stats.summary()[k] for k in ("offered", "answered", "abandoned", "service_level", "asa_s")},
        "switch_errors_not_stale": sum(1 for e in sim.errors if not e.stale),
        "slowest_us": [(round(ns / 1000), kind) for ns, kind in timed.slowest[:5]],
    }
    if prof:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(25)
        result["profile"] = out.getvalue()
    # Keep the engine alive until here so RSS includes it.
    recorded, measure_from = timed.inputs, timed.measure_from
    del sim, engine, timed
    if record:
        result["engine_inputs_per_s"] = replay_engine_alone(n_agents, seed, recorded, measure_from)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--samples", type=int, default=5000, help="decisions of each kind to measure per scale")
    parser.add_argument("--profile", action="store_true", help="cProfile the 10,000-agent measurement")
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=10_000)
    args = parser.parse_args()

    small = run_scale(args.small, seed=args.seed, samples=args.samples, warmup_s=600.0, cap_s=20_000.0, profile=False)
    print("small:", json.dumps(small), flush=True)
    large = run_scale(
        args.large, seed=args.seed, samples=args.samples, warmup_s=300.0, cap_s=600.0, profile=args.profile
    )
    profile_text = large.pop("profile", None)
    print("large:", json.dumps(large), flush=True)
    if profile_text:
        print(profile_text)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    # The engine alone: the same 10,000-agent run again, its inputs recorded (a separate run, so the
    # recording's memory and garbage-collector cost touch none of the figures above), then replayed.
    alone = run_scale(
        args.large, seed=args.seed, samples=args.samples, warmup_s=300.0, cap_s=600.0, profile=False, record=True
    )
    print(f"engine alone: {alone['engine_inputs_per_s']:,.0f} inputs/s", flush=True)
    final = {
        "p50_us_100": round(small["p50_us"], 1),
        "p99_us_100": round(small["p99_us"], 1),
        "p50_us_10000": round(large["p50_us"], 1),
        "p99_us_10000": round(large["p99_us"], 1),
        "growth_p99": round(large["p99_us"] / small["p99_us"], 2),
        "p50_us_all_10000": round(large["all_p50_us"], 1),
        "p99_us_all_10000": round(large["all_p99_us"], 1),
        "engine_inputs_per_s": round(alone["engine_inputs_per_s"]),
        "events_per_s": round(large["events_per_s"]),
        "rss_mb": round(rss_mb, 1),
    }
    print(json.dumps(final))


if __name__ == "__main__":
    from bench_lock import one_benchmark_at_a_time

    with one_benchmark_at_a_time():
        main()
