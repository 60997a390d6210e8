"""Agent pools: who may be offered what, per queue step and strategy, and the queue counters.

Rules:
- An agent sits in the pools of every (queue, step) their skills qualify them for, from their
  first eligible step on, exactly while :func:`offerable` says so. :func:`refresh` is the one
  place that brings pools and counters in line with the agent's facts; it is called after any
  change that might matter, and is cheap when nothing did.
- Leaving the pools bumps ``pool_token`` so stale heap entries die lazily (no searching).
- ``logged_in`` / ``staffed`` per step count the qualified agents that are logged in / could take a
  call soon; they drive escalation skips, empty-queue policies and the wait estimate.
- Waiting calls are listed per step and in one position list (``QueueRuntime``); a call held for
  its sticky agent is only in the position list. ``insert_waiting`` / ``remove_waiting`` are the
  only ways in and out.

Theory: pools answer "which agent next?" in O(log n) whatever the strategy (``strategies.py``),
so matching never scans agents. Nothing here sends a command or decides a call's fate.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from ctilink.core.agent import Agent, AgentState
from ctilink.core.call import Call
from ctilink.core.config import AgentProfile, EmptyPolicy, QueueConfig
from ctilink.core.queue import QueueRuntime
from ctilink.core.routing import first_step, skill_score
from ctilink.core.state import EngineState

log = structlog.get_logger("ctilink.core")


def ranker(rt: QueueRuntime) -> Callable[[Agent], int]:
    ranks = rt.ranks

    def rank(agent: Agent) -> int:
        return ranks.get(agent.id, 1_000_000 + agent.seq)

    return rank


def scorer(qc: QueueConfig) -> Callable[[Agent], int]:
    def score(agent: Agent) -> int:
        return skill_score(agent.profile.skills, qc)

    return score


def memberships(s: EngineState, profile: AgentProfile) -> dict[str, int]:
    found = {}
    for name, rt in s.queues.items():
        step = first_step(profile.skills, rt.steps, s.base_of)
        if step is not None:
            found[name] = step
    return found


def offerable(s: EngineState, agent: Agent, direct: bool = False) -> bool:
    """May the agent be offered a call now? ``direct``: a call routed to this very agent (screen
    or transfer), which does not need the agent to serve any queue."""
    state = agent.state
    if agent.reservation is not None:
        return False  # spoken for by a campaign: only the call that takes the reservation reaches them
    if agent.click_to_dial is not None:
        return False  # on (or ringing for) a click-to-dial of their own
    if state is not AgentState.AVAILABLE:
        if agent.profile.max_calls <= 1 or agent.direct or state not in (AgentState.RESERVED, AgentState.ON_CALL):
            return False
    return (
        agent.pending_not_ready is None
        and not agent.pending_logout
        and agent.delayed_until is None
        and agent.busy_count() < agent.profile.max_calls
        and (direct or bool(agent.memberships))
        and agent.usable_endpoint() is not None
    )


def refresh(s: EngineState, agent: Agent) -> None:
    """Bring pools and counters in line with the agent's current facts."""
    logged = agent.state is not AgentState.LOGGED_OUT
    staffed = (
        logged
        and agent.state is not AgentState.NOT_READY
        and not agent.pending_logout
        and agent.usable_endpoint() is not None
    )
    d_logged = int(logged) - int(agent.logged_in_flag)
    d_staffed = int(staffed) - int(agent.staffed)
    if d_logged or d_staffed:
        for name, k in agent.memberships.items():
            rt = s.queues[name]
            for step in range(k, len(rt.steps)):
                rt.logged_in[step] += d_logged
                rt.staffed[step] += d_staffed
            if (d_logged < 0 or d_staffed < 0) and rt.config.leave_when_empty is not EmptyPolicy.IGNORE:
                s.dirty_queues[name] = None
        agent.logged_in_flag = logged
        agent.staffed = staffed
    may_offer = offerable(s, agent)
    if may_offer and not agent.in_pools:
        agent.in_pools = True
        agent.pool_token += 1
        for name, k in agent.memberships.items():
            pools = s.queues[name].pools
            for step in range(k, len(pools)):
                pools[step].add(agent)
        s.new_available[agent.id] = None
    elif not may_offer and agent.in_pools:
        pull(s, agent)


def pull(s: EngineState, agent: Agent) -> None:
    """Take the agent out of every pool (token bump invalidates its entries)."""
    if not agent.in_pools:
        return
    agent.in_pools = False
    agent.pool_token += 1
    for name, k in agent.memberships.items():
        pools = s.queues[name].pools
        for step in range(k, len(pools)):
            pools[step].discard(agent)


def detach(s: EngineState, agent: Agent) -> None:
    """Remove the agent from pools and counters (before its memberships change)."""
    pull(s, agent)
    if agent.logged_in_flag or agent.staffed:
        for name, k in agent.memberships.items():
            rt = s.queues.get(name)
            if rt is None:
                continue
            for step in range(k, len(rt.steps)):
                rt.logged_in[step] -= int(agent.logged_in_flag)
                rt.staffed[step] -= int(agent.staffed)
        agent.logged_in_flag = False
        agent.staffed = False


def insert_waiting(s: EngineState, call: Call) -> None:
    rt = s.queues[call.queue or ""]
    assert call.waiting_key is not None and not call.in_list
    rt.insert(call.waiting_key, call.call_id, call.step, held=call.held_for is not None)
    call.in_list = True


def remove_waiting(s: EngineState, call: Call) -> None:
    if call.in_list and call.waiting_key is not None:
        rt = s.queues.get(call.queue or "")
        if rt is not None:
            rt.remove(call.waiting_key, call.call_id, call.step, held=call.held_for is not None)
    call.in_list = False


def ewt(s: EngineState, rt: QueueRuntime, position: int) -> float | None:
    staffed = rt.staffed[-1]
    if position <= 0:
        return 0.0
    if staffed <= 0:
        return None
    return position * rt.aht_s / staffed
