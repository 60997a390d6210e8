"""The pacing benchmark's fast mode: the shared model (``dialer_model.py``) in a compact event loop.

``bench/dialer_sim.py --mode loop`` runs this instead of the daemon's path; the pacers are the very
classes the dialer uses and they are fed as the dialer feeds them (ring time and outcome at the
AMD verdict, the verdict's delay, live answers settled connected or abandoned, talk and wrap-up
times, a machine an agent marked corrected after its wrap-up), and they see what the dialer shows
them: agents logged in, an agent whose phone rings for an offer ``reserved``, a dial that has a
connected agent gone from the dials. What the loop leaves out of the real path: ESL commands and
events, the engine's routing (the longest-idle agent takes the oldest waiting answer here), the
switch's latencies other than the busy leg's progress delay. It is 5-10x faster, for sweeping a
knob; the figures to quote are the daemon path's (``docs/dialer.md`` shows the two side by side).
"""

from __future__ import annotations

import heapq
import random
from collections import defaultdict, deque
from typing import Any

from dialer_model import Model, lognormal_params, make_pacer

from ctilink.dialer.pacer import AgentPhase, AgentView, DialPhase, DialStats, DialView, Outcome, PacerSnapshot

PROGRESS_S = 0.05
MIN_LIVE_PER_HOUR = 20


class _Dial:
    __slots__ = ("agent", "at", "human", "phase", "placed", "ring", "verdict_s")

    def __init__(self, placed: float, human: bool, ring: float) -> None:
        self.placed = placed
        self.human = human
        self.ring = ring
        self.phase = DialPhase.RINGING
        self.agent: int | None = None  # the agent whose phone rings for it
        self.at = 0.0  # when it became a live answer
        self.verdict_s = 0.0


