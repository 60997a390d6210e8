"""What the engine's agent states mean to the pacer, and what an agent's phases teach it.

Rules:
- Agent state arrives as the engine's :class:`~ctilink.core.agent.AgentState`, never as text;
  :data:`AGENT_PHASES` maps each to the pacer's :class:`~ctilink.dialer.pacer.AgentPhase` (None:
  not working, gone from the dialer's view). A state the table lacks is a bug, not an input.
- When an agent of a campaign leaves a phase, the time they spent in it is what the pacer learns
  from: talk and wrap-up times (:func:`phase_ended`), from the engine's own agent changes. Every
  call of the agent counts, inbound ones too: what the pacer predicts is when they are free.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ctilink.core.agent import AgentState
from ctilink.dialer.pacer import AgentPhase, DialStats

AGENT_PHASES: Mapping[AgentState, AgentPhase | None] = MappingProxyType(
    {
        AgentState.LOGGED_OUT: None,
        AgentState.NOT_READY: None,
        AgentState.AVAILABLE: AgentPhase.IDLE,
        AgentState.RESERVED: AgentPhase.RESERVED,  # an offer ringing, or held for a preview / callback
        AgentState.ON_CALL: AgentPhase.TALKING,
        AgentState.WRAP_UP: AgentPhase.WRAP_UP,
    }
)


def phase_ended(stats: DialStats, phase: AgentPhase, seconds: float) -> None:
    """An agent of the campaign left ``phase`` after ``seconds``."""
    if phase is AgentPhase.TALKING:
        stats.talk_ended(seconds)
    elif phase is AgentPhase.WRAP_UP:
        stats.wrap_ended(seconds)


__all__ = ["AGENT_PHASES", "phase_ended"]
