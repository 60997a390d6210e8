"""Benchmark: outbound pacing policies through the daemon's real path (engine + dialer + simulated switch).

Not a timed test. ``bench/dialer_sim.py`` runs the pacers inside its own compact event loop; this
benchmark runs them where the daemon runs them: a :class:`~ctilink.dialer.runtime.CampaignEngine`
(the ACD :class:`~ctilink.core.Engine` plus the :class:`~ctilink.dialer.dialer.Dialer`) driven by
:class:`~ctilink.sim.SimulatedSwitch`. The dialer's Originates are rendered and executed by the
simulated switch, customer legs ring, answer, get an AMD verdict or fail, live answers are adopted
into the campaign's queue, the engine offers them to agents whose simulated phones ring and answer,
bridges, wraps up, and the dialer maps every outcome back to its attempt. The 2-second connect
deadline, the abandon announcement and the line limit are the dialer's own.

Run: ``.venv/bin/python bench/dialer_daemon.py`` (defaults: ``--seeds 3 --hours 8 --agents 5 20 50
--p-human 0.15 0.30`` and all four policies: 72 runs, about 12 min on 2 cores), or
``.venv/bin/python bench/dialer_daemon.py --quick`` (seeds 2, 1 h, agents 5 20: about 10 s), or one
configuration, e.g. ``.venv/bin/python bench/dialer_daemon.py --agents 20 --p-human 0.30 --hours 8
--policies progressive ctilink`` (about 35 s). Several ``--hours`` values may be given;
``--agent-ring LOW HIGH`` changes how long agents' phones ring before they answer. ``--tune`` also
runs the fixed power ratios of ``TUNE_GRID`` and reports, per configuration, the best one whose
every seed stays at or under the cap, as ``power_tuned(R)`` (``--policies power:R`` runs one).
Prints one line per configuration, then a final JSON line:
``{"results": [{"n": 20, "policy": "ctilink", "p_human": 0.3, "hours": 8.0, "occupancy": ..,
"abandon_rate": .., "abandon_rate_max_seed": .., "abandon_rate_worst_hour": ..,
"contacts_per_agent_hour": ..}, ...]}`` (means over seeds; ``abandon_rate_max_seed`` is the worst
seed, ``abandon_rate_worst_hour`` the worst clock hour of any seed, ``null`` if no hour had 20 live
answers).

Model (as close to ``bench/dialer_sim.py`` as the simulated switch allows):
- One campaign (``mode=progressive`` for the progressive policy, ``predictive`` for the others,
  AMD on, abandon target = cap = 3 %, calling window open all day every day, one attempt per
  contact, line limit the dialer's default of four per working agent) on one queue; contacts are
  topped up while the shift runs so the list never runs dry.
- Customer legs (:class:`~ctilink.sim.models.OutboundAnswer`): ``p_human`` of dials are answered
  by a person and 0.15 by a machine (``p_answer = p_human + 0.15``, ``p_machine = 0.15 / p_answer``),
  0.1 are busy, the rest ring out. Answers come after a lognormal ring (mean 7 s, sd 4 s); a ring
  longer than the 20 s ring timeout is a no-answer (the switch's own timeout). The AMD verdict
  (``MachineDetected``) arrives 3 s after the answer; the dialer hangs machines up. A customer who
  is answered waits silently for the dialer (no patience of their own) and, once bridged, talks a
  lognormal time (mean 180 s, sd 150 s) and hangs up first.
- Agents (:class:`~ctilink.sim.models.AgentBehaviour`): N agents log in (ready) at uniformly random
  moments of the first 10 minutes (the first half of a shorter shift) and stay all shift. Their
  phones answer an offer after 0.2-0.6 s (auto-answer-ish outbound phones); after each call they
  click "end wrap-up" after a lognormal time (mean 15 s, sd 10 s), the queue's 120 s wrap-up timer
  being only a backstop.
- Dialing stops (``PauseCampaign``) at the end of the shift; the sim then runs on until every
  attempt placed in the shift has its outcome, so the last hour's figures are complete.

Measured from what the path reports, never from the model's intentions:
- occupancy: the agents' ``on-call`` time, from the engine's ``AgentStateChanged`` notifications
  (clipped to the shift), over their logged-in time (from their login's ``AgentStateChanged`` to the
  end of the shift);
- abandon_rate: the dialer's own legal count at the end, ``dialer.stats(...)``: abandoned / live
  answers;
- abandon_rate_worst_hour: from the dialer's ``AttemptRecorded`` notifications, per clock hour of
  the dial: ``abandoned / (connected + abandoned)``, over hours with at least 20 live answers;
- contacts_per_agent_hour: attempts placed in the shift that ended ``connected``, / (N x hours).

Policies: ``progressive``, ``power`` (2 lines per idle agent), ``vicidial_adapt`` (VICIdial-style
adaptive dial level, hard limit 3 %, maximum level 3.0) and ``ctilink`` (the self-tuning predictive
pacer, default settings), the same objects ``bench/dialer_sim.py`` builds.

What the real path does differently from ``bench/dialer_sim.py``'s loop (the point of this one):
- The pacer sees the dialer's view: an agent being offered a call is ``reserved``, not idle; talk
  and wrap-up times are learnt from the engine's agent changes; it is asked every second, at every
  agent change and whenever a line is freed.
- AMD screens humans too: the verdict for a person also comes 3 s after the answer, and the 2 s
  deadline starts at the verdict (``bench/dialer_sim.py`` recognises a person at the answer). The
  pacer's live ring times end at the answer, so live answers need an agent ~3 s later than it sees.
- The deadline covers the engine's offer: a live answer counts as connected only when the engine
  reports ``CallAnswered``, i.e. after the queue has offered it and the agent's phone has answered.
  With phones that ring longer than the deadline even progressive abandons: with the sim's default
  agent phones (``--agent-ring 1 4``) progressive abandons about two thirds of its live answers,
  because the dialer hangs the customer up while the chosen agent's phone is still ringing.
- Busy legs fail within the switch's progress delay (about 0.05 s), not after 2-5 s; agents log in
  over the first minutes instead of being there at time zero.

Runtime: one N=20, 1 h, p_human 0.30 run takes 0.6 s (progressive) to 1.7 s (ctilink) of one core;
an 8 h run 2-30 s, except ctilink at N=50 (about 1-2 min: its pacer's cost grows with the agents
and dials it weighs, and p_human 0.15 dials twice as much as 0.30). The default matrix took 12 min
of wall time on 2 cores, well under the 20 min budget, so the defaults are the full matrix.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import multiprocessing
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ctilink.commands import Originate
from ctilink.core import AgentProfile, AgentState, Engine, EngineConfig, QueueConfig
from ctilink.core import notifications as nt
from ctilink.dialer.campaign import CampaignConfig, Mode
from ctilink.dialer.dialer import AttemptRecorded, Dialer, PauseCampaign, StartCampaign
from ctilink.dialer.pacer import PredictivePacer
from ctilink.dialer.policies import AdaptiveDialLevelPacer, PowerPacer, ProgressivePacer
from ctilink.dialer.runtime import CampaignEngine
from ctilink.dialer.types import Contact
from ctilink.dialer.windows import CallingWindow
from ctilink.sim import AgentBehaviour, CallerBehaviour, Fixed, LogNormal, SimulatedSwitch, Uniform
from ctilink.sim.models import OutboundAnswer

P_MACHINE, P_BUSY = 0.15, 0.1
TARGET = 0.03
POLICIES = ("progressive", "power", "vicidial_adapt", "ctilink")
# --tune: the fixed power ratios tried; each configuration reports the best that keeps every seed
# at or under the cap, as ``power_tuned(R)``.
TUNE_GRID = {"power": (1.4, 1.6, 1.8, 2.0, 2.2, 2.4, 2.6, 3.0, 3.5, 4.0)}
START = 1_700_467_200.0  # Monday 2023-11-20 08:00 UTC: clock hours of the shift start on the hour
CAMPAIGN, QUEUE = "bench", "outbound"
LOGIN_SPREAD_S = 600.0
WRAP_UP_BACKSTOP_S = 120.0
MIN_LIVE_PER_HOUR = 20
AGENT_RING_S = (0.2, 0.6)
STEP_S = 60.0  # the driver tops up contacts between steps of this many simulated seconds
DRAIN_MAX_S = 4 * 3600.0


def lognormal(mean: float, sd: float) -> LogNormal:
    """The sim's LogNormal (median, sigma) with the given mean and standard deviation."""
    sigma2 = math.log(1.0 + (sd * sd) / (mean * mean))
    return LogNormal(median=mean / math.exp(sigma2 / 2.0), sigma=math.sqrt(sigma2))


