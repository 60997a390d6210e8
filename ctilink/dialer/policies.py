"""Baseline pacers: progressive, fixed power ratio, a look-ahead rule, and a VICIdial-style
adaptive dial level.

Rules:
- Same interface as :class:`~ctilink.dialer.pacer.PredictivePacer` (``name`` and
  ``dials_to_place(snapshot) -> int``), same purity: no clock, no I/O, no randomness. They exist so
  the benchmark (``bench/dialer_sim.py``) and users can compare policies on identical inputs, and
  so a campaign can be run with a plain policy when predictive dialing is not wanted.

Theory of operation:
- :class:`ProgressivePacer`: one line per idle agent, counting lines already out. Never abandons
  (each live answer has an idle agent waiting for it), wastes the agent's time during ringing.
- :class:`PowerPacer`: a fixed number of lines per idle agent (``ratio``), no feedback at all.
- :class:`LookAheadPacer`: the classic expected-value rule of predictive dialers. Over the same
  horizon as the predictive pacer's (median live ring + AMD verdict + connect deadline), agents
  expected free = idle + each busy agent's chance to finish by then from the *mean* talk and
  wrap-up (a constant rate: no time-in-phase, no distribution); live answers expected = waiting
  dials + answered ones x live share + ringing ones x the live share of dials. It adds dials while
  free - live stays ``margin`` standard deviations above zero (a normal approximation, variances
  of Bernoullis), never fewer than progressive, progressive until it has seen ``warmup_live``
  live answers. One fixed knob and no feedback: tuned per campaign it is the strongest fixed
  policy to compare with (the plain expected-value rule, margin 0, abandons 40 % here).
- :class:`AdaptiveDialLevelPacer` follows the behaviour VICIdial documents for its ADAPT dial
  methods (re-implemented from the description, not from its code): lines out = dial level x
  active agents (idle + talking; agents in wrap-up are paused in VICIdial's model) minus calls in
  progress (ringing, waiting and connected). Every ``adapt_every_s`` the level moves: up when agents
  sat waiting for calls, down when live calls waited for agents, with a step scaled by
  ``intensity``; it is bounded by ``[1, maximum_level]`` (``adaptive_maximum_level``, default 3.0).
  With the hard-limit method, once the measured drop percentage reaches ``dropped_percentage`` the
  level drops to 1.0 and stays there until the percentage is back under the limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ctilink.dialer.pacer import AgentPhase, DialPhase, Outcome, PacerSnapshot


@dataclass
class ProgressivePacer:
    name: str = "progressive"

    def dials_to_place(self, snapshot: PacerSnapshot) -> int:
        return snapshot.progressive()


@dataclass
class PowerPacer:
    """``ratio`` lines per idle agent (a blind over-dial)."""

    ratio: float = 2.0
    name: str = "power"

    def dials_to_place(self, snapshot: PacerSnapshot) -> int:
        idle = sum(1 for a in snapshot.agents if a.phase is AgentPhase.IDLE)
        want = int(self.ratio * idle) - len(snapshot.dials)
        return max(0, min(snapshot.headroom, want))


@dataclass
class LookAheadPacer:
    """Live answers expected by the horizon kept ``margin`` standard deviations under the agents
    expected free (see the module docstring)."""

    margin: float = 1.0
    warmup_live: int = 20
    name: str = "lookahead"

    def dials_to_place(self, snapshot: PacerSnapshot) -> int:
        progressive = snapshot.progressive()
        stats = snapshot.stats
        mix = stats.outcome_mix()
        p_live = mix.get(Outcome.LIVE, 0.0)
        if stats.live_total < self.warmup_live or p_live <= 0.0:
            return progressive
        horizon = (
            stats.ring[Outcome.LIVE].quantile(0.5, 7.0) + stats.verdict.quantile(0.5, 0.0) + snapshot.connect_deadline_s
        )
        talk, wrap = stats.talk.mean(180.0), stats.wrap.mean(15.0)
        answered_live = p_live / max(p_live + mix.get(Outcome.MACHINE, 0.0), 1e-9)
        mean = var = 0.0  # of (agents free - live answers) at the horizon
        for agent in snapshot.agents:
            p = 1.0 if agent.phase is AgentPhase.IDLE else 0.0
            if agent.phase is AgentPhase.WRAP_UP:
                p = min(1.0, horizon / max(wrap, 1e-9))
            elif agent.phase is AgentPhase.TALKING:
                p = min(1.0, horizon / max(talk + wrap, 1e-9))
            mean, var = mean + p, var + p * (1.0 - p)
        for dial in snapshot.dials:
            p = {DialPhase.WAITING: 1.0, DialPhase.ANSWERED: answered_live}.get(dial.phase, p_live)
            mean, var = mean - p, var + p * (1.0 - p)
        k = 0
        budget = snapshot.headroom
        # the next dial only while its live answer still leaves the margin
        while k < budget and mean - p_live - self.margin * math.sqrt(var + p_live * (1.0 - p_live)) >= 0.0:
            k += 1
            mean, var = mean - p_live, var + p_live * (1.0 - p_live)
        return max(progressive, k)


@dataclass
class AdaptiveDialLevelPacer:
    """VICIdial-style ADAPT_HARD_LIMIT dial level (see the module docstring)."""

    dropped_percentage: float = 3.0
    maximum_level: float = 3.0
    intensity: float = 0.0
    adapt_every_s: float = 15.0
    name: str = "vicidial_adapt"
    level: float = 1.0
    _last_adapt: float | None = None
    _idle_sum: float = 0.0
    _waiting_sum: float = 0.0
    _samples: int = 0

    def dials_to_place(self, snapshot: PacerSnapshot) -> int:
        idle = sum(1 for a in snapshot.agents if a.phase is AgentPhase.IDLE)
        talking = sum(1 for a in snapshot.agents if a.phase in (AgentPhase.TALKING, AgentPhase.RESERVED))
        waiting = sum(1 for d in snapshot.dials if d.phase is DialPhase.WAITING)
        self._idle_sum += idle
        self._waiting_sum += waiting
        self._samples += 1
        if self._last_adapt is None:
            self._last_adapt = snapshot.now
        elif snapshot.now - self._last_adapt >= self.adapt_every_s:
            self._adapt(snapshot)
        active = idle + talking
        # calls in progress include the connected ones (talking agents), as in VICIdial's count
        in_progress = len(snapshot.dials) + talking
        want = int(self.level * active) - in_progress
        return max(0, min(snapshot.headroom, want))

    def _adapt(self, snapshot: PacerSnapshot) -> None:
        stats = snapshot.stats
        drop_pct = 100.0 * stats.lifetime_rate()
        mean_idle = self._idle_sum / max(1, self._samples)
        mean_waiting = self._waiting_sum / max(1, self._samples)
        self._idle_sum = self._waiting_sum = 0.0
        self._samples = 0
        self._last_adapt = snapshot.now
        if stats.live_total and drop_pct >= self.dropped_percentage:
            self.level = 1.0  # hard limit: no aggressive dialing until the rate is back under
            return
        agents = max(1, len(snapshot.agents))
        # intensity > 0 climbs faster and falls slower; < 0 the other way round
        up = 0.1 * (1.0 + 0.1 * self.intensity)
        down = 0.1 * (1.0 - 0.1 * self.intensity)
        # the closer to the drop limit, the more cautious the climb
        headroom = max(0.0, 1.0 - drop_pct / self.dropped_percentage)
        if mean_waiting > 0.05:
            self.level -= down * self.level * min(1.0, mean_waiting / agents * 4.0)
        elif mean_idle > 0.0:
            self.level += up * headroom * min(1.0, mean_idle / agents * 4.0) * self.level
        self.level = min(self.maximum_level, max(1.0, self.level))


__all__ = ["AdaptiveDialLevelPacer", "LookAheadPacer", "PowerPacer", "ProgressivePacer"]
