"""``ctilink demo``: the daemon on the simulated switch with a generated call centre.

Three queues (support, sales, billing) with skills and an escalation step, a team of skilled
agents (some slow to answer, some taking breaks), callers arriving by Poisson processes with
lognormal talk times and exponential patience, sized to run at about 85% of the team's capacity
so queues form and service level moves. An outbound predictive campaign (``spring``, queue
``outbound``) runs beside them with agents of its own, dialing generated contacts (loaded from
the demo's store at start, like a real deployment); the simulated customers answer, ring busy,
fail or reach answering machines (AMD on). The virtual clock runs ``speed`` times real time.
"""

from __future__ import annotations

import random
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

import gevent
import gevent.event
from prometheus_client import CollectorRegistry

from ctilink.config import Config, parse_config
from ctilink.core import Engine
from ctilink.dialer.runtime import CampaignEngine
from ctilink.service.daemon import Daemon
from ctilink.service.simdriver import SimDriver
from ctilink.sim import AgentBehaviour, CallerBehaviour, Exponential, LogNormal, SimulatedSwitch, Uniform
from ctilink.sim.models import OutboundAnswer
from ctilink.store import SqliteStore
from ctilink.store.records import CampaignContact

TALK_MEAN_S = 180.0
WRAP_UP_S = 10.0
CAMPAIGN = "spring"
CAMPAIGN_AGENTS = 6
CAMPAIGN_CONTACTS = 5000
OUTBOUND_AGENTS = tuple(f"{2001 + i}" for i in range(CAMPAIGN_AGENTS))


def _demo_team(agents: int) -> list[dict[str, object]]:
    """The inbound agents with mixed skills, then the campaign's outbound agents."""
    team: list[dict[str, object]] = []
    for i in range(agents):
        skills: dict[str, int] = {"support": 3 + i % 6}
        if i % 2 == 0:
            skills["sales"] = 2 + i % 7
        if i % 3 == 1:
            skills["billing"] = 4 + i % 5
        team.append(
            {"id": f"{1001 + i}", "name": f"Agent {1001 + i}", "endpoints": [f"user/{1001 + i}"], "skills": skills}
        )
    team += [
        {"id": a, "name": f"Agent {a}", "endpoints": [f"user/{a}"], "skills": {"outbound": 1}} for a in OUTBOUND_AGENTS
    ]
    return team


def _demo_queues() -> list[dict[str, object]]:
    return [
        {
            "name": "support",
            "required_skills": {"support": 3},
            "service_level_s": 20,
            "wrap_up_s": WRAP_UP_S,
            "max_wait_s": 600,
            "overflow": {"kind": "extension", "target": "7999"},
        },
        {
            "name": "sales",
            "required_skills": {"sales": 2},
            "strategy": "highest-skill-level",
            "service_level_s": 20,
            "wrap_up_s": WRAP_UP_S,
            "escalation": [{"after_s": 15, "widen_to_queues": ["support"]}],
        },
        {
            "name": "billing",
            "required_skills": {"billing": 5},
            "strategy": "fewest-calls",
            "service_level_s": 30,
            "wrap_up_s": WRAP_UP_S,
            "escalation": [{"after_s": 10, "relax_skills": {"billing": 1}}],
        },
        {
            "name": "outbound",
            "required_skills": {"outbound": 1},
            "service_level_s": 20,
            "wrap_up_s": WRAP_UP_S,
            "auto_answer": True,  # a live answer must reach its agent within the connect deadline
        },
    ]


def _demo_campaign() -> dict[str, object]:
    return {
        "name": CAMPAIGN,
        "mode": "predictive",
        "queue": "outbound",
        "agents": list(OUTBOUND_AGENTS),
        "region": "US",
        "caller_id_number": "12025550100",
        "amd": True,
        "max_lines": 4 * CAMPAIGN_AGENTS,
        # the simulated clock starts at the epoch (a Thursday night in the US): dial around the clock
        "windows": [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "23:59:59"}],
    }