def make_pacer(name: str) -> object:
    """A policy by name; ``power:R`` sets the fixed policy's ratio."""
    family, _, param = name.partition(":")
    if family == "progressive" and not param:
        return ProgressivePacer()
    if family == "power":
        return PowerPacer(ratio=float(param or 2.0))
    if family == "vicidial_adapt" and not param:
        return AdaptiveDialLevelPacer(dropped_percentage=100 * TARGET, maximum_level=3.0)
    if family == "ctilink" and not param:
        return PredictivePacer()
    raise ValueError(f"unknown policy {name!r}; expected one of {', '.join(POLICIES)} (power:R)")


def outbound_model(p_human: float) -> OutboundAnswer:
    """Customer legs: ``p_human`` of dials answered by a person, 0.15 by a machine, 0.1 busy."""
    p_answer = p_human + P_MACHINE
    if not 0 < p_answer <= 1 - P_BUSY:
        raise ValueError(f"p_human: expected 0 < p_human <= {1 - P_BUSY - P_MACHINE:.2f}, got {p_human}")
    customer = CallerBehaviour(patience=Fixed(math.inf), talk=lognormal(180.0, 150.0), hangs_up_first=1.0)
    return OutboundAnswer(
        ring_delay=lognormal(7.0, 4.0),
        p_answer=p_answer,
        p_busy=P_BUSY,
        behaviour=customer,
        p_machine=P_MACHINE / p_answer,
        amd_delay=Fixed(3.0),
    )


