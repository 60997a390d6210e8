"""Sticky routing in the engine: offer a caller to their agent first, and hold them for a while.

Rules:
- A call that joins its first queue is offered first to its ``ctilink_preferred_agent`` or its
  remembered agent (``sticky.py`` decides hit / wait / fallback from the agent's facts).
- A held call keeps its place in the queue's position list but sits in no per-step list, so no
  other agent is matched to it and the calls behind it flow on. It is indexed under its agent in
  ``waiters``; the agent freeing up, the ``sticky`` timer or the agent leaving releases it.
- Every decision is a ``StickyRouted`` notification; a call that ends after talking to an agent
  is remembered (``StickyRemembered``) when sticky memory is on.

Theory: holding is a flag plus an index, never a state of the call: the call stays ``QUEUED``.
"""

from __future__ import annotations

from collections.abc import Mapping

from ctilink.core import pools
from ctilink.core.agent import Agent
from ctilink.core.call import Call
from ctilink.core.errors import UnknownAgent
from ctilink.core.notifications import StickyRemembered, StickyRouted
from ctilink.core.queue import QueueRuntime
from ctilink.core.state import EngineState, Timer
from ctilink.core.sticky import decide as sticky_decide
from ctilink.lists.numbers import ANONYMOUS


def sticky_route(s: EngineState, call: Call, rt: QueueRuntime, variables: Mapping[str, str]) -> None:
    """A call just joined its first queue: offer it to its sticky / preferred agent first,
    hold it for them while they are busy, or let it route normally."""
    agent_id: str | None = None
    source = "memory"
    preferred = variables.get("ctilink_preferred_agent")
    if preferred is not None:
        if preferred in s.agents:
            agent_id, source = preferred, "preferred"
        else:
            s.reject(UnknownAgent(preferred), "ctilink_preferred_agent", call.call_id)
    number = call.customer_number
    if agent_id is None and s.config.sticky.enabled and number is not None and number != ANONYMOUS:
        memo, expired = s.sticky.recall(number, rt.name, s.now)
        if memo is not None and expired:
            call.sticky_agent = memo.agent_id
            sticky_note(s, call, memo.agent_id, "expired")
            return
        if memo is not None:
            agent_id = memo.agent_id
    if agent_id is None:
        return
    call.sticky_agent = agent_id
    call.sticky_source = source
    agent = s.agents.get(agent_id)
    outcome = sticky_outcome(s, agent, rt.name)
    if outcome == "fallback":
        sticky_note(s, call, agent_id, "fallback")
        return
    call.prefer_agent = agent_id  # "hit": offered (and announced) when the call is matched
    if outcome == "wait":
        assert agent is not None
        hold(s, call, agent)


def sticky_outcome(s: EngineState, agent: Agent | None, queue: str) -> str:
    if agent is None:
        return sticky_decide(None, offerable=False, qualified=False, reachable=False, leaving=False, wait_s=0.0)
    return sticky_decide(
        agent.state,
        offerable=agent.in_pools,
        qualified=queue in agent.memberships,
        reachable=agent.usable_endpoint() is not None,
        leaving=agent.pending_not_ready is not None or agent.pending_logout,
        wait_s=s.config.sticky.wait_s,
    )


def sticky_note(s: EngineState, call: Call, agent_id: str, outcome: str) -> None:
    call.sticky_outcome = outcome
    s.note(StickyRouted(call.call_id, agent_id, outcome, call.queue, s.now, call.sticky_source))


def hold(s: EngineState, call: Call, agent: Agent) -> None:
    """Keep the call's place (position list) but offer it to nobody else while ``agent`` is busy."""
    listed = call.in_list
    if listed:
        pools.remove_waiting(s, call)
    call.held_for = agent.id
    if listed:
        pools.insert_waiting(s, call)
    s.waiters.setdefault(agent.id, {})[call.call_id] = None
    call.sticky_token += 1
    s.timer(s.now + s.config.sticky.wait_s, Timer.STICKY, call.call_id, call.sticky_token)
    sticky_note(s, call, agent.id, "wait")


def unhold(s: EngineState, call: Call) -> None:
    """Forget the hold (the caller must already be out of its lists, or be re-listed after)."""
    agent_id = call.held_for
    if agent_id is None:
        return
    waiting = s.waiters.get(agent_id)
    if waiting is not None:
        waiting.pop(call.call_id, None)
        if not waiting:
            del s.waiters[agent_id]
    call.held_for = None
    call.sticky_token += 1


def release_hold(s: EngineState, call: Call, outcome: str) -> None:
    """Stop waiting for the sticky agent: the call routes normally from its place."""
    agent_id = call.held_for
    if agent_id is None:
        return
    listed = call.in_list
    if listed:
        pools.remove_waiting(s, call)
    unhold(s, call)
    call.prefer_agent = None
    if listed:
        pools.insert_waiting(s, call)
        s.dirty_calls[call.call_id] = None
    sticky_note(s, call, agent_id, outcome)


def check_waiters(s: EngineState, agent_id: str) -> None:
    """The agent changed: calls held for them stop waiting if the agent will not come back
    (logged out, not ready, leaving, no longer qualified or reachable, removed)."""
    agent = s.agents.get(agent_id)
    for call_id in list(s.waiters.get(agent_id, ())):
        call = s.calls[call_id]
        if sticky_outcome(s, agent, call.queue or "") == "fallback":
            release_hold(s, call, "fallback")


def remember_sticky(s: EngineState, call: Call) -> None:
    """The call is over: remember the last agent who talked to this caller."""
    number = call.customer_number
    if not s.config.sticky.enabled or number is None or number == ANONYMOUS:
        return
    leg = next((leg for leg in reversed(call.legs) if leg.answered_at is not None), None)
    if leg is None or leg.agent_id not in s.agents:
        return
    queue = leg.queue or None
    if queue is None and s.config.sticky.scope == "queue":
        return
    memo = s.sticky.remember(number, queue, leg.agent_id, s.now)
    s.note(StickyRemembered(memo.number, memo.queue, memo.agent_id, s.now, memo.expires_at))
