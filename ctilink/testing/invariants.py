"""The engine's invariants, checked from outside: for tests and simulations, never for routing.

Rules: :func:`check_invariants` reads an engine's state and returns every broken invariant as
text (empty when all hold); it changes nothing. O(agents + calls), so a simulation may call it
after every input.

Theory: each group checks one index against the facts it is derived from (pools and counters
against agents, waiting lists against calls, sticky waiters against held calls, legs against
their agents, click-to-dial sessions against their indexes and agents), so a bookkeeping slip in
any concern shows up as a named disagreement, not as a wrong routing decision later.
"""

from __future__ import annotations

from ctilink.core.agent import Agent, AgentState, Hold
from ctilink.core.call import Call, CallState, LegState
from ctilink.core.click_to_dial import ClickToDialState
from ctilink.core.engine import Engine
from ctilink.core.pools import offerable
from ctilink.core.queue import QueueRuntime
from ctilink.core.state import EngineState


def check_invariants(engine: Engine) -> list[str]:
    """Every broken invariant of ``engine``, as text (empty when all hold)."""
    s = engine.state
    problems: list[str] = []
    for agent in s.agents.values():
        problems.extend(_agent_problems(s, agent))
    held: dict[str, int] = {}
    for call in s.calls.values():
        if call.held_for is not None and call.in_list and call.queue is not None:
            held[call.queue] = held.get(call.queue, 0) + 1
    listed: dict[str, int] = {}
    for rt in s.queues.values():
        problems.extend(_queue_problems(s, rt, listed, held.get(rt.name, 0)))
    for call in s.calls.values():
        problems.extend(_call_problems(s, call, listed.get(call.call_id, 0)))
    for agent_id, calls in s.waiters.items():
        for call_id in calls:
            waiter = s.calls.get(call_id)
            if waiter is None or waiter.held_for != agent_id:
                problems.append(f"sticky waiters of {agent_id} list call {call_id} that is not held for them")
    for uuid, leg in s.legs.items():
        owner = s.agents.get(leg.agent_id)
        if owner is None or uuid not in owner.legs:
            problems.append(f"leg {uuid} not on its agent {leg.agent_id}")
    problems.extend(_click_to_dial_problems(s))
    return problems


def _agent_problems(s: EngineState, agent: Agent) -> list[str]:
    problems = []
    known = [s.legs.get(u) for u in agent.legs]
    if any(leg is None for leg in known):
        problems.append(f"agent {agent.id} points at a leg the engine forgot")
    legs = [leg for leg in known if leg is not None]
    talking = [leg for leg in legs if leg.state is LegState.CONNECTED]
    if agent.reservation is not None and (agent.state is not AgentState.RESERVED or legs):
        problems.append(f"agent {agent.id} holds a reservation while {agent.state.value} with {len(legs)} legs")
    if agent.state is AgentState.RESERVED and agent.reservation is None and (not legs or talking):
        problems.append(f"agent {agent.id} is reserved with legs {[leg.state.value for leg in legs]}")
    if agent.state is AgentState.ON_CALL and not talking and not agent.direct and agent.click_to_dial is None:
        problems.append(f"agent {agent.id} is on-call without a connected leg or a direct call")
    if agent.state in (AgentState.AVAILABLE, AgentState.NOT_READY, AgentState.LOGGED_OUT) and any(
        leg.state in (LegState.ORIGINATING, LegState.RINGING, LegState.CONNECTED) for leg in legs
    ):
        problems.append(f"agent {agent.id} is {agent.state.value} with a live leg")
    if (agent.state is AgentState.RESERVED) != (agent.hold is not None):
        problems.append(f"agent {agent.id} is {agent.state.value} with hold {agent.hold}")
    if (agent.hold is Hold.OUTBOUND) != (agent.reservation is not None):
        problems.append(f"agent {agent.id}: hold {agent.hold} but reservation {agent.reservation}")
    if agent.hold is Hold.RINGING and not legs:
        problems.append(f"agent {agent.id} is held for a ringing offer without a leg")
    if agent.state is AgentState.WRAP_UP and agent.wrap_until is None:
        problems.append(f"agent {agent.id} is in wrap-up without a deadline")
    if agent.in_pools != offerable(s, agent):
        problems.append(f"agent {agent.id}: in pools={agent.in_pools} but offerable={offerable(s, agent)}")
    return problems