def campaign_config(policy: str) -> CampaignConfig:
    return CampaignConfig(
        name=CAMPAIGN,
        mode=Mode.PROGRESSIVE if policy == "progressive" else Mode.PREDICTIVE,
        queue=QUEUE,
        region="GB",
        caller_id_number="442070000000",
        windows=(CallingWindow(days=(0, 1, 2, 3, 4, 5, 6), start=dt.time(0), end=dt.time(23, 59, 59, 999999)),),
        max_attempts=1,
        amd=True,
        abandon_target=TARGET,
        abandon_cap=TARGET,
    )


class Meter:
    """What the path reports, gathered from the switch's notification and command hooks."""

    def __init__(self, shift_end: float) -> None:
        self.shift_end = shift_end
        self.dials = 0
        self.logged_in_s = 0.0
        self.talk_s = 0.0
        self.on_call_since: dict[str, float] = {}
        self.open_attempts: set[str] = set()
        self.outcomes: dict[str, tuple[float, str]] = {}  # attempt -> (started_at, outcome)

    def command(self, cmd: Any) -> None:
        if type(cmd) is Originate and cmd.variables.get("ctilink_role") == "customer":
            self.dials += 1

    def note(self, note: Any) -> None:
        kind = type(note)
        if kind is nt.AgentStateChanged:
            if note.old is AgentState.LOGGED_OUT:
                self.logged_in_s += max(0.0, self.shift_end - note.at)
            if note.old is AgentState.ON_CALL:
                self._talked(note.at - note.duration_s, note.at)
                self.on_call_since.pop(note.agent_id, None)
            if note.new is AgentState.ON_CALL:
                self.on_call_since[note.agent_id] = note.at
        elif kind is AttemptRecorded:
            a = note.attempt
            if a.ended_at is None:
                self.open_attempts.add(a.attempt_id)
            elif a.attempt_id in self.open_attempts:  # refusals are never dialed: not counted
                self.open_attempts.discard(a.attempt_id)
                self.outcomes[a.attempt_id] = (a.started_at, a.outcome or "")

    def _talked(self, start: float, end: float) -> None:
        self.talk_s += max(0.0, min(end, self.shift_end) - max(start, START))

    def close(self, now: float) -> None:
        for since in self.on_call_since.values():
            self._talked(since, now)
        self.on_call_since.clear()


def _contacts(first: int, count: int) -> list[Contact]:
    return [
        Contact(campaign=CAMPAIGN, contact_id=f"c{i}", number=f"+4420{i:08d}", data={"timezone": "Europe/London"})
        for i in range(first, first + count)
    ]