def demo_config(agents: int = 24, *, http: str = "127.0.0.1:8080", metrics: str = "127.0.0.1:9464") -> Config:
    """A generated call centre, as the same validated configuration a real deployment uses."""
    data = {
        "http": {"listen": http},
        "metrics": {"listen": metrics},
        "engine": {"disposition_codes": ["resolved", "callback", "escalated"]},
        "queues": _demo_queues(),
        "agents": _demo_team(agents),
        "campaigns": [_demo_campaign()],
    }
    return parse_config(data, "<demo>")


def build_demo(config: Config, *, seed: int = 1, load: float = 0.7) -> SimulatedSwitch:
    """The engine and the simulated switch, populated with agents and caller streams."""
    engine = Engine(config.engine_config(), rng=random.Random(seed))
    outbound = OutboundAnswer(
        p_answer=0.55,
        p_busy=0.15,
        p_failed=0.05,
        p_machine=0.2,
        behaviour=CallerBehaviour(patience=Exponential(30.0), talk=LogNormal(TALK_MEAN_S, 0.6)),
    )
    sim = SimulatedSwitch(
        engine, seed=seed, node="sim-1", keep_notifications=False, keep_commands=False, outbound=outbound
    )
    diligent = AgentBehaviour(ring_delay=Uniform(1.0, 4.0), p_end_wrap_up_early=0.3)
    human = AgentBehaviour(
        ring_delay=Uniform(2.0, 9.0), p_no_answer=0.05, breaks_per_hour=0.5, break_time=Uniform(300.0, 600.0)
    )
    outbound_team = {a for c in config.campaigns for a in c.agents}
    ids = [a.id for a in config.agents if a.id not in outbound_team]
    sim.add_agents(ids[::2], diligent)
    sim.add_agents(ids[1::2], human)
    # outbound agents sit on auto-answer headsets: a live customer must hear them within 2 s
    sim.add_agents(sorted(outbound_team), AgentBehaviour(ring_delay=Uniform(0.2, 0.6), p_end_wrap_up_early=0.3))
    capacity = len(ids) / (TALK_MEAN_S + WRAP_UP_S)
    caller = CallerBehaviour(patience=Exponential(180.0), talk=LogNormal(TALK_MEAN_S, 0.6))
    for queue, share in (("support", 0.55), ("sales", 0.25), ("billing", 0.20)):
        sim.add_caller_stream(queue, capacity * load * share, caller)
    return sim


def simulated_daemon(
    config: Config,
    sim: SimulatedSwitch,
    *,
    speed: float = 1.0,
    store: SqliteStore | None = None,
    registry: CollectorRegistry | None = None,
) -> Daemon:
    """A daemon on the simulated switch (``ctilink demo``): the switch's driver is its single writer.

    ``sim.engine`` is the engine, or a :class:`CampaignEngine` around it (its dialer is then the
    daemon's); a bare engine is wrapped so the configured campaigns run.
    """
    runtime = sim.engine if isinstance(sim.engine, CampaignEngine) else None
    engine = runtime.engine if runtime is not None else sim.engine
    daemon = Daemon(
        config,
        engine,  # type: ignore[arg-type]  # the simulated switch's engine-like wrapper
        registry=registry,
        store=store,
        dialer=runtime.dialer if runtime is not None else None,
    )
    daemon.load_state(sim.now)
    if runtime is None:
        runtime = CampaignEngine(daemon.engine, daemon.dialer, sim.now)
        sim.engine = runtime
    daemon.runtime = runtime
    sim.on_notification.append(lambda note: daemon.notify(note, sim.now))
    sim.on_event.append(daemon.screenpop.observe_event)
    daemon.attach_runner(SimDriver(sim, speed=speed, on_snapshot=daemon.refresh), clock=lambda: sim.now)
    return daemon


def demo_contacts(campaign: str = CAMPAIGN, count: int = CAMPAIGN_CONTACTS) -> list[CampaignContact]:
    """Generated contacts with valid US numbers (555-01xx style fictional blocks are not valid)."""
    return [
        CampaignContact(
            campaign=campaign,
            contact_id=f"d{i:05d}",
            number=f"+1212{2000000 + i * 7:07d}",
            data={"name": f"Prospect {i}"},
        )
        for i in range(count)
    ]


