"""The predictive pacer: how many dials to place now. A pure library object, no I/O.

Rules:
- A pacer sees one :class:`PacerSnapshot` (the campaign's agents with their phase and time in
  phase, its dials in flight with their phase and elapsed time, its :class:`DialStats`, the abandon
  target and cap, the line limit) and returns a count of new dials, ``0 <= n <= line headroom``.
  It never reads a clock, never sleeps, never draws random numbers and never knows about
  contacts, switches, agents' identities or the engine. Any object with ``name`` and
  ``dials_to_place(snapshot) -> int`` is a pacer (:class:`Pacer`); the baselines live in
  ``policies.py``, and ``bench/dialer_sim.py`` compares them on the daemon's path.
- :class:`DialStats` is fed by whoever owns the dials (the dialer, or the benchmark): outcome of
  every dial with its ring time, every live answer with whether it was abandoned, every talk and
  wrap-up duration. It keeps bounded reservoirs, so its cost does not grow with a campaign's age.
- The abandon cap is a hard rule, the target is a setpoint: the pacer falls back to progressive
  (never more dials than free agents) whenever one more abandon could take the lifetime rate or
  the rate over the cap's window (``DialStats.cap_window_s``, 24 hours by default: the period the
  strictest rule, Ofcom's, measures over; the FCC's is 30 days) above the cap, and while it has too
  little data to predict. The one-hour rate is reported, not enforced: braking on it made the
  pacer fall back to progressive for a large share of a long shift (bursts of fallback, then
  over-dialling), for a rate no rule measures.

Theory of operation (:class:`PredictivePacer`):
- Each ringing dial turns into a live answer with probability ``P(live | still ringing after e)``,
  computed from the observed outcome mix and the ring-time distribution of each outcome (a call
  ringing for 15 s is probably a no-answer). Answered dials waiting for an agent are live for sure.
- Each agent is free by the horizon ``h`` (median live ring time + median AMD verdict delay + the
  connect deadline: when a new dial's live answer needs its agent at the latest) with a
  probability from the observed talk and wrap-up distributions conditioned on its time in its
  current phase (an agent 10 s into a 15 s wrap-up is nearly free; one 5 s into a call is not).
- Live answers ``L`` and free agents ``A`` are sums of independent Bernoullis (Poisson-binomial,
  computed exactly; a normal approximation above a size limit). The k-th new dial is placed only
  if the chance that its live answer finds every free agent taken, ``P(L + Bin(k-1, p) >= A)``,
  is at most ``tau``. Averaged over live answers that chance *is* the abandon rate, so ``tau``
  starts at the setpoint; a slow integral controller then corrects ``tau`` from each measured live
  answer (abandoned or not) so the realised rate converges on the setpoint without hand tuning.
  It learns from every answer that can come from a predicted dial: while predicting and for one
  dial's lifetime after a fall-back to progressive (ignoring those late abandons kept ``tau``
  climbing, so the rate rode on the cap instead of the setpoint).
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple, Protocol


class AgentPhase(StrEnum):
    IDLE = "idle"  # ready and free: takes the next live answer
    RESERVED = "reserved"  # being connected (or previewing): busy, about to talk
    TALKING = "talking"
    WRAP_UP = "wrap_up"


class DialPhase(StrEnum):
    RINGING = "ringing"  # placed, not answered yet
    ANSWERED = "answered"  # answered, AMD verdict pending (live or machine)
    WAITING = "waiting"  # a live answer waiting for an agent (the 2-second window)


class Outcome(StrEnum):
    """How a dial ended, as far as pacing cares."""

    LIVE = "live"
    MACHINE = "machine"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"


class AgentView(NamedTuple):
    phase: AgentPhase
    in_phase_s: float


class DialView(NamedTuple):
    phase: DialPhase
    elapsed_s: float


class Samples:
    """A bounded reservoir of the last ``size`` observations, kept sorted for quantiles."""

    __slots__ = ("_fifo", "_sorted", "size")

    def __init__(self, size: int = 400) -> None:
        self.size = size
        self._fifo: deque[float] = deque()
        self._sorted: list[float] = []

    def __len__(self) -> int:
        return len(self._fifo)

    def add(self, value: float) -> None:
        value = float(value)
        if not math.isfinite(value) or value < 0:
            return  # a broken timestamp must not poison the model
        self._fifo.append(value)
        bisect.insort(self._sorted, value)
        if len(self._fifo) > self.size:
            old = self._fifo.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, old)]

    def survival(self, x: float) -> float:
        """P(X > x); 1.0 with no data (nothing is known to have ended)."""
        n = len(self._sorted)
        if n == 0:
            return 1.0
        return (n - bisect.bisect_right(self._sorted, x)) / n

    def quantile(self, q: float, default: float) -> float:
        n = len(self._sorted)
        if n == 0:
            return default
        return self._sorted[min(n - 1, int(q * n))]

    def mean(self, default: float) -> float:
        return sum(self._fifo) / len(self._fifo) if self._fifo else default


class RollingRate:
    """Settled live answers of a trailing window: (live, abandoned) in O(1) amortised, so the cap
    check on every pacing decision costs nothing however many answers a day holds."""

    __slots__ = ("_abandons", "_answers")

    def __init__(self) -> None:
        self._answers: deque[tuple[float, bool]] = deque()
        self._abandons = 0

    def add(self, at: float, abandoned: bool) -> None:
        self._answers.append((at, abandoned))
        self._abandons += int(abandoned)

    def forget(self, at: float, abandoned: bool) -> None:
        """Take back the latest answer settled at ``at`` (a correction, rare: searched from the end)."""
        answers = self._answers
        for i in range(len(answers) - 1, -1, -1):
            if answers[i] == (at, abandoned):
                del answers[i]
                self._abandons -= int(abandoned)
                return

    def counts(self, now: float, span_s: float) -> tuple[int, int]:
        """(live answers, abandons) settled in the ``span_s`` seconds up to ``now``."""
        answers = self._answers
        while answers and answers[0][0] < now - span_s:
            _, abandoned = answers.popleft()
            self._abandons -= int(abandoned)
        return len(answers), self._abandons


@dataclass
class DialStats:
    """Outcome statistics of one campaign: lifetime counters, a rolling window, reservoirs."""

    window_s: float = 3600.0  # the reported rolling rate
    cap_window_s: float = 86400.0  # the rolling rate the cap is enforced on
    reservoir: int = 400
    outcomes: dict[Outcome, int] = field(default_factory=lambda: {o: 0 for o in Outcome})
    live_total: int = 0
    abandoned_total: int = 0
    machine_hangups_counted: float = 0.0  # AMD hang-ups counted as abandons (rules in force)
    ring: dict[Outcome, Samples] = field(default_factory=dict)
    talk: Samples = field(default_factory=Samples)
    wrap: Samples = field(default_factory=Samples)
    verdict: Samples = field(default_factory=Samples)  # answer -> "live" (the AMD verdict's delay)
    _recent: RollingRate = field(default_factory=RollingRate)  # over window_s
    _cap_recent: RollingRate = field(default_factory=RollingRate)  # over cap_window_s
    _recent_outcomes: deque[Outcome] = field(default_factory=deque)

    def __post_init__(self) -> None:
        for outcome in Outcome:
            self.ring.setdefault(outcome, Samples(self.reservoir))
        self.talk = Samples(self.reservoir)
        self.wrap = Samples(self.reservoir)
        self.verdict = Samples(self.reservoir)

    # feeding -------------------------------------------------------------------------------
    def dial_ended(self, outcome: Outcome, ring_s: float) -> None:
        """A dial's first verdict: answered live/machine (ring_s = time to answer) or not."""
        self.outcomes[outcome] += 1
        self.ring[outcome].add(ring_s)
        self._recent_outcomes.append(outcome)
        if len(self._recent_outcomes) > self.reservoir:
            self._recent_outcomes.popleft()

    def live_answer(self, now: float, abandoned: bool) -> None:
        """A live answer is settled: connected to an agent in time, or abandoned."""
        self.live_total += 1
        self.abandoned_total += int(abandoned)
        self._recent.add(now, abandoned)
        self._cap_recent.add(now, abandoned)

    def machine_after_all(self, settled_at: float) -> None:
        """A live answer settled (connected) at ``settled_at`` was a machine after all (the agent
        said so): it leaves the live answers, so the abandon rate is the legal one, abandoned live
        answers over live answers, with no machine in either."""
        if self.live_total <= 0:
            return
        self.live_total -= 1
        self.outcomes[Outcome.LIVE] = max(0, self.outcomes[Outcome.LIVE] - 1)
        self.outcomes[Outcome.MACHINE] += 1
        self._recent.forget(settled_at, False)
        self._cap_recent.forget(settled_at, False)
        outcomes = self._recent_outcomes
        for i in range(len(outcomes) - 1, -1, -1):
            if outcomes[i] is Outcome.LIVE:
                outcomes[i] = Outcome.MACHINE
                break

    def counted_machine_hangup(self, weight: float) -> None:
        """An AMD hang-up counted as an abandon in proportion ``weight`` (e.g. UK rules)."""
        self.machine_hangups_counted += weight

    def live_known(self, after_answer_s: float) -> None:
        """A live answer was known to be live ``after_answer_s`` after it was answered (the AMD
        verdict's delay; 0 without AMD): its connect deadline starts then."""
        self.verdict.add(after_answer_s)

    def talk_ended(self, talk_s: float) -> None:
        self.talk.add(talk_s)

    def wrap_ended(self, wrap_s: float) -> None:
        self.wrap.add(wrap_s)

    # reading -------------------------------------------------------------------------------
    @property
    def abandons(self) -> float:
        return self.abandoned_total + self.machine_hangups_counted

    def lifetime_rate(self) -> float:
        return self.abandons / self.live_total if self.live_total else 0.0

    def window(self, now: float) -> tuple[int, int]:
        """(live answers, abandons) in the reported rolling window ending at ``now``."""
        return self._recent.counts(now, self.window_s)

    def cap_window(self, now: float) -> tuple[int, int]:
        """(live answers, abandons) in the cap's window ending at ``now``."""
        return self._cap_recent.counts(now, self.cap_window_s)

    def outcome_mix(self) -> dict[Outcome, float]:
        """Recent share of each outcome among resolved dials (empty with no data)."""
        n = len(self._recent_outcomes)
        if n == 0:
            return {}
        mix = {o: 0.0 for o in Outcome}
        for o in self._recent_outcomes:
            mix[o] += 1.0 / n
        return mix


