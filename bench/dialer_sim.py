"""Benchmark: outbound pacing policies through the daemon's real path (engine + dialer + simulated switch).

Not a timed test. The policies run where the daemon runs them: a
:class:`~ctilink.dialer.runtime.CampaignEngine` (the ACD :class:`~ctilink.core.Engine` plus the
:class:`~ctilink.dialer.dialer.Dialer`) driven by :class:`~ctilink.sim.SimulatedSwitch`. The
dialer's Originates are rendered and executed by the simulated switch; customer legs ring, answer,
get an AMD verdict or fail; live answers are adopted into the campaign's queue, the engine offers
them to agents whose simulated phones ring and answer, bridges, wraps up, and the dialer maps every
outcome back to its attempt. The 2-second connect deadline (from the AMD verdict), the abandon
announcement, the line limit (four per working agent) and the pacer's feed (the engine's agent
changes, the call records' machine dispositions) are the daemon's own. ``--mode loop`` runs the
same model in ``bench/dialer_loop.py``'s compact event loop instead (5-10x faster, for sweeps).

The model is ``bench/dialer_model.py``'s (AMD delays and errors, machines' own ring, an answer rate
that changes through the day, agents logging in over the first 10 minutes); ``--basic`` turns the
AMD errors, the machines' ring and the changing rate off.

Run: ``.venv/bin/python bench/dialer_sim.py`` (defaults: ``--seeds 3 --hours 8 24 --agents 5 20 50
--p-human 0.15 0.30``, the policies progressive, power, lookahead, vicidial_adapt and ctilink, and
``--tune``; see docs/dialer.md for its time), ``.venv/bin/python bench/dialer_sim.py --quick``
(seeds 2, 1 h, agents 5 20, no tuning: about 15 s), or one configuration, e.g.
``.venv/bin/python bench/dialer_sim.py --agents 20 --p-human 0.30 --hours 8 --policies progressive
ctilink --no-tune``. ``--tune`` runs the fixed policies' knobs of ``TUNE_GRID`` (power ratio,
look-ahead margin) and reports, per configuration, the best whose every seed stays at or under
the cap as ``power_tuned(R)`` / ``lookahead_tuned(Z)``; ``--tune-hours`` picks the shifts it is
tuned on (the chosen knob is then run on every shift length).
Prints one line per configuration, then a final JSON line:
``{"results": [{"n": 20, "policy": "ctilink", "p_human": 0.3, "hours": 8.0, "occupancy": ..,
"abandon_rate": .., "abandon_rate_max_seed": .., "abandon_rate_worst_hour": ..,
"contacts_per_agent_hour": ..}, ...]}`` (means over seeds; ``abandon_rate_max_seed`` is the worst
seed, ``abandon_rate_worst_hour`` the worst clock hour of any seed, ``null`` if no hour had 20 live
answers).

Measured from what the path reports, never from the model's intentions:
- occupancy: the agents' ``on-call`` time, from the engine's ``AgentStateChanged`` notifications
  (clipped to the shift), over their logged-in time (from their login to the end of the shift);
- abandon_rate: the dialer's own legal count at the end, ``dialer.stats(...)``: abandoned / live
  answers (a machine an agent marked ``machine`` is no live answer);
- abandon_rate_worst_hour: from the dialer's ``AttemptRecorded`` notifications, per clock hour of
  the dial: abandoned / (connected people + abandoned), over hours with at least 20 live answers;
- contacts_per_agent_hour: attempts placed in the shift that ended ``connected`` to a person
  (machines marked by the agent left out), / (N x hours).

Dialing stops (``PauseCampaign``) at the end of the shift; the sim then runs on until every
attempt placed in the shift has its outcome. One campaign (``mode=progressive`` for the
progressive policy, ``predictive`` for the others, AMD on, target = cap = 3 %, window open all
day, one attempt per contact, contacts topped up so the list never runs dry) on one queue.
"""

from __future__ import annotations

import argparse
import dataclasses
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

import dialer_loop
from dialer_model import POLICIES, TUNE_GRID, Model, lognormal_params, make_pacer

from ctilink.commands import Originate
from ctilink.core import AgentProfile, AgentState, Engine, EngineConfig, QueueConfig
from ctilink.core import notifications as nt
from ctilink.dialer.campaign import CampaignConfig, Mode
from ctilink.dialer.dialer import AttemptRecorded, Dialer, PauseCampaign, StartCampaign
from ctilink.dialer.runtime import CampaignEngine
from ctilink.dialer.types import Contact
from ctilink.dialer.windows import CallingWindow
from ctilink.sim import AgentBehaviour, CallerBehaviour, Fixed, LogNormal, SimulatedSwitch, Uniform
from ctilink.sim.models import OutboundAnswer

