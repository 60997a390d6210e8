"""Benchmark: outbound pacing policies side by side on one discrete-event model (not a timed test).

Run: ``.venv/bin/python bench/dialer_sim.py [--seeds 6] [--hours 8]``
Prints one line per (N, policy), then a final JSON line:
``{"results": [{"n": 20, "policy": "ctilink", "occupancy": .., "abandon_rate": ..,
"abandon_rate_max_seed": .., "contacts_per_agent_hour": .., "seeds": 6}, ...]}``

Model (its own compact event loop; the pacers are the very classes the dialer uses):
- Every dial takes the next lead of a per-seed stream, so every policy meets the same leads in
  the same order (common random numbers): human p=0.3, machine 0.15, busy 0.1, otherwise no
  answer. Human and machine answer after a lognormal ring (mean 7 s, sd 4 s); a ring longer than
  the 20 s ring timeout is a no-answer. Busy is known after 2-5 s (uniform); no-answer at 20 s.
  AMD is on and exact: a machine is recognised 3 s after its answer and hung up (the line is busy
  meanwhile; it is not a live answer); a human is recognised at the answer.
- A live answer takes the longest-idle free agent at once; otherwise it waits, and if no agent is
  free within 2 s (the connect deadline) it hears the announcement, is hung up and counts as
  abandoned. The j-th connected call gets the j-th talk (lognormal mean 180 s, sd 150) and wrap-up
  (lognormal mean 15 s, sd 10) of a second per-seed stream.
- N agents are logged in for the whole shift (8 h); dialing stops at the end of the shift and
  talk is counted up to it. The pacer is asked every second and whenever an agent becomes free.
- Figures: occupancy = talk time / logged-in time; abandon rate = abandoned / live answers
  (mean of seeds, and the worst seed); contacts per agent hour = connected live answers / (N x h).
Policies: ``progressive`` (one line per idle agent), ``power`` (2 lines per idle agent),
``vicidial_adapt`` (VICIdial-style adaptive dial level, hard limit 3 %, maximum level 3.0) and
``ctilink`` (the self-tuning predictive pacer, target = cap = 3 %, default settings).
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import multiprocessing
import random
import sys
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ctilink.dialer.pacer import (
    AgentPhase,
    AgentView,
    DialPhase,
    DialStats,
    DialView,
    Outcome,
    PacerSnapshot,
    PredictivePacer,
)
from ctilink.dialer.policies import AdaptiveDialLevelPacer, PowerPacer, ProgressivePacer

P_HUMAN, P_MACHINE, P_BUSY = 0.3, 0.15, 0.1
RING_TIMEOUT = 20.0
DEADLINE = 2.0
AMD_S = 3.0
TARGET = 0.03
POLICIES = ("progressive", "power", "vicidial_adapt", "ctilink")


def make_pacer(name: str) -> object:
    if name == "progressive":
        return ProgressivePacer()
    if name == "power":
        return PowerPacer(ratio=2.0)
    if name == "vicidial_adapt":
        return AdaptiveDialLevelPacer(dropped_percentage=100 * TARGET, maximum_level=3.0)
    return PredictivePacer()


def lognormal(rng: random.Random, mean: float, sd: float) -> float:
    sigma2 = math.log(1.0 + (sd * sd) / (mean * mean))
    return rng.lognormvariate(math.log(mean) - sigma2 / 2.0, math.sqrt(sigma2))


def simulate(n: int, policy: str, seed: int, hours: float = 8.0) -> dict[str, float]:
    shift = hours * 3600.0
    leads = random.Random(f"leads-{seed}")
    calls = random.Random(f"calls-{seed}")
    pacer = make_pacer(policy)
    stats = DialStats()
    phase = [AgentPhase.IDLE] * n
    since = [0.0] * n
    idle_since = [0.0] * n
    talk_len = [0.0] * n
    dials: dict[int, list] = {}  # id -> [placed_at, DialPhase]
    waiting: deque[tuple[int, float]] = deque()
    heap: list[tuple[float, int, str, int]] = []
    seq = 0
    next_dial = 0
    talk_total = 0.0
    connected = abandoned = live = 0

    def push(t: float, kind: str, ref: int) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(heap, (t, seq, kind, ref))

    def connect(t: float, agent: int) -> None:
        nonlocal connected
        connected += 1
        phase[agent] = AgentPhase.TALKING
        since[agent] = t
        talk_len[agent] = lognormal(calls, 180.0, 150.0)
        push(t + talk_len[agent], "talk_end", agent)
        stats.live_answer(t, False)

    def free_agent() -> int | None:
        best = None
        for i in range(n):
            if phase[i] is AgentPhase.IDLE and (best is None or idle_since[i] < idle_since[best]):
                best = i
        return best

    def decide(t: float) -> None:
        nonlocal next_dial
        if t >= shift:
            return
        snap = PacerSnapshot(
            now=t,
            agents=[AgentView(phase[i], t - since[i]) for i in range(n)],
            dials=[DialView(d[1], t - d[0]) for d in dials.values()],
            stats=stats,
            abandon_target=TARGET,
            abandon_cap=TARGET,
            connect_deadline_s=DEADLINE,
            ring_timeout_s=RING_TIMEOUT,
        )
        for _ in range(pacer.dials_to_place(snap)):
            ident = next_dial
            next_dial += 1
            u = leads.random()
            ring = lognormal(leads, 7.0, 4.0)
            busy_s = leads.uniform(2.0, 5.0)
            dials[ident] = [t, DialPhase.RINGING]
            if u < P_HUMAN and ring < RING_TIMEOUT:
                push(t + ring, "human", ident)
            elif P_HUMAN <= u < P_HUMAN + P_MACHINE and ring < RING_TIMEOUT:
                push(t + ring, "machine", ident)
            elif P_HUMAN + P_MACHINE <= u < P_HUMAN + P_MACHINE + P_BUSY:
                push(t + busy_s, "busy", ident)
            else:
                push(t + RING_TIMEOUT, "noanswer", ident)

    push(0.0, "tick", 0)
    while heap:
        t, _, kind, ref = heapq.heappop(heap)
        if t >= shift:
            break
        if kind == "tick":
            decide(t)
            push(t + 1.0, "tick", 0)
        elif kind == "human":
            placed = dials[ref][0]
            stats.dial_ended(Outcome.LIVE, t - placed)
            live += 1
            agent = free_agent()
            if agent is not None:
                del dials[ref]
                connect(t, agent)
            else:
                dials[ref][1] = DialPhase.WAITING
                waiting.append((ref, t))
                push(t + DEADLINE, "deadline", ref)
        elif kind == "deadline":
            if ref in dials:
                del dials[ref]
                abandoned += 1
                stats.live_answer(t, True)
        elif kind == "machine":
            stats.dial_ended(Outcome.MACHINE, t - dials[ref][0])
            dials[ref][1] = DialPhase.ANSWERED
            push(t + AMD_S, "amd", ref)
        elif kind == "amd":
            del dials[ref]
            decide(t)
        elif kind in ("busy", "noanswer"):
            stats.dial_ended(Outcome.BUSY if kind == "busy" else Outcome.NO_ANSWER, t - dials.pop(ref)[0])
        elif kind == "talk_end":
            talk_total += talk_len[ref]
            stats.talk_ended(talk_len[ref])
            phase[ref] = AgentPhase.WRAP_UP
            since[ref] = t
            wrap = lognormal(calls, 15.0, 10.0)
            push(t + wrap, "wrap_end", ref)
        elif kind == "wrap_end":
            stats.wrap_ended(t - since[ref])
            phase[ref] = AgentPhase.IDLE
            since[ref] = idle_since[ref] = t
            while waiting and waiting[0][0] not in dials:
                waiting.popleft()
            if waiting:
                ident, _ = waiting.popleft()
                del dials[ident]
                connect(t, ref)
            decide(t)
    for i in range(n):
        if phase[i] is AgentPhase.TALKING:
            talk_total += shift - since[i]
    settled = connected + abandoned
    return {
        "occupancy": talk_total / (n * shift),
        "abandon_rate": abandoned / settled if settled else 0.0,
        "contacts_per_agent_hour": connected / (n * hours),
        "live": float(live),
    }


def _job(args: tuple[int, str, int, float]) -> tuple[int, str, int, dict[str, float]]:
    n, policy, seed, hours = args
    return n, policy, seed, simulate(n, policy, seed, hours)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--agents", type=int, nargs="+", default=[5, 20, 50])
    parser.add_argument("--policies", nargs="+", default=list(POLICIES))
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args(argv)
    jobs = [
        (n, p, s, args.hours)
        for n in sorted(args.agents, reverse=True)
        for p in args.policies
        for s in range(args.seeds)
    ]
    with multiprocessing.Pool(min(2, args.processes)) as pool:
        done = pool.map(_job, jobs, chunksize=1)
    results = []
    for n in args.agents:
        for policy in args.policies:
            runs = [r for (nn, pp, _, r) in done if nn == n and pp == policy]
            entry = {
                "n": n,
                "policy": policy,
                "occupancy": round(sum(r["occupancy"] for r in runs) / len(runs), 4),
                "abandon_rate": round(sum(r["abandon_rate"] for r in runs) / len(runs), 4),
                "abandon_rate_max_seed": round(max(r["abandon_rate"] for r in runs), 4),
                "contacts_per_agent_hour": round(sum(r["contacts_per_agent_hour"] for r in runs) / len(runs), 3),
                "seeds": len(runs),
            }
            results.append(entry)
            print(
                f"N={n:<3} {policy:<15} occupancy {entry['occupancy']:.3f}  abandon {entry['abandon_rate']:.4f} "
                f"(worst seed {entry['abandon_rate_max_seed']:.4f})  contacts/agent-h {entry['contacts_per_agent_hour']:.2f}",
                flush=True,
            )
    print(json.dumps({"results": results}))
    return 0


if __name__ == "__main__":
    from bench_lock import one_benchmark_at_a_time

    with one_benchmark_at_a_time():
        raise SystemExit(main())
