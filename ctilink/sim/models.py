"""Behaviour models for the simulated switch: distributions, callers, agents, switch timing.

Rules:
- Models are frozen dataclasses of plain numbers; they validate themselves on construction and a bad
  value raises :class:`ValueError` naming the field and what was expected.
- A model never owns randomness: ``sample(rng)`` takes the :class:`random.Random` to draw from, so the
  simulator decides which seeded stream each decision uses (and runs are reproducible).
- Durations are seconds. ``math.inf`` is a valid patience (a caller who never gives up).

Theory of operation: the simulator asks these models "how long until this caller gives up?", "does
this agent answer, and after how long?", "how long do they talk?". The models know nothing about
channels, events or the engine.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Literal


def _check(name: str, value: float, *, low: float = 0.0, high: float = math.inf, inf_ok: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    if math.isnan(value) or (math.isinf(value) and not inf_ok):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name}: expected a value in [{low}, {high}], got {value!r}")


def _probability(name: str, value: float) -> None:
    _check(name, value, low=0.0, high=1.0)


@dataclass(frozen=True, slots=True)
class Fixed:
    """Always ``value`` seconds (``math.inf`` allowed: never)."""

    value: float

    def __post_init__(self) -> None:
        _check("Fixed.value", self.value, inf_ok=True)

    def sample(self, rng: random.Random) -> float:
        return float(self.value)

    @property
    def mean(self) -> float:
        return float(self.value)


@dataclass(frozen=True, slots=True)
class Uniform:
    """Uniform on ``[low, high]``."""

    low: float
    high: float

    def __post_init__(self) -> None:
        _check("Uniform.low", self.low)
        _check("Uniform.high", self.high, low=self.low)

    def sample(self, rng: random.Random) -> float:
        return rng.uniform(self.low, self.high)

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2


@dataclass(frozen=True, slots=True)
class Exponential:
    """Exponential with the given mean (memoryless patience, Poisson gaps)."""

    mean: float

    def __post_init__(self) -> None:
        _check("Exponential.mean", self.mean, inf_ok=True)
        if self.mean == 0:
            raise ValueError("Exponential.mean: expected a value > 0, got 0")

    def sample(self, rng: random.Random) -> float:
        if math.isinf(self.mean):
            return math.inf
        return rng.expovariate(1.0 / self.mean)


@dataclass(frozen=True, slots=True)
class LogNormal:
    """Log-normal given by its median and the sigma of the underlying normal (talk times)."""

    median: float
    sigma: float = 0.5

    def __post_init__(self) -> None:
        _check("LogNormal.median", self.median)
        if self.median == 0:
            raise ValueError("LogNormal.median: expected a value > 0, got 0")
        _check("LogNormal.sigma", self.sigma, high=10.0)

    def sample(self, rng: random.Random) -> float:
        return rng.lognormvariate(math.log(self.median), self.sigma)

    @property
    def mean(self) -> float:
        return self.median * math.exp(self.sigma**2 / 2)


Distribution = Fixed | Uniform | Exponential | LogNormal


@dataclass(frozen=True, slots=True)
class CallerBehaviour:
    """A remote party (an inbound caller, or an outbound customer once answered).

    ``patience``: seconds the party waits while parked (unbridged) before hanging up; sampled again
    each time it is parked (after a transfer, say). ``talk``: seconds of conversation once bridged
    (sampled at each bridge). ``hangs_up_first``: probability that the party, not the agent, ends the
    conversation. ``answer_before_park``: the dialplan answers before parking (extension 7001 of the
    fixtures) instead of parking the call unanswered (7000).
    """

    patience: Distribution = Exponential(60.0)
    talk: Distribution = LogNormal(180.0, 0.6)
    hangs_up_first: float = 0.6
    answer_before_park: bool = False

    def __post_init__(self) -> None:
        _probability("CallerBehaviour.hangs_up_first", self.hangs_up_first)


@dataclass(frozen=True, slots=True)
class OutboundAnswer:
    """How an originated customer leg (dialer, preview) reacts: answer/busy/failed/no-answer odds.

    ``p_failed``: the network refuses the leg (503, ``NORMAL_TEMPORARY_FAILURE``). Of the answered
    legs, ``p_machine`` are answering machines; when the originate asked for AMD
    (``execute_on_answer`` naming avmd/amd) the switch reports a ``MachineDetected`` verdict
    (``machine``, or ``human`` for the others) ``amd_delay`` after the answer, as mod_amd does,
    wrong for ``amd_false_positive`` of the humans and ``amd_miss`` of the machines.
    """

    ring_delay: Distribution = Uniform(2.0, 12.0)
    p_answer: float = 0.7
    p_busy: float = 0.1
    behaviour: CallerBehaviour = CallerBehaviour(patience=Exponential(4.0), talk=LogNormal(120.0, 0.6))
    p_failed: float = 0.0
    p_machine: float = 0.0
    amd_delay: Distribution = Fixed(3.0)
    # Machines pick up on their own schedule (None: as ``ring_delay``).
    machine_ring_delay: Distribution | None = None
    # AMD's errors: a human it calls a machine (hung up on: an abandon nobody sees), a machine it
    # calls human (connected to an agent).
    amd_false_positive: float = 0.0
    amd_miss: float = 0.0
    # The answer rate through the shift: (seconds after the start, p_answer from then on).
    answer_schedule: tuple[tuple[float, float], ...] = ()
    # How a machine behaves once connected to an agent (AMD off, or AMD missed it); None: as a person.
    machine_behaviour: CallerBehaviour | None = None

    def __post_init__(self) -> None:
        _probability("OutboundAnswer.p_answer", self.p_answer)
        _probability("OutboundAnswer.p_busy", self.p_busy)
        _probability("OutboundAnswer.p_failed", self.p_failed)
        _probability("OutboundAnswer.p_machine", self.p_machine)
        _probability("OutboundAnswer.amd_false_positive", self.amd_false_positive)
        _probability("OutboundAnswer.amd_miss", self.amd_miss)
        for _, p_answer in self.answer_schedule:
            _probability("OutboundAnswer.answer_schedule", p_answer)
        for p_answer in (self.p_answer, *(p for _, p in self.answer_schedule)):
            if p_answer + self.p_busy + self.p_failed > 1:
                raise ValueError("OutboundAnswer: p_answer + p_busy + p_failed must not exceed 1")

    def answer_rate(self, elapsed_s: float) -> float:
        """p_answer ``elapsed_s`` into the run (the schedule's last step at or before it)."""
        rate = self.p_answer
        for after_s, p_answer in self.answer_schedule:
            if elapsed_s >= after_s:
                rate = p_answer
        return rate


@dataclass(frozen=True, slots=True)
class AgentBehaviour:
    """How a simulated agent (the person and their phone) behaves.

    Answering an offered leg: with ``p_busy`` the phone answers 486 Busy Here at once, with ``p_reject``
    603 Decline, with ``p_no_answer`` it rings until the originate timeout; otherwise the agent answers
    after ``ring_delay`` (if that exceeds the originate timeout the leg ends NO_ANSWER anyway), or
    after ``auto_answer_delay`` when the offer asks the phone to answer at once (``sip_auto_answer``).
    Wrap-up: with ``p_end_wrap_up_early`` the agent clicks "end wrap-up" after ``wrap_up_time``
    (the engine's own wrap-up timer still applies if it is shorter). Hold: with ``p_hold`` the agent
    puts one call on hold once, ``hold_after`` into the conversation, for ``hold_time``. Transfer: with
    ``p_transfer`` the agent transfers the call to ``transfer_to`` ``transfer_after`` into it.
    Breaks: while logged in the agent asks for a break at ``breaks_per_hour`` (Poisson), lasting
    ``break_time``, with reason ``break_reason``.
    """

    ring_delay: Distribution = Uniform(1.0, 4.0)
    # An offer asking for auto-answer (Call-Info answer-after=0) is answered after this instead
    # (None: the phone ignores the request and rings as usual).
    auto_answer_delay: Distribution | None = Fixed(0.1)
    p_no_answer: float = 0.0
    p_busy: float = 0.0
    p_reject: float = 0.0
    p_end_wrap_up_early: float = 0.0
    wrap_up_time: Distribution = Exponential(5.0)
    p_hold: float = 0.0
    hold_after: Distribution = Uniform(5.0, 30.0)
    hold_time: Distribution = Uniform(5.0, 30.0)
    p_transfer: float = 0.0
    transfer_after: Distribution = Uniform(10.0, 60.0)
    transfer_to: str = ""
    breaks_per_hour: float = 0.0
    break_time: Distribution = Uniform(300.0, 900.0)
    break_reason: str = "break"
    # The code an agent connected to an answering machine sets on the call (None: sets none).
    machine_disposition: str | None = None

    def __post_init__(self) -> None:
        for name in ("p_no_answer", "p_busy", "p_reject", "p_end_wrap_up_early", "p_hold", "p_transfer"):
            _probability(f"AgentBehaviour.{name}", getattr(self, name))
        if self.p_no_answer + self.p_busy + self.p_reject > 1:
            raise ValueError("AgentBehaviour: p_no_answer + p_busy + p_reject must not exceed 1")
        _check("AgentBehaviour.breaks_per_hour", self.breaks_per_hour)
        if self.p_transfer > 0 and not self.transfer_to:
            raise ValueError("AgentBehaviour.transfer_to: expected a target when p_transfer > 0")


LegOutcome = Literal["answer", "busy", "reject", "no_answer", "unreachable"]


@dataclass(frozen=True, slots=True)
class SwitchTiming:
    """Delays of the switch itself (seconds).

    ``command_latency``: from the engine emitting a command to the switch acting on it (ESL round
    trip). ``dialplan``: from CHANNEL_CREATE to CHANNEL_PARK of an inbound call. ``progress``: from
    CHANNEL_CREATE of an originated leg to its 180 Ringing (or its 486/603).
    """

    command_latency: float = 0.002
    dialplan: float = 0.02
    progress: float = 0.05

    def __post_init__(self) -> None:
        for name in ("command_latency", "dialplan", "progress"):
            _check(f"SwitchTiming.{name}", getattr(self, name), high=3600.0)


@dataclass(frozen=True, slots=True)
class Route:
    """One dialplan extension: set these variables (``ctilink_queue`` and the like), then act.

    ``action="park"`` hands the call to ctilink (optionally answering first); ``"hangup"`` ends it with
    ``cause`` (a closed queue, say).
    """

    variables: dict[str, str] = field(default_factory=dict)
    answer: bool = False
    action: Literal["park", "hangup"] = "park"
    cause: str = "NORMAL_CLEARING"


__all__ = [
    "AgentBehaviour",
    "CallerBehaviour",
    "Distribution",
    "Exponential",
    "Fixed",
    "LegOutcome",
    "LogNormal",
    "OutboundAnswer",
    "Route",
    "SwitchTiming",
    "Uniform",
]