MACHINE = "machine"
START = 1_700_467_200.0  # Monday 2023-11-20 08:00 UTC: clock hours of the shift start on the hour
CAMPAIGN, QUEUE = "bench", "outbound"
WRAP_UP_BACKSTOP_S = 120.0
MIN_LIVE_PER_HOUR = 20
STEP_S = 60.0  # the driver tops up contacts between steps of this many simulated seconds
DRAIN_MAX_S = 4 * 3600.0


def lognormal(mean_sd: tuple[float, float]) -> LogNormal:
    """The sim's LogNormal (median, sigma) with the given mean and standard deviation."""
    mu, sigma = lognormal_params(*mean_sd)
    return LogNormal(median=math.exp(mu), sigma=sigma)


def outbound_model(model: Model, hours: float) -> OutboundAnswer:
    """The customer legs of ``model`` as the simulated switch's model."""
    return OutboundAnswer(
        ring_delay=lognormal(model.human_ring),
        p_answer=model.p_answer,
        p_busy=model.p_busy,
        behaviour=CallerBehaviour(patience=Fixed(math.inf), talk=lognormal(model.talk), hangs_up_first=1.0),
        p_machine=model.machine_share,
        amd_delay=Uniform(*model.amd_delay),
        machine_ring_delay=lognormal(model.machine_ring) if model.machine_ring else None,
        amd_false_positive=model.amd_false_positive,
        amd_miss=model.amd_miss,
        answer_schedule=model.answer_schedule(hours),
        machine_behaviour=CallerBehaviour(
            patience=Fixed(math.inf), talk=lognormal(model.machine_talk), hangs_up_first=1.0
        ),
    )


