"""Plug-in points: the screening hook and custom strategies.

Rules:
- Both are *pure* callables supplied by the integrator: given data, they return data. They must not
  block, sleep, read clocks or keep hidden state that changes their answers between runs; the
  engine calls them inline during a decision.
- A hook that raises does not lose the call: the engine accepts it with default settings and
  reports :class:`~ctilink.core.errors.ScreenFailed`. A custom strategy that raises or returns
  unknown ids falls back to the order it was given (longest idle first).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, slots=True)
class CallInfo:
    """What a screen hook or a strategy may know about a call."""

    call_id: str
    uuid: str
    node: str
    queue: str | None
    caller_number: str | None
    caller_name: str | None
    destination_number: str | None
    priority: int
    variables: Mapping[str, str] = field(default_factory=dict)
    waited_s: float = 0.0


@dataclass(frozen=True, slots=True)
class ScreenDecision:
    """The screening hook's verdict; build it with the class methods."""

    action: Literal["accept", "reject", "extension", "agent"] = "accept"
    priority: int | None = None
    cause: str = "CALL_REJECTED"
    destination: str | None = None
    context: str | None = None
    agent_id: str | None = None

    @classmethod
    def accept(cls, priority: int | None = None) -> ScreenDecision:
        return cls("accept", priority=priority)

    @classmethod
    def reject(cls, cause: str = "CALL_REJECTED") -> ScreenDecision:
        return cls("reject", cause=cause)

    @classmethod
    def to_extension(cls, destination: str, context: str | None = None) -> ScreenDecision:
        return cls("extension", destination=destination, context=context)

    @classmethod
    def to_agent(cls, agent_id: str, priority: int | None = None) -> ScreenDecision:
        return cls("agent", agent_id=agent_id, priority=priority)


@dataclass(frozen=True, slots=True)
class CandidateAgent:
    """An eligible, available agent as a custom strategy sees it."""

    agent_id: str
    skills: Mapping[str, int]
    idle_since: float
    calls_answered: int
    talk_time_s: float
    rank: int


ScreenHook = Callable[[CallInfo], ScreenDecision]
CustomStrategy = Callable[[Sequence[CandidateAgent], CallInfo], Sequence[str]]


def accept_all(call: CallInfo) -> ScreenDecision:
    """The default screen: accept every call at its own priority."""
    return ScreenDecision.accept()


__all__ = ["CallInfo", "CandidateAgent", "CustomStrategy", "ScreenDecision", "ScreenHook", "accept_all"]
