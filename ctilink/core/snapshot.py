"""Read-only views of the engine for the supervisor control panel, the API and tests.

Rule: views are frozen copies; holding one never pins or changes engine state.
"""

from __future__ import annotations

from dataclasses import dataclass

from ctilink.core.agent import AgentState
from ctilink.core.call import CallState


@dataclass(frozen=True, slots=True)
class AgentView:
    agent_id: str
    name: str
    state: AgentState
    state_since: float
    time_in_state_s: float
    reason: str | None
    pending_not_ready: str | None
    pending_logout: bool
    calls: tuple[str, ...]  # call ids of this agent's legs (ringing, connected, closing)
    foreign_channels: int
    on_hold: bool
    offerable: bool
    endpoints_registered: tuple[bool, ...]  # per endpoint; True when not presence-tracked
    calls_answered: int
    talk_time_s: float
    no_answer_streak: int
    idle_since: float
    wrap_up_until: float | None
    delayed_until: float | None
    reserved_for: str | None = None  # the campaign holding the agent for an outbound contact


@dataclass(frozen=True, slots=True)
class WaitingCallView:
    call_id: str
    position: int
    wait_s: float
    priority: int
    step: int
    estimated_wait_s: float | None
    held_for: str | None = None  # waiting for this busy sticky agent (offered to nobody else)


@dataclass(frozen=True, slots=True)
class QueueView:
    name: str
    strategy: str
    waiting: tuple[WaitingCallView, ...]
    available_agents: int
    logged_in_agents: int
    staffed_agents: int
    average_handle_time_s: float


@dataclass(frozen=True, slots=True)
class CallView:
    call_id: str
    uuid: str
    state: CallState
    queue: str | None
    priority: int
    arrived_at: float
    wait_s: float
    step: int
    agent_id: str | None  # connected agent
    ringing_agents: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EngineSnapshot:
    at: float
    agents: tuple[AgentView, ...]
    queues: tuple[QueueView, ...]
    calls: tuple[CallView, ...]

    def agent(self, agent_id: str) -> AgentView:
        for view in self.agents:
            if view.agent_id == agent_id:
                return view
        raise KeyError(agent_id)

    def queue(self, name: str) -> QueueView:
        for view in self.queues:
            if view.name == name:
                return view
        raise KeyError(name)


__all__ = ["AgentView", "CallView", "EngineSnapshot", "QueueView", "WaitingCallView"]