class Loop:
    """One shift; see the module docstring. ``run()`` returns the figures."""

    def __init__(self, n: int, policy: str, seed: int, hours: float, model: Model) -> None:
        self.n, self.model, self.hours = n, model, hours
        self.shift = hours * 3600.0
        self.leads = random.Random(f"leads-{seed}")
        self.people = random.Random(f"people-{seed}")
        self.pacer: Any = make_pacer(policy, model.target)
        self.stats = DialStats()
        self.phase: list[AgentPhase | None] = [None] * n  # None: not logged in yet
        self.since = [0.0] * n
        self.idle_since = [0.0] * n
        self.logged_in_s = 0.0
        self.talk_s = 0.0
        self.dials: dict[int, _Dial] = {}
        self.waiting: deque[int] = deque()
        self.heap: list[tuple[float, int, str, int]] = []
        self.seq = 0
        self.next_id = 0
        self.hourly: dict[int, list[int]] = defaultdict(lambda: [0, 0])  # hour -> [abandoned, live]
        self.connected_people = 0
        self.machine_call: dict[int, float] = {}  # agent -> when their machine call was settled
        self.dialed = 0
        logins = random.Random(f"logins-{seed}")
        spread = min(model.login_spread_s, self.shift / 2)
        for i in range(n):
            at = logins.uniform(0.0, spread)
            self.push(at, "login", i)
            self.logged_in_s += self.shift - at

    # -- plumbing -------------------------------------------------------------------------------
    def push(self, t: float, kind: str, ref: int) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, kind, ref))

    def draw(self, rng: random.Random, mean_sd: tuple[float, float]) -> float:
        mu, sigma = lognormal_params(*mean_sd)
        return rng.lognormvariate(mu, sigma)

    # -- the pacer ------------------------------------------------------------------------------
    def decide(self, t: float) -> None:
        if t >= self.shift:
            return
        agents = [AgentView(p, t - self.since[i]) for i, p in enumerate(self.phase) if p is not None]
        snap = PacerSnapshot(
            now=t,
            agents=agents,
            dials=[DialView(d.phase, t - d.placed) for d in self.dials.values()],
            stats=self.stats,
            abandon_target=self.model.target,
            abandon_cap=self.model.target,
            max_lines=4 * max(1, len(agents)),
            connect_deadline_s=self.model.deadline_s,
            ring_timeout_s=self.model.ring_timeout_s,
        )
        for _ in range(self.pacer.dials_to_place(snap)):
            self.place(t)

    def place(self, t: float) -> None:
        m, rng = self.model, self.leads
        ident = self.next_id
        self.next_id += 1
        self.dialed += 1
        draw = rng.random()
        if draw < m.p_busy:
            self.dials[ident] = _Dial(t, False, PROGRESS_S)
            self.push(t + PROGRESS_S, "busy", ident)
            return
        if draw >= m.p_busy + m.answer_rate(t):
            self.dials[ident] = _Dial(t, False, m.ring_timeout_s)
            self.push(t + m.ring_timeout_s, "no_answer", ident)
            return
        machine = rng.random() < m.machine_share
        ring = self.draw(rng, m.machine_ring if machine and m.machine_ring else m.human_ring)
        verdict_s = rng.uniform(*m.amd_delay)
        wrong = rng.random() < (m.amd_miss if machine else m.amd_false_positive)
        dial = _Dial(t, not machine, ring)
        dial.verdict_s = verdict_s
        self.dials[ident] = dial
        if ring >= m.ring_timeout_s:
            self.push(t + m.ring_timeout_s, "no_answer", ident)
            return
        self.push(t + ring, "answer", ident)
        says_machine = machine != wrong
        self.push(t + ring + verdict_s, "machine" if says_machine else "live", ident)

    # -- agents ---------------------------------------------------------------------------------
    def set_phase(self, agent: int, phase: AgentPhase, t: float) -> None:
        self.phase[agent] = phase
        self.since[agent] = t
        if phase is AgentPhase.IDLE:
            self.idle_since[agent] = t
            self.serve(t)

    def serve(self, t: float) -> None:
        """The longest-idle agent takes the oldest live answer waiting without an agent."""
        while self.waiting:
            ident = self.waiting[0]
            dial = self.dials.get(ident)
            if dial is None or dial.agent is not None:
                self.waiting.popleft()
                continue
            idle = [i for i, p in enumerate(self.phase) if p is AgentPhase.IDLE]
            if not idle:
                return
            agent = min(idle, key=lambda i: self.idle_since[i])
            self.waiting.popleft()
            dial.agent = agent
            self.phase[agent] = AgentPhase.RESERVED
            self.since[agent] = t
            self.push(t + self.people.uniform(*self.model.agent_ring), "agent_answer", ident)

    # -- the loop -------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        self.push(0.0, "tick", 0)
        handlers = {
            "tick": self.on_tick,
            "login": self.on_login,
            "busy": self.on_unanswered,
            "no_answer": self.on_unanswered,
            "answer": self.on_answer,
            "machine": self.on_machine,
            "live": self.on_live,
            "agent_answer": self.on_agent_answer,
            "deadline": self.on_deadline,
            "talk_end": self.on_talk_end,
            "wrap_end": self.on_wrap_end,
        }
        while self.heap:
            t, _, kind, ref = heapq.heappop(self.heap)
            handlers[kind](t, ref)
        return self.figures()

    def on_tick(self, t: float, _: int) -> None:
        self.decide(t)
        if t < self.shift or self.dials:
            self.push(t + 1.0, "tick", 0)

    def on_login(self, t: float, agent: int) -> None:
        self.set_phase(agent, AgentPhase.IDLE, t)
        self.decide(t)

    def on_unanswered(self, t: float, ident: int) -> None:
        dial = self.dials.pop(ident)
        self.stats.dial_ended(
            Outcome.NO_ANSWER if dial.ring >= self.model.ring_timeout_s else Outcome.BUSY, t - dial.placed
        )
        self.decide(t)

    def on_answer(self, t: float, ident: int) -> None:
        self.dials[ident].phase = DialPhase.ANSWERED

    def on_machine(self, t: float, ident: int) -> None:
        dial = self.dials.pop(ident)
        self.stats.dial_ended(Outcome.MACHINE, dial.ring)
        if self.model.machine_abandon_weight:
            self.stats.counted_machine_hangup(self.model.machine_abandon_weight)
        self.decide(t)

    def on_live(self, t: float, ident: int) -> None:
        dial = self.dials[ident]
        self.stats.dial_ended(Outcome.LIVE, dial.ring)
        self.stats.live_known(dial.verdict_s)
        dial.phase = DialPhase.WAITING
        dial.at = t
        self.waiting.append(ident)
        self.push(t + self.model.deadline_s, "deadline", ident)
        self.serve(t)

    def on_agent_answer(self, t: float, ident: int) -> None:
        dial = self.dials.get(ident)
        if dial is None or dial.agent is None:
            return  # the deadline came first
        agent = dial.agent
        del self.dials[ident]
        self.stats.live_answer(t, False)
        self._hour(dial, abandoned=False)
        self.set_phase(agent, AgentPhase.TALKING, t)
        length = self.draw(self.people, self.model.talk if dial.human else self.model.machine_talk)
        self.push(t + length, "talk_end", agent)
        if not dial.human:
            self.machine_call[agent] = t  # the agent will mark it after the wrap-up
        elif dial.placed < self.shift:
            self.connected_people += 1
        self.decide(t)

    def on_deadline(self, t: float, ident: int) -> None:
        dial = self.dials.get(ident)
        if dial is None:
            return
        del self.dials[ident]
        self.stats.live_answer(t, True)
        self._hour(dial, abandoned=True)
        if dial.agent is not None:  # the offer is called off: the agent is free again
            self.set_phase(dial.agent, AgentPhase.IDLE, t)
        self.decide(t)

    def on_talk_end(self, t: float, agent: int) -> None:
        start = self.since[agent]
        self.talk_s += max(0.0, min(t, self.shift) - start)
        self.stats.talk_ended(t - start)
        self.set_phase(agent, AgentPhase.WRAP_UP, t)
        self.push(t + self.draw(self.people, self.model.wrap), "wrap_end", agent)

    def on_wrap_end(self, t: float, agent: int) -> None:
        self.stats.wrap_ended(t - self.since[agent])
        settled = self.machine_call.pop(agent, None)
        if settled is not None:  # the record with the agent's "machine": no live answer after all
            self.stats.machine_after_all(settled)
        self.set_phase(agent, AgentPhase.IDLE, t)
        self.decide(t)

    def _hour(self, dial: _Dial, abandoned: bool) -> None:
        if not dial.human and not abandoned:
            return  # a machine the agent will mark: no live answer
        bucket = self.hourly[int(dial.placed // 3600)]
        bucket[1] += 1
        bucket[0] += int(abandoned)

    def figures(self) -> dict[str, Any]:
        stats = self.stats
        rates = [a / live for a, live in self.hourly.values() if live >= MIN_LIVE_PER_HOUR]
        return {
            "occupancy": self.talk_s / self.logged_in_s if self.logged_in_s else 0.0,
            "abandon_rate": stats.lifetime_rate(),
            "abandon_rate_worst_hour": max(rates) if rates else None,
            "contacts_per_agent_hour": self.connected_people / (self.n * self.hours),
            "live_answers": stats.live_total,
            "abandoned": stats.abandoned_total,
            "dials": self.dialed,
            "unsettled": len(self.dials),
            "switch_errors": 0,
        }


def simulate(n: int, policy: str, seed: int, hours: float, model: Model) -> dict[str, Any]:
    return Loop(n, policy, seed, hours, model).run()


__all__ = ["Loop", "simulate"]