def campaign_config(policy: str, model: Model) -> CampaignConfig:
    return CampaignConfig(
        name=CAMPAIGN,
        mode=Mode.PROGRESSIVE if policy == "progressive" else Mode.PREDICTIVE,
        queue=QUEUE,
        region="GB",
        caller_id_number="442070000000",
        windows=(CallingWindow(days=(0, 1, 2, 3, 4, 5, 6), start=dt.time(0), end=dt.time(23, 59, 59, 999999)),),
        max_attempts=1,
        amd=True,
        abandon_target=model.target,
        abandon_cap=model.target,
        machine_dispositions=(MACHINE,),
        machine_abandon_weight=model.machine_abandon_weight,
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
        # a connected call the agent marked "machine": customer leg -> attempt -> engine call
        self._attempt_of_leg: dict[str, str] = {}
        self._attempt_of_call: dict[str, str] = {}
        self.machines: set[str] = set()  # attempts

    def command(self, cmd: Any) -> None:
        if type(cmd) is Originate and cmd.variables.get("ctilink_role") == "customer":
            self.dials += 1
            self._attempt_of_leg[cmd.uuid] = cmd.variables["ctilink_call_id"]

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
        elif kind is nt.CallArrived:
            attempt = self._attempt_of_leg.pop(note.uuid, None)
            if attempt is not None:
                self._attempt_of_call[note.call_id] = attempt
        elif kind is nt.CallEnded:
            attempt = self._attempt_of_call.pop(note.record.call_id, None)
            codes = {o.disposition_code for o in note.record.offers} | {note.record.disposition_code}
            if attempt is not None and MACHINE in codes:
                self.machines.add(attempt)
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


def simulate(n: int, policy: str, seed: int, hours: float = 8.0, model: Model | None = None) -> dict[str, Any]:
    """One shift of ``n`` agents on one campaign dialed by ``policy`` on the daemon's path."""
    model = model or Model()
    shift_end = START + hours * 3600.0
    agents = [f"a{i:03d}" for i in range(n)]
    config = EngineConfig(
        queues=[QueueConfig(name=QUEUE, wrap_up_s=WRAP_UP_BACKSTOP_S)],
        agents=[AgentProfile(id=a, endpoints=[f"user/{a}"]) for a in agents],
        disposition_codes=[MACHINE],
    )
    engine = Engine(config, rng=random.Random(f"engine-{seed}"))
    dialer = Dialer(dnc=engine.check_dnc)
    dialer.add_campaign(campaign_config(policy, model), pacer=make_pacer(policy, model.target))  # type: ignore[arg-type]
    rt = CampaignEngine(engine, dialer, START)
    sim = SimulatedSwitch(
        rt,
        seed=seed,
        start=START,
        outbound=outbound_model(model, hours),
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
        ring_delay=Uniform(*model.agent_ring),
        p_end_wrap_up_early=1.0,
        wrap_up_time=lognormal(model.wrap),
        machine_disposition=MACHINE,
    )
    logins = random.Random(f"logins-{seed}")
    spread = min(model.login_spread_s, hours * 3600.0 / 2)
    for agent in agents:
        sim.add_agents([agent], behaviour, login_at=START + logins.uniform(0.0, spread))
    sim.request(StartCampaign(CAMPAIGN))
    while sim.now < shift_end:
        if loaded - meter.dials < batch:
            dialer.load_contacts(CAMPAIGN, _contacts(loaded, batch), sim.now)
            loaded += batch
        sim.run_until(min(shift_end, sim.now + STEP_S))
    sim.request(PauseCampaign(CAMPAIGN))
    drained_by = shift_end + DRAIN_MAX_S
    while meter.open_attempts and sim.now < drained_by:
        sim.run_for(STEP_S)
    sim.run_for(WRAP_UP_BACKSTOP_S)  # the last connected calls' records (after their wrap-up)
    meter.close(sim.now)
    stats = dialer.stats(CAMPAIGN, sim.now)
    hourly: dict[int, list[int]] = defaultdict(lambda: [0, 0])  # hour -> [abandoned, live]
    connected = 0
    for attempt, (started, outcome) in meter.outcomes.items():
        if outcome not in ("connected", "abandoned") or attempt in meter.machines:
            continue
        bucket = hourly[int((started - START) // 3600)]
        bucket[1] += 1
        if outcome == "abandoned":
            bucket[0] += 1
        elif started < shift_end:
            connected += 1
    rates = [a / live for a, live in hourly.values() if live >= MIN_LIVE_PER_HOUR]
    return {
        "occupancy": meter.talk_s / meter.logged_in_s if meter.logged_in_s else 0.0,
        "abandon_rate": stats.abandon_rate,  # the legal count (AMD hang-ups weighted in)
        "abandon_rate_worst_hour": max(rates) if rates else None,
        "contacts_per_agent_hour": connected / (n * hours),
        "live_answers": stats.live_answers,
        "abandoned": stats.abandoned,
        "machines_marked": len(meter.machines),
        "dials": meter.dials,
        "unsettled": len(meter.open_attempts),
        "switch_errors": sum(1 for e in sim.errors if not e.stale),
    }


Job = tuple[str, int, str, int, float, Model]


def _job(args: Job) -> tuple[Job, dict[str, Any], float]:
    mode, n, policy, seed, hours, model = args
    t0 = time.perf_counter()
    run = simulate if mode == "daemon" else dialer_loop.simulate
    result = run(n, policy, seed, hours, model)
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


def _best(results: list[dict[str, Any]], tried: set[str], target: float) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Per (N, p_human, family), the knob with the best occupancy whose every seed stays at or
    under the cap, over the tuning shifts (none if no knob does)."""
    best: dict[tuple[Any, ...], dict[str, Any]] = {}
    for e in results:
        if e["policy"] not in tried or e["abandon_rate_max_seed"] > target:
            continue
        family = e["policy"].partition(":")[0]
        key = (e["n"], e["p_human"], e["hours"], family)
        if key not in best or e["occupancy"] > best[key]["occupancy"]:
            best[key] = e
    return best


def _run(jobs: list[Job], processes: int) -> list[tuple[Job, dict[str, Any], float]]:
    # the biggest first, so two workers finish together
    jobs = sorted(jobs, key=lambda j: (-j[1] * j[4], j[2]))
    with multiprocessing.Pool(max(1, min(2, processes))) as pool:
        return pool.map(_job, jobs, chunksize=1)


def _entries(done: list[tuple[Job, dict[str, Any], float]], model_of: dict[float, Model]) -> list[dict[str, Any]]:
    groups: dict[tuple[int, str, float, float], list[tuple[dict[str, Any], float]]] = defaultdict(list)
    for (_, n, policy, _, hours, model), result, cpu in done:
        groups[(n, policy, hours, model.p_human)].append((result, cpu))
    out = []
    for (n, policy, hours, p_human), runs in groups.items():
        entry = {"n": n, "policy": policy, "p_human": p_human, "hours": hours, **summarise([r for r, _ in runs])}
        entry["_cpu"] = sum(c for _, c in runs) / len(runs)
        entry["_seeds"] = len(runs)
        entry["_unsettled"] = sum(r["unsettled"] for r, _ in runs)
        entry["_errors"] = sum(r["switch_errors"] for r, _ in runs)
        out.append(entry)
    return out


def _print(entry: dict[str, Any]) -> None:
    worst = entry["abandon_rate_worst_hour"]
    print(
        f"N={entry['n']:<3} {entry['policy']:<22} p_human {entry['p_human']:.2f} {entry['hours']:g} h  "
        f"occupancy {entry['occupancy']:.3f}  abandon {entry['abandon_rate']:.4f} "
        f"(worst seed {entry['abandon_rate_max_seed']:.4f}, worst hour {'-' if worst is None else f'{worst:.4f}'})  "
        f"contacts/agent-h {entry['contacts_per_agent_hour']:.2f}  [{entry['_seeds']} seeds, "
        f"{entry['_cpu']:.1f} s/run, {entry['_unsettled']} unsettled, {entry['_errors']} switch errors]",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mode", choices=("daemon", "loop"), default="daemon")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--hours", type=float, nargs="+", default=[8.0, 24.0])
    parser.add_argument("--agents", type=int, nargs="+", default=[5, 20, 50])
    parser.add_argument("--p-human", type=float, nargs="+", default=[0.15, 0.30])
    parser.add_argument("--policies", nargs="+", default=list(POLICIES), help="names, or power:R, lookahead:Z")
    parser.add_argument("--tune", action=argparse.BooleanOptionalAction, default=True, help="tune the fixed policies")
    parser.add_argument("--tune-hours", type=float, nargs="+", default=[8.0], help="shifts the knobs are tuned on")
    parser.add_argument("--basic", action="store_true", help="no AMD errors, machines ring as people, steady rate")
    parser.add_argument(
        "--machine-abandon-weight", type=float, default=0.0, help="share of AMD hang-ups counted as abandons"
    )
    parser.add_argument("--processes", type=int, default=2, help="worker processes (at most 2)")
    parser.add_argument("--quick", action="store_true", help="seeds 2, hours 1, agents 5 20, no tuning")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.hours, args.agents, args.tune = 2, [1.0], [5, 20], False
    base = Model.basic() if args.basic else Model()
    base = dataclasses.replace(base, machine_abandon_weight=args.machine_abandon_weight)
    models = {p: base.with_p_human(p) for p in args.p_human}
    for name in args.policies:
        make_pacer(name)  # a bad name fails here, not in a worker
    seeds = range(args.seeds)
    t0 = time.perf_counter()
    plain = [p for p in args.policies if not (args.tune and p.partition(":")[0] in TUNE_GRID and ":" not in p)]
    jobs: list[Job] = [
        (args.mode, n, p, s, h, models[ph])
        for h in args.hours
        for ph in args.p_human
        for n in args.agents
        for p in plain
        for s in seeds
    ]
    chosen: dict[tuple[int, float, str], str] = {}
    tuning: list[dict[str, Any]] = []
    if args.tune:
        families = [f for f in TUNE_GRID if f in args.policies]
        tried = {f"{f}:{k}" for f in families for k in TUNE_GRID[f]}
        sweep: list[Job] = [
            (args.mode, n, p, s, h, models[ph])
            for h in args.tune_hours
            for ph in args.p_human
            for n in args.agents
            for p in sorted(tried)
            for s in seeds
        ]
        tuning = _entries(_run(sweep, args.processes), models)
        for (n, ph, _, family), e in _best(tuning, tried, base.target).items():
            chosen[(n, ph, family)] = e["policy"]
        jobs += [
            (args.mode, n, chosen[(n, ph, f)], s, h, models[ph])
            for h in args.hours
            for ph in args.p_human
            for n in args.agents
            for f in families
            if (n, ph, f) in chosen and h not in args.tune_hours
            for s in seeds
        ]
    entries = _entries(_run(jobs, args.processes), models)
    known = {(e["n"], e["policy"], e["hours"], e["p_human"]) for e in entries}
    entries += [e for e in tuning if (e["n"], e["policy"], e["hours"], e["p_human"]) not in known]
    results = []
    for e in sorted(entries, key=lambda e: (e["hours"], e["p_human"], e["n"], e["policy"])):
        family, _, knob = e["policy"].partition(":")
        if ":" in e["policy"] and args.tune:
            if chosen.get((e["n"], e["p_human"], family)) != e["policy"]:
                continue  # a knob tried and not chosen
            e = {**e, "policy": f"{family}_tuned({knob})"}
        _print(e)
        results.append({k: v for k, v in e.items() if not k.startswith("_")})
    for n in args.agents:
        for ph in args.p_human:
            for f in TUNE_GRID:
                if args.tune and f in args.policies and (n, ph, f) not in chosen:
                    print(
                        f"N={n:<3} {f}: no knob of {TUNE_GRID[f]} keeps every seed at or under the cap (p_human {ph})"
                    )
    print(f"{args.mode} mode, {time.perf_counter() - t0:.0f} s wall", file=sys.stderr, flush=True)
    print(json.dumps({"results": results}))
    return 0


if __name__ == "__main__":
    from bench_lock import one_benchmark_at_a_time

    with one_benchmark_at_a_time():
        raise SystemExit(main())