@dataclass(frozen=True, slots=True)
class PacerSnapshot:
    now: float
    agents: Sequence[AgentView]
    dials: Sequence[DialView]
    stats: DialStats
    abandon_target: float = 0.03
    abandon_cap: float = 0.03
    max_lines: int = 1000
    connect_deadline_s: float = 2.0
    ring_timeout_s: float = 20.0

    @property
    def headroom(self) -> int:
        return max(0, self.max_lines - len(self.dials))

    def progressive(self) -> int:
        """One line per idle agent, counting the lines already out: the zero-abandon baseline."""
        idle = sum(1 for a in self.agents if a.phase is AgentPhase.IDLE)
        return max(0, min(self.headroom, idle - len(self.dials)))


class Pacer(Protocol):
    name: str

    def dials_to_place(self, snapshot: PacerSnapshot) -> int: ...


def _poisson_binomial(probs: Sequence[float], limit: int) -> list[float]:
    """Distribution of a sum of Bernoullis, truncated: index ``limit`` holds P(X >= limit)."""
    dist = [1.0] + [0.0] * max(1, limit)
    for p in probs:
        if p > 0.0:
            dist = _add_bernoulli(dist, p)
    return dist


@dataclass
class PredictivePacer:
    """Self-tuning predictive pacer (see the module docstring for the model).

    ``warmup_live``: live answers seen before predicting (progressive until then).
    ``safety_margin``: the setpoint is ``target * (1 - safety_margin)`` so noise stays under it.
    ``gain``: integral step of ``log(tau)`` per settled live answer.
    ``max_ratio``: never more lines out than ``max_ratio`` x agents working the campaign.
    """

    name: str = "ctilink"
    warmup_live: int = 20
    safety_margin: float = 0.1
    gain: float = 0.08
    max_ratio: float = 4.0
    exact_limit: int = 4000
    _log_tau: float | None = None
    _seen_live: int = 0
    _seen_abandons: int = 0
    _predicted_at: float | None = None  # the last decision that predicted (not progressive)

    def tau(self, target: float) -> float:
        setpoint = target * (1.0 - self.safety_margin)
        if self._log_tau is None:
            self._log_tau = math.log(max(setpoint, 1e-6))
        return math.exp(self._log_tau)

    def _learn(self, snap: PacerSnapshot) -> float:
        """Integral control: each settled live answer nudges tau toward the setpoint's rate."""
        setpoint = snap.abandon_target * (1.0 - self.safety_margin)
        tau = self.tau(snap.abandon_target)
        stats = snap.stats
        new_live = stats.live_total - self._seen_live
        new_abandons = stats.abandoned_total - self._seen_abandons
        if new_live > 0 and self._learning(snap):
            assert self._log_tau is not None
            self._log_tau += self.gain * (setpoint * new_live - new_abandons)
            lo, hi = math.log(max(setpoint / 30.0, 1e-6)), math.log(min(0.5, setpoint * 8.0))
            self._log_tau = min(hi, max(lo, self._log_tau))
            tau = math.exp(self._log_tau)
        self._seen_live, self._seen_abandons = stats.live_total, stats.abandoned_total
        return tau

    def _learning(self, snap: PacerSnapshot) -> bool:
        """Whether answers settling now can come from dials placed while predicting: until one
        dial's lifetime (ring timeout, AMD verdict, connect deadline) after the last prediction.
        Answers of a progressive spell teach nothing about ``tau``; the abandons of aggressive dials
        that settle after a fall-back to progressive must still lower it."""
        if self._predicted_at is None:
            return False
        lifetime = snap.ring_timeout_s + snap.stats.verdict.quantile(0.9, 0.0) + snap.connect_deadline_s
        return snap.now - self._predicted_at <= lifetime

    def cap_at_risk(self, snap: PacerSnapshot) -> bool:
        stats = snap.stats
        pending = 1 + sum(1 for d in snap.dials if d.phase is DialPhase.WAITING)
        cap = snap.abandon_cap
        if (stats.abandons + pending) > cap * (stats.live_total + pending):
            return True
        live, abandoned = stats.cap_window(snap.now)
        return live > 0 and (abandoned + pending) > cap * (live + pending)

    def dials_to_place(self, snap: PacerSnapshot) -> int:
        tau = self._learn(snap)
        progressive = snap.progressive()
        stats = snap.stats
        if stats.live_total < self.warmup_live or self.cap_at_risk(snap):
            return progressive
        mix = stats.outcome_mix()
        p_live = mix.get(Outcome.LIVE, 0.0)
        working = snap.agents
        if p_live <= 0.0 or not working:
            return progressive
        self._predicted_at = snap.now
        live_ring = stats.ring[Outcome.LIVE]
        # A new dial needs its agent when it is known to be live (ring, then the AMD verdict) and
        # at the latest the connect deadline after that.
        horizon = live_ring.quantile(0.5, 7.0) + stats.verdict.quantile(0.5, 0.0) + snap.connect_deadline_s
        live_probs = self._live_probs(snap, mix, p_live)
        idle, free_probs = self._free_probs(stats, working, horizon)
        budget = min(snap.headroom, int(self.max_ratio * len(working)) - len(snap.dials))
        if budget <= 0:
            return 0
        free_probs = [p for p in free_probs if p > 1e-4]  # nearly-sure-busy agents change nothing
        free = _poisson_binomial(free_probs, len(free_probs) + 1)
        free_dist = [0.0] * idle + free  # shift by the idle agents
        if len(live_probs) * len(free_dist) <= self.exact_limit:
            k = _exact_dials(live_probs, free_dist, p_live, budget, tau)
        else:
            k = _normal_dials(live_probs, free_probs, idle, p_live, budget, tau)
        return max(progressive, min(k, budget))

    def _live_probs(self, snap: PacerSnapshot, mix: dict[Outcome, float], p_live: float) -> list[float]:
        """Each dial in flight's chance of a live answer: waiting for an agent, answered, or ringing."""
        live_probs: list[float] = []
        amd_live = p_live / max(p_live + mix.get(Outcome.MACHINE, 0.0), 1e-9)
        for dial in snap.dials:
            if dial.phase is DialPhase.WAITING:
                live_probs.append(1.0)
            elif dial.phase is DialPhase.ANSWERED:
                live_probs.append(amd_live)
            else:
                live_probs.append(self._live_given_ringing(snap.stats, mix, dial.elapsed_s, snap.ring_timeout_s))
        return live_probs

    def _free_probs(self, stats: DialStats, working: Sequence[AgentView], horizon: float) -> tuple[int, list[float]]:
        """The idle agents, and each busy agent's chance of being free by the horizon."""
        free_probs: list[float] = []
        idle = 0
        wrap = stats.wrap
        wrap_qs = [wrap.quantile(q, 15.0) for q in (0.1, 0.3, 0.5, 0.7, 0.9)]
        for agent in working:
            if agent.phase is AgentPhase.IDLE:
                idle += 1
            elif agent.phase is AgentPhase.WRAP_UP:
                s = wrap.survival(agent.in_phase_s)
                free_probs.append(0.0 if s <= 0 else max(0.0, s - wrap.survival(agent.in_phase_s + horizon)) / s)
            elif agent.phase is AgentPhase.TALKING:
                free_probs.append(self._free_while_talking(stats, agent.in_phase_s, horizon, wrap_qs))
        return idle, free_probs

    @staticmethod
    def _live_given_ringing(stats: DialStats, mix: dict[Outcome, float], elapsed: float, timeout: float) -> float:
        if elapsed >= timeout:
            return 0.0
        weights = {o: share * stats.ring[o].survival(elapsed) for o, share in mix.items() if share > 0}
        total = sum(weights.values())
        if total <= 0.0:
            return 0.0
        return weights.get(Outcome.LIVE, 0.0) / total

    @staticmethod
    def _free_while_talking(stats: DialStats, elapsed: float, horizon: float, wrap_qs: list[float]) -> float:
        talk = stats.talk
        s = talk.survival(elapsed)
        if s <= 0.0:
            return 0.0  # longer than anything seen: no basis to predict an end
        total = 0.0
        for w in wrap_qs:
            edge = elapsed + horizon - w
            if edge > elapsed:
                total += (s - talk.survival(edge)) / s
        return total / len(wrap_qs)


