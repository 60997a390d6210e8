"""Baseline pacers: progressive, fixed power ratio, and a VICIdial-style adaptive dial level.

Rules:
- Same interface as :class:`~ctilink.dialer.pacer.PredictivePacer` (``name`` and
  ``dials_to_place(snapshot) -> int``), same purity: no clock, no I/O, no randomness. They exist so
  the benchmark (``bench/dialer_sim.py``) and users can compare policies on identical inputs, and
  so a campaign can be run with a plain policy when predictive dialing is not wanted.

Theory of operation:
- :class:`ProgressivePacer`: one line per idle agent, counting lines already out. Never abandons
  (each live answer has an idle agent waiting for it), wastes the agent's time during ringing.
- :class:`PowerPacer`: a fixed number of lines per idle agent (``ratio``), no feedback at all.
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

from dataclasses import dataclass

from ctilink.dialer.pacer import AgentPhase, DialPhase, PacerSnapshot


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


__all__ = ["AdaptiveDialLevelPacer", "PowerPacer", "ProgressivePacer"]
