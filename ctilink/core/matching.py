"""Matching: the best agent for a waiting call, and the best call for an agent that frees up.

Rules:
- A waiting call is offered to the best agent of its step's pool by the queue's strategy (or to
  every agent of it, ``ring-all``; or as a custom strategy orders them). The agent whose offer
  just failed is tried last.
- A call's preferred (sticky) agent is tried first; while that agent is busy the call is held for
  them and nobody else is matched to it.
- An agent that becomes offerable first serves calls held for them, then the head call of every
  step they may serve, best (priority, queued time) first.

Theory: matching is event-driven (the engine's drain loop calls in here when a call starts
waiting or an agent becomes offerable); nothing polls, and nothing here changes a call's queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from ctilink.core import offers, pools, sticky_routing
from ctilink.core.agent import Agent
from ctilink.core.call import Call, CallEvent
from ctilink.core.config import Strategy
from ctilink.core.queue import QueueRuntime
from ctilink.core.screening import CallInfo, CandidateAgent
from ctilink.core.state import EngineState

log = structlog.get_logger("ctilink.core")


def match_call(s: EngineState, call: Call) -> bool:
    """Offer a waiting call to the best eligible available agent(s) of its step; True if offered."""
    rt = s.queues.get(call.queue or "")
    if rt is None:
        return False
    if call.prefer_agent is not None:
        preferred = match_preferred(s, call, rt)
        if preferred is not None:
            return preferred
    pool = rt.pools[call.step]
    if not len(pool):
        return False
    strategy = rt.config.strategy
    if strategy == Strategy.RING_ALL:
        chosen = pool.members()
    elif strategy in s.custom:
        picked = custom_pick(s, call, rt, pool.members())
        chosen = [picked] if picked is not None else []
    else:
        best = pool.best(exclude=call.last_failed_agent)
        chosen = [best] if best is not None else []
    if not chosen:
        return False
    pools.remove_waiting(s, call)
    call.apply(CallEvent.OFFER)
    for agent in chosen:
        pool.offered(agent)
        offers.offer(s, call, agent)
    return True


def match_preferred(s: EngineState, call: Call, rt: QueueRuntime) -> bool | None:
    """The sticky / preferred agent first: True if offered to them, False if the call is held
    for them, None if the preference is spent and the call routes normally."""
    agent_id = call.prefer_agent
    assert agent_id is not None
    agent = s.agents.get(agent_id)
    if agent is not None and agent.in_pools and rt.name in agent.memberships:
        pools.remove_waiting(s, call)
        sticky_routing.unhold(s, call)
        call.prefer_agent = None  # one offer: if they miss it, the call routes normally
        call.apply(CallEvent.OFFER)
        sticky_routing.sticky_note(s, call, agent_id, "hit")
        offers.offer(s, call, agent)
        return True
    if call.held_for is not None:
        return False
    call.prefer_agent = None
    sticky_routing.sticky_note(s, call, agent_id, "fallback")
    return None


def custom_pick(s: EngineState, call: Call, rt: QueueRuntime, members: list[Agent]) -> Agent | None:
    if not members:
        return None
    by_id = {agent.id: agent for agent in members}
    candidates = [
        CandidateAgent(
            agent_id=a.id,
            skills=a.profile.skills,
            idle_since=a.idle_since,
            calls_answered=a.calls_answered,
            talk_time_s=a.talk_time_s,
            rank=rt.ranks.get(a.id, 1_000_000 + a.seq),
        )
        for a in sorted(members, key=lambda a: (a.idle_since, a.seq))
    ]
    try:
        order = list(s.custom[rt.config.strategy](candidates, call_info(s, call)))
    except Exception as exc:  # a plug-in must not lose the call
        log.error("custom strategy failed", strategy=rt.config.strategy, error=repr(exc)[:200])
        order = [c.agent_id for c in candidates]
    valid = [by_id[agent_id] for agent_id in order if isinstance(agent_id, str) and agent_id in by_id]
    if not valid:
        valid = [by_id[c.agent_id] for c in candidates]
    for agent in valid:
        if agent.id != call.last_failed_agent:
            return agent
    return valid[0]


def match_agent(s: EngineState, agent: Agent) -> None:
    """An agent became offerable: serve the best call it may take (via the pool, so the queue's
    strategy still decides between agents that became available together)."""
    while agent.in_pools:
        waiting = s.waiters.get(agent.id)
        if waiting:
            # Calls held for this very agent (sticky) come first: that is what they waited for.
            held = min((s.calls[call_id] for call_id in waiting), key=lambda c: (c.waiting_key, c.seq))
            if not match_call(s, held):
                sticky_routing.release_hold(s, held, "fallback")
            continue
        best: tuple[tuple[bool, Any, Any, Any], Call] | None = None
        for name, k in agent.memberships.items():
            rt = s.queues[name]
            for step in range(k, len(rt.steps)):
                for entry in rt.heads(step):
                    call = s.calls[entry[3]]
                    # Prefer a call whose last failed offer was not to this very agent.
                    rank = (call.last_failed_agent == agent.id, entry[0], entry[1], entry[2])
                    if best is None or rank < best[0]:
                        best = (rank, call)
                    if not rank[0]:
                        break
        if best is None:
            return
        if not match_call(s, best[1]):
            return


def call_info(s: EngineState, call: Call, variables: Mapping[str, str] | None = None) -> CallInfo:
    return CallInfo(
        call_id=call.call_id,
        uuid=call.uuid,
        node=call.node,
        queue=call.queue,
        caller_number=call.caller_number,
        caller_name=call.caller_name,
        destination_number=call.destination_number,
        priority=call.priority,
        variables=dict(variables or {}),
        waited_s=call.wait_s + (s.now - call.wait_since if call.wait_since is not None else 0.0),
    )