def _queue_problems(s: EngineState, rt: QueueRuntime, listed: dict[str, int], held: int) -> list[str]:
    """The queue's per-step and position lists against its calls; its counters against agents.
    Counts each call's per-step listings into ``listed``."""
    problems = []
    for step, bucket in enumerate(rt.waiting):
        for entry in bucket:
            listed[entry[3]] = listed.get(entry[3], 0) + 1
            call = s.calls.get(entry[3])
            if call is None or call.state is not CallState.QUEUED or call.queue != rt.name or call.step != step:
                problems.append(f"waiting list {rt.name}[{step}] holds call {entry[3]} that is not waiting there")
    for entry in rt.all_waiting:
        call = s.calls.get(entry[3])
        if call is None or call.state is not CallState.QUEUED or call.queue != rt.name:
            problems.append(f"position list {rt.name} holds call {entry[3]} that is not waiting there")
    if sum(len(b) for b in rt.waiting) + held != len(rt.all_waiting):
        problems.append(f"queue {rt.name}: per-step lists and position list disagree")
    logged = [0] * len(rt.steps)
    staffed = [0] * len(rt.steps)
    for agent in s.agents.values():
        k = agent.memberships.get(rt.name)
        if k is None:
            continue
        for step in range(k, len(rt.steps)):
            logged[step] += agent.logged_in_flag
            staffed[step] += agent.staffed
    if logged != rt.logged_in or staffed != rt.staffed:
        problems.append(f"queue {rt.name}: counters {rt.logged_in}/{rt.staffed} != {logged}/{staffed}")
    return problems


def _call_problems(s: EngineState, call: Call, count: int) -> list[str]:
    """One call against the lists it is in (``count`` per-step listings), its hold and its legs."""
    problems = []
    expected = 0 if call.held_for is not None else 1
    if call.state is CallState.QUEUED and count != expected:
        problems.append(f"call {call.call_id} is queued but listed {count} times (held: {call.held_for})")
    if call.held_for is not None:
        holder = s.agents.get(call.held_for)
        if call.state is not CallState.QUEUED or call.call_id not in s.waiters.get(call.held_for, {}):
            problems.append(f"call {call.call_id} held for {call.held_for} but {call.state} / not indexed")
        elif holder is not None and holder.in_pools and (call.queue or "") in holder.memberships:
            problems.append(f"call {call.call_id} held for {call.held_for}, who is offerable")
    if call.state is not CallState.QUEUED and count:
        problems.append(f"call {call.call_id} is {call.state} but still listed")
    if call.state is CallState.OFFERING and not call.ringing:
        problems.append(f"call {call.call_id} is offering with no ringing leg")
    if (
        call.state is CallState.CONNECTED
        and call.connected is None
        and not any(leg.talk_ended_at is not None for leg in call.legs)
    ):
        # (After the agent hangs up, the call stays connected until the customer leg we hung up
        # is confirmed gone: that is not a problem.)
        problems.append(f"call {call.call_id} is connected without an agent leg")
    if call.state is CallState.ENDED and (call.wrap_pending <= 0 or call.finalized):
        problems.append(f"call {call.call_id} ended but is still tracked")
    if call.state is not CallState.ENDED and s.by_uuid.get(call.uuid) is not call:
        problems.append(f"call {call.call_id} is live but not indexed by its uuid")
    return problems


def _click_to_dial_problems(s: EngineState) -> list[str]:
    found: list[str] = []
    c2d = s.c2d
    for session in c2d:
        if session.state is ClickToDialState.ENDED:
            found.append(f"click-to-dial {session.call_id} ended but is still tracked")
        for leg in session.legs():
            if c2d.by_uuid.get(leg.uuid) is not session or c2d.by_job.get(leg.job_uuid) is not session:
                found.append(f"click-to-dial {session.call_id}: leg {leg.uuid} not indexed")
        if not any(leg.alive for leg in session.legs()):
            found.append(f"click-to-dial {session.call_id} is {session.state.value} with no leg left")
        agent = s.agents.get(session.agent_id)
        if session.agent.alive and (
            agent is None or agent.click_to_dial != session.call_id or agent.state is not AgentState.ON_CALL
        ):
            state = agent.state.value if agent is not None else "unknown"
            found.append(f"click-to-dial {session.call_id}: agent {session.agent_id} is {state}, not on it")
    for index in (c2d.by_uuid, c2d.by_job):
        for key, session in index.items():
            if c2d.by_id.get(session.call_id) is not session:
                found.append(f"click-to-dial index entry {key} points at a session that is gone")
    for agent in s.agents.values():
        session_id = agent.click_to_dial
        if session_id is not None:
            held = c2d.by_id.get(session_id)
            if held is None or not held.agent.alive:
                found.append(f"agent {agent.id} is held by click-to-dial {session_id}, which no longer has them")
    return found


__all__ = ["check_invariants"]
