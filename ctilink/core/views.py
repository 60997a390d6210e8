"""Views: read-only snapshots of agents, queues and live calls, for the API, metrics and pops.

Rules: reading never changes the engine; a view is a frozen dataclass taken at ``at``.
"""

from __future__ import annotations

from ctilink.core import pools
from ctilink.core.agent import Agent
from ctilink.core.call import Call, CallState
from ctilink.core.snapshot import AgentView, CallView, EngineSnapshot, QueueView, WaitingCallView
from ctilink.core.state import EngineState


def snapshot(s: EngineState, now: float | None = None) -> EngineSnapshot:
    """A read-only view of agents, queues and live calls."""
    at = s.now if now is None else now
    agents = tuple(agent_view(s, agent, at) for agent in s.agents.values())
    queues = []
    for rt in s.queues.values():
        waiting = []
        for position, entry in enumerate(rt.all_waiting, start=1):
            call = s.calls[entry[3]]
            waiting.append(
                WaitingCallView(
                    call_id=call.call_id,
                    position=position,
                    wait_s=max(0.0, at - (at if call.entered_at is None else call.entered_at)),
                    priority=call.priority,
                    step=call.step,
                    estimated_wait_s=pools.ewt(s, rt, position),
                    held_for=call.held_for,
                )
            )
        queues.append(
            QueueView(
                name=rt.name,
                strategy=rt.config.strategy,
                waiting=tuple(waiting),
                available_agents=len(rt.pools[-1]),
                logged_in_agents=rt.logged_in[-1],
                staffed_agents=rt.staffed[-1],
                average_handle_time_s=rt.aht_s,
            )
        )
    calls = tuple(call_view(s, call, at) for call in s.calls.values() if call.state is not CallState.ENDED)
    return EngineSnapshot(at=at, agents=agents, queues=tuple(queues), calls=calls)


def agent_view(s: EngineState, agent: Agent, at: float) -> AgentView:
    legs = [s.legs[u] for u in agent.legs if u in s.legs]
    return AgentView(
        agent_id=agent.id,
        name=agent.profile.name,
        state=agent.state,
        state_since=agent.state_since,
        time_in_state_s=max(0.0, at - agent.state_since),
        reason=agent.reason,
        pending_not_ready=agent.pending_not_ready,
        pending_logout=agent.pending_logout,
        calls=tuple(dict.fromkeys(leg.call_id for leg in legs)),
        foreign_channels=len(agent.foreign),
        on_hold=any(leg.hold_since is not None for leg in legs),
        offerable=agent.in_pools,
        endpoints_registered=tuple(
            (i not in agent.tracked) or agent.registered.get(i, False) for i in range(len(agent.profile.endpoints))
        ),
        calls_answered=agent.calls_answered,
        talk_time_s=agent.talk_time_s,
        no_answer_streak=agent.no_answer_streak,
        idle_since=agent.idle_since,
        wrap_up_until=agent.wrap_until,
        delayed_until=agent.delayed_until,
        reserved_for=agent.reservation.campaign if agent.reservation is not None else None,
    )


def call_view(s: EngineState, call: Call, at: float) -> CallView:
    wait = call.wait_s + (at - call.wait_since if call.wait_since is not None else 0.0)
    return CallView(
        call_id=call.call_id,
        uuid=call.uuid,
        state=call.state,
        queue=call.queue,
        priority=call.priority,
        arrived_at=call.arrived_at,
        wait_s=max(0.0, wait),
        step=call.step,
        agent_id=call.connected.agent_id if call.connected is not None else None,
        ringing_agents=tuple(leg.agent_id for leg in call.ringing.values()),
    )