def _exact_dials(live_probs: list[float], free_dist: list[float], p_live: float, budget: int, tau: float) -> int:
    """New dials while the exact abandon chance of the next one stays at most ``tau``."""
    k = 0
    live = _poisson_binomial(live_probs, len(free_dist) + 1)
    while k < budget:
        if _exact_abandon(live, free_dist) > tau:
            break
        k += 1
        live = _add_bernoulli(live, p_live)
    return k


def _exact_abandon(live: list[float], free_dist: list[float]) -> float:
    """P(L >= A): the next dial's live answer finds no free agent."""
    tail = 1.0
    p_abandon = 0.0
    for a, pa in enumerate(free_dist):
        if a > 0:
            tail -= live[a - 1]
        if pa > 0.0:
            p_abandon += pa * max(0.0, tail)
    return p_abandon


def _normal_dials(
    live_probs: list[float], free_probs: list[float], idle: int, p_live: float, budget: int, tau: float
) -> int:
    """As :func:`_exact_dials`, with L and A approximated by normals (too many terms to convolve)."""
    mu_l = sum(live_probs)
    var_l = sum(p * (1 - p) for p in live_probs)
    mu_a = idle + sum(free_probs)
    var_a = sum(p * (1 - p) for p in free_probs)
    k = 0
    while k < budget:
        sd = math.sqrt(var_l + var_a) or 1e-9
        p_abandon = 0.5 * math.erfc(((mu_a - mu_l) - 0.5) / (sd * math.sqrt(2.0)))
        if p_abandon > tau:
            break
        k += 1
        mu_l += p_live
        var_l += p_live * (1 - p_live)
    return k


def _add_bernoulli(dist: list[float], p: float) -> list[float]:
    limit = len(dist) - 1
    out = dist[:]
    out[limit] = dist[limit] + dist[limit - 1] * p
    for i in range(limit - 1, 0, -1):
        out[i] = dist[i] * (1 - p) + dist[i - 1] * p
    out[0] = dist[0] * (1 - p)
    return out


__all__ = [
    "AgentPhase",
    "AgentView",
    "DialPhase",
    "DialStats",
    "DialView",
    "Outcome",
    "Pacer",
    "PacerSnapshot",
    "PredictivePacer",
    "RollingRate",
    "Samples",
]