def simulate(
    n: int,
    policy: str,
    seed: int,
    hours: float = 8.0,
    p_human: float = 0.3,
    agent_ring: tuple[float, float] = AGENT_RING_S,
) -> dict[str, Any]:
    """One shift of ``n`` agents on one campaign dialed by ``policy``; figures as in the module docstring.

    ``agent_ring``: the range (uniform) of seconds an agent's phone rings before it answers an offer.
    """
    shift_end = START + hours * 3600.0
    agents = [f"a{i:03d}" for i in range(n)]
    config = EngineConfig(
        queues=[QueueConfig(name=QUEUE, wrap_up_s=WRAP_UP_BACKSTOP_S)],
        agents=[AgentProfile(id=a, endpoints=[f"user/{a}"]) for a in agents],
    )
    engine = Engine(config, rng=random.Random(f"engine-{seed}"))
    dialer = Dialer(dnc=engine.check_dnc)
    dialer.add_campaign(campaign_config(policy), pacer=make_pacer(policy))  # type: ignore[arg-type]
    rt = CampaignEngine(engine, dialer, START)
    sim = SimulatedSwitch(
        rt,
        seed=seed,
        start=START,
        outbound=outbound_model(p_human),
        keep_notifications=False,
        keep_commands=False,
        keep_events=False,
    )
    meter = Meter(shift_end)
    sim.on_notification.append(meter.note)
    sim.on_command.append(meter.command)
    # headroom of contacts: far more than the fastest policy dials in one step
    batch = 200 + 40 * n
    loaded = batch
    dialer.load_contacts(CAMPAIGN, _contacts(0, batch), START)
    behaviour = AgentBehaviour(
        ring_delay=Uniform(*agent_ring), p_end_wrap_up_early=1.0, wrap_up_time=lognormal(15.0, 10.0)
    )
    logins = random.Random(f"logins-{seed}")
    spread = min(LOGIN_SPREAD_S, hours * 3600.0 / 2)
    for agent in agents:
        sim.add_agents([agent], behaviour, login_at=START + logins.uniform(0.0, spread))
    sim.request(StartCampaign(CAMPAIGN))
    while sim.now < shift_end:
        if loaded - meter.dials < batch:
            dialer.load_contacts(CAMPAIGN, _contacts(loaded, batch), sim.now)
            loaded += batch
        sim.run_until(min(shift_end, sim.now + STEP_S))
    meter.shift_end = shift_end
    sim.request(PauseCampaign(CAMPAIGN))
    drained_by = shift_end + DRAIN_MAX_S
    while meter.open_attempts and sim.now < drained_by:
        sim.run_for(STEP_S)
    meter.close(sim.now)
    stats = dialer.stats(CAMPAIGN, sim.now)
    hourly: dict[int, list[int]] = defaultdict(lambda: [0, 0])  # hour -> [abandoned, live]
    connected = 0
    for started, outcome in meter.outcomes.values():
        if outcome not in ("connected", "abandoned"):
            continue
        bucket = hourly[int((started - START) // 3600)]
        bucket[1] += 1
        if outcome == "abandoned":
            bucket[0] += 1
        else:
            connected += 1
    rates = [a / live for a, live in hourly.values() if live >= MIN_LIVE_PER_HOUR]
    return {
        "occupancy": meter.talk_s / meter.logged_in_s if meter.logged_in_s else 0.0,
        "abandon_rate": stats.abandoned / stats.live_answers if stats.live_answers else 0.0,
        "abandon_rate_worst_hour": max(rates) if rates else None,
        "contacts_per_agent_hour": connected / (n * hours),
        "live_answers": stats.live_answers,
        "abandoned": stats.abandoned,
        "connected": stats.connected,
        "dials": meter.dials,
        "unsettled": len(meter.open_attempts),
        "switch_errors": sum(1 for e in sim.errors if not e.stale),
    }


Job = tuple[int, str, int, float, float, tuple[float, float]]


def _job(args: Job) -> tuple[Job, dict[str, Any], float]:
    n, policy, seed, hours, p_human, agent_ring = args
    t0 = time.perf_counter()
    result = simulate(n, policy, seed, hours, p_human, agent_ring)
    return args, result, time.perf_counter() - t0


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    hours = [r["abandon_rate_worst_hour"] for r in runs if r["abandon_rate_worst_hour"] is not None]
    return {
        "occupancy": round(sum(r["occupancy"] for r in runs) / len(runs), 4),
        "abandon_rate": round(sum(r["abandon_rate"] for r in runs) / len(runs), 4),
        "abandon_rate_max_seed": round(max(r["abandon_rate"] for r in runs), 4),
        "abandon_rate_worst_hour": round(max(hours), 4) if hours else None,
        "contacts_per_agent_hour": round(sum(r["contacts_per_agent_hour"] for r in runs) / len(runs), 3),
    }


def _tuned(results: list[dict[str, Any]], tried: set[str]) -> list[dict[str, Any]]:
    """Per configuration and fixed family, the ratio with the best occupancy whose every seed stays
    at or under the cap (none if no ratio does)."""
    best: dict[tuple[Any, ...], dict[str, Any]] = {}
    for e in results:
        if e["policy"] not in tried or e["abandon_rate_max_seed"] > TARGET:
            continue
        family, _, ratio = e["policy"].partition(":")
        key = (e["n"], e["p_human"], e["hours"], family)
        if key not in best or e["occupancy"] > best[key]["occupancy"]:
            best[key] = {**e, "policy": f"{family}_tuned({ratio})"}
    return list(best.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--hours", type=float, nargs="+", default=[8.0])
    parser.add_argument("--agents", type=int, nargs="+", default=[5, 20, 50])
    parser.add_argument("--p-human", type=float, nargs="+", default=[0.15, 0.30])
    parser.add_argument("--policies", nargs="+", default=list(POLICIES), help="names, or power:R")
    parser.add_argument("--tune", action="store_true", help="also sweep the power ratio (TUNE_GRID)")
    parser.add_argument(
        "--agent-ring",
        type=float,
        nargs=2,
        default=list(AGENT_RING_S),
        metavar=("LOW", "HIGH"),
        help="seconds an agent's phone rings before answering (uniform; default 0.2 0.6)",
    )
    parser.add_argument("--processes", type=int, default=2, help="worker processes (at most 2)")
    parser.add_argument("--quick", action="store_true", help="seeds 2, hours 1, agents 5 20")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.hours, args.agents = 2, [1.0], [5, 20]
    ring = (args.agent_ring[0], args.agent_ring[1])
    for name in args.policies:
        make_pacer(name)  # a bad name fails here, not in a worker
    tried = [f"{family}:{r}" for family, grid in TUNE_GRID.items() for r in grid] if args.tune else []
    policies = list(dict.fromkeys([*args.policies, *tried]))
    configs = [(n, p, h, ph) for h in args.hours for ph in args.p_human for n in args.agents for p in policies]
    # the biggest first, so two workers finish together
    jobs: list[Job] = sorted(
        ((n, p, s, h, ph, ring) for (n, p, h, ph) in configs for s in range(args.seeds)),
        key=lambda j: (-j[0] * j[3], j[1]),
    )
    t0 = time.perf_counter()
    with multiprocessing.Pool(max(1, min(2, args.processes))) as pool:
        done = pool.map(_job, jobs, chunksize=1)
    wall = time.perf_counter() - t0
    results = []
    for n, policy, hours, p_human in configs:
        runs = [r for (j, r, _) in done if (j[0], j[1], j[3], j[4]) == (n, policy, hours, p_human)]
        cpu = sum(s for (j, _, s) in done if (j[0], j[1], j[3], j[4]) == (n, policy, hours, p_human))
        entry = {"n": n, "policy": policy, "p_human": p_human, "hours": hours, **summarise(runs)}
        results.append(entry)
        worst = entry["abandon_rate_worst_hour"]
        print(
            f"N={n:<3} {policy:<15} p_human {p_human:.2f} {hours:g} h  occupancy {entry['occupancy']:.3f}  "
            f"abandon {entry['abandon_rate']:.4f} (worst seed {entry['abandon_rate_max_seed']:.4f}, "
            f"worst hour {'-' if worst is None else f'{worst:.4f}'})  "
            f"contacts/agent-h {entry['contacts_per_agent_hour']:.2f}  "
            f"[{len(runs)} seeds, {cpu / len(runs):.1f} s/run, "
            f"{sum(r['unsettled'] for r in runs)} unsettled, {sum(r['switch_errors'] for r in runs)} switch errors]",
            flush=True,
        )
    print(f"{len(jobs)} runs in {wall:.0f} s wall", file=sys.stderr, flush=True)
    tuned = _tuned(results, set(tried)) if tried else []
    for entry in tuned:
        print(
            f"N={entry['n']:<3} {entry['policy']:<15} p_human {entry['p_human']:.2f} {entry['hours']:g} h  best under the cap"
        )
    shown = [e for e in results if e["policy"] not in set(tried) - set(args.policies)]
    print(json.dumps({"results": shown + tuned}))
    return 0


if __name__ == "__main__":
    from bench_lock import one_benchmark_at_a_time

    with one_benchmark_at_a_time():
        raise SystemExit(main())