def _fmt_ratio(value: float | None) -> str:
    return "  -  " if value is None else f"{100 * value:5.1f}%"


def progress_line(sim: SimulatedSwitch, daemon: Daemon | None = None) -> str:
    """One line for a person watching: virtual time, counts, service level, agents by state."""
    stats = sim.stats
    snap = sim.engine.snapshot(sim.now)  # type: ignore[attr-defined]
    waiting = sum(len(q.waiting) for q in snap.queues)
    oldest = max((c.wait_s for q in snap.queues for c in q.waiting), default=0.0)
    states: dict[str, int] = {}
    for agent in snap.agents:
        states[agent.state.value] = states.get(agent.state.value, 0) + 1
    t = int(sim.now)
    agents = " ".join(f"{k}={v}" for k, v in sorted(states.items()))
    asa = stats.asa_s
    return (
        f"[sim {t // 3600:02d}:{t % 3600 // 60:02d}:{t % 60:02d}] arrived={stats.arrived}"
        f" answered={stats.answered_now} abandoned={stats.abandoned} waiting={waiting} oldest={oldest:.0f}s"
        f" SL({stats.service_level_s:.0f}s)={_fmt_ratio(stats.service_level)}"
        f" ASA={'-' if asa is None else f'{asa:.1f}s'} abandon={_fmt_ratio(stats.abandon_rate)} | {agents}"
        + ("".join(_campaign_part(s) for s in daemon.campaign_stats(sim.now)) if daemon is not None else "")
    )


def _campaign_part(s: object) -> str:
    c: Any = s
    return (
        f" | {c.campaign}: dials={c.dials} ({c.dials_in_flight} in flight)"
        f" connected={c.connected} abandon={_fmt_ratio(c.abandon_rate)}"
    )


def run_demo(
    *,
    speed: float = 30.0,
    duration_s: float = 0.0,
    seed: int = 1,
    agents: int = 24,
    http: str = "127.0.0.1:8080",
    metrics: str = "127.0.0.1:9464",
    progress_every_s: float = 3.0,
    out: TextIO = sys.stdout,
) -> dict[str, object]:
    """Run the demo daemon; ``duration_s`` is wall-clock seconds (0: until interrupted)."""
    config = demo_config(agents, http=http, metrics=metrics)
    sim = build_demo(config, seed=seed)
    tmp = tempfile.TemporaryDirectory(prefix="ctilink-demo-")
    store = SqliteStore(str(Path(tmp.name) / "ctilink.db"))
    store.put_contacts(demo_contacts())
    daemon = simulated_daemon(config, sim, speed=speed, store=store)

    def report() -> None:
        while True:
            gevent.sleep(progress_every_s)
            print(progress_line(sim, daemon), file=out, flush=True)

    daemon.start()
    print(
        f"ctilink demo: {agents} agents, 3 queues, virtual clock x{speed:g}."
        f" Queue view http://{_addr(daemon.http_address)}/v1/queues,"
        f" metrics http://{_addr(daemon.metrics_address)}/metrics. Ctrl-C stops.",
        file=out,
        flush=True,
    )
    reporter = gevent.spawn(report)
    stop_event = gevent.event.Event()
    gevent.signal_handler(signal.SIGINT, stop_event.set)
    gevent.signal_handler(signal.SIGTERM, stop_event.set)
    started = time.monotonic()
    stop_event.wait(timeout=duration_s if duration_s > 0 else None)
    reporter.kill()
    daemon.stop()
    print(progress_line(sim, daemon), file=out, flush=True)
    summary = sim.stats.summary()
    summary["wall_s"] = round(time.monotonic() - started, 1)
    summary["virtual_s"] = round(sim.now, 1)
    summary["campaigns"] = [
        {
            "campaign": c.campaign,
            "connected": c.connected,
            "abandoned": c.abandoned,
            "abandon_rate": round(c.abandon_rate, 4),
        }
        for c in daemon.campaign_stats(sim.now)
    ]
    tmp.cleanup()
    return summary


def _addr(address: tuple[str, int] | None) -> str:
    if address is None:
        return "(disabled)"
    return f"{address[0]}:{address[1]}"
