"""The outbound model both pacing benchmarks share: who answers, when, what AMD says, how agents work.

``bench/dialer_sim.py`` runs it on the daemon's real path (the simulated switch executes it) and
``bench/dialer_loop.py`` in a compact event loop of its own; both read these numbers and nothing
else, so a figure that differs between them is a difference of the path, not of the model.

The model (``Model()``; ``Model.basic()`` turns the AMD errors, the machines' own ring and the
changing answer rate off):
- A dial is busy with 0.1 (known within the switch's progress delay, 0.05 s), answered with
  ``p_answer`` (= ``p_human`` + 0.15), otherwise it rings out at the 20 s ring timeout. Of the
  answers, 0.15 / ``p_answer`` are machines. People answer after a lognormal ring (mean 7 s, sd
  4 s); machines after their own (mean 14 s, sd 3 s: a voicemail box picks up after four rings).
  A ring longer than the timeout is a no-answer.
- The answer rate changes through the day: ``p_answer`` times 1.0, 0.75, 1.15, 0.9 in turn, two
  hours each (a lunch dip, an evening peak), repeating; the machine share stays.
- AMD is on: its verdict comes 2-4 s after the answer (uniform) for people and machines alike, and
  the 2-second connect deadline starts then. It calls 3 % of people machines (they are hung up on:
  a false positive, no live answer under the FCC's count) and 10 % of machines people (they are
  connected to an agent, who hears a greeting for a lognormal 10 s (sd 4 s), hangs up and marks the
  call ``machine``: it leaves the live answers).
- People wait silently once answered; bridged, they talk a lognormal 180 s (sd 150 s) and hang up.
- Agents log in at uniformly random moments of the first 10 minutes (the first half of a shorter
  shift) and stay all shift. Their phones answer an offer after 0.2-0.6 s (uniform); after a call
  they end wrap-up after a lognormal 15 s (sd 10 s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ctilink.dialer.pacer import PredictivePacer
from ctilink.dialer.policies import AdaptiveDialLevelPacer, LookAheadPacer, PowerPacer, ProgressivePacer

POLICIES = ("progressive", "power", "lookahead", "vicidial_adapt", "ctilink")
# --tune: the fixed policies' knobs tried; each configuration reports the best whose every seed
# stays at or under the cap, as ``power_tuned(R)`` / ``lookahead_tuned(Z)``.
TUNE_GRID: dict[str, tuple[float, ...]] = {
    "power": (1.4, 1.6, 1.8, 2.0, 2.2, 2.6, 3.0, 3.5, 4.0),
    "lookahead": (1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0),
}


@dataclass(frozen=True)
class Model:
    p_human: float = 0.30
    p_machine: float = 0.15
    p_busy: float = 0.10
    ring_timeout_s: float = 20.0
    human_ring: tuple[float, float] = (7.0, 4.0)  # lognormal (mean, sd)
    machine_ring: tuple[float, float] | None = (14.0, 3.0)  # None: as people's
    answer_factors: tuple[float, ...] = (1.0, 0.75, 1.15, 0.9)  # p_answer x each, in turn
    answer_period_s: float = 7200.0
    amd_delay: tuple[float, float] = (2.0, 4.0)  # uniform
    amd_false_positive: float = 0.03
    amd_miss: float = 0.10
    machine_talk: tuple[float, float] = (10.0, 4.0)
    talk: tuple[float, float] = (180.0, 150.0)
    wrap: tuple[float, float] = (15.0, 10.0)
    agent_ring: tuple[float, float] = (0.2, 0.6)  # uniform
    login_spread_s: float = 600.0
    deadline_s: float = 2.0
    target: float = 0.03
    # the share of AMD hang-ups counted as abandons (the campaign's machine_abandon_weight): 0 as
    # the FCC counts; the estimated false positives' share where the rule counts them (Ofcom)
    machine_abandon_weight: float = 0.0

    @classmethod
    def basic(cls, **kw: object) -> Model:
        """No AMD errors, machines ring like people, a steady answer rate (``kw`` overrides)."""
        plain: dict[str, object] = {
            "machine_ring": None,
            "answer_factors": (1.0,),
            "amd_false_positive": 0.0,
            "amd_miss": 0.0,
        }
        return cls(**{**plain, **kw})  # type: ignore[arg-type]

    def with_p_human(self, p_human: float) -> Model:
        p_answer = p_human + self.p_machine
        if not 0 < p_answer * max(self.answer_factors) <= 1 - self.p_busy:
            raise ValueError(f"p_human: {p_human} leaves no room for the busy share at the peak answer rate")
        return replace(self, p_human=p_human)

    @property
    def p_answer(self) -> float:
        return self.p_human + self.p_machine

    @property
    def machine_share(self) -> float:
        return self.p_machine / self.p_answer

    def answer_rate(self, elapsed_s: float) -> float:
        """p_answer ``elapsed_s`` into the shift."""
        step = int(elapsed_s // self.answer_period_s) % len(self.answer_factors)
        return self.p_answer * self.answer_factors[step]

    def answer_schedule(self, hours: float) -> tuple[tuple[float, float], ...]:
        """The changing rate as the simulated switch's ``answer_schedule`` steps."""
        if len(self.answer_factors) == 1:
            return ()
        steps = math.ceil(hours * 3600.0 / self.answer_period_s) + 1
        return tuple((i * self.answer_period_s, self.answer_rate(i * self.answer_period_s)) for i in range(steps))


def make_pacer(name: str, target: float = 0.03) -> object:
    """A policy by name; ``power:R`` and ``lookahead:Z`` set the fixed policies' knob."""
    family, _, param = name.partition(":")
    if family == "progressive" and not param:
        return ProgressivePacer()
    if family == "power":
        return PowerPacer(ratio=float(param or 2.0))
    if family == "lookahead":
        return LookAheadPacer(margin=float(param or 1.0))
    if family == "vicidial_adapt" and not param:
        return AdaptiveDialLevelPacer(dropped_percentage=100 * target, maximum_level=3.0)
    if family == "ctilink" and not param:
        return PredictivePacer()
    raise ValueError(f"unknown policy {name!r}; expected one of {', '.join(POLICIES)} (power:R, lookahead:Z)")


def lognormal_params(mean: float, sd: float) -> tuple[float, float]:
    """(mu, sigma) of the lognormal with this mean and standard deviation."""
    sigma2 = math.log(1.0 + (sd * sd) / (mean * mean))
    return math.log(mean) - sigma2 / 2.0, math.sqrt(sigma2)


__all__ = ["POLICIES", "TUNE_GRID", "Model", "lognormal_params", "make_pacer"]
