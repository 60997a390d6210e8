"""Administration: agents added, changed or removed; queues replaced; number-list changes.

Rules:
- Requests are validated before anything changes (unknown skills against the catalogue, duplicate
  or dangling queue names, unknown strategies); a refusal is a typed error naming the field.
- Replacing the queues keeps agents' states, waiting calls' keys and average handle times; a call
  whose queue is gone overflows (``queue-removed``).
- An agent's registration keys are indexed (``user_index``) so presence and foreign channels find
  the agents a phone belongs to; re-indexed on every upsert.
- Every list change is a ``ListChanged`` for the daemon to keep.
"""

from __future__ import annotations

import structlog

from ctilink.core import pools, presence, queueing
from ctilink.core import requests as rq
from ctilink.core.agent import Agent, AgentState, registration_key
from ctilink.core.call import Call
from ctilink.core.config import AgentProfile, OverflowAction, QueueConfig, check_queue_references, queue_skill_names
from ctilink.core.errors import AgentBusy, ConfigError, InvalidValue, UnknownSkill
from ctilink.core.notifications import ListChanged
from ctilink.core.queue import QueueRuntime
from ctilink.core.routing import compile_steps
from ctilink.core.state import EngineState
from ctilink.core.strategies import BUILTIN_STRATEGIES, make_pool

log = structlog.get_logger("ctilink.core")


def check_queue_set(s: EngineState, queues: list[QueueConfig], default_route: OverflowAction | None) -> None:
    names = [q.name for q in queues]
    if len(set(names)) != len(names):
        raise ConfigError("queues: duplicate queue name")
    known = set(names)
    for queue in queues:
        try:
            check_queue_references(queue, known)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if queue.strategy not in BUILTIN_STRATEGIES and queue.strategy not in s.custom:
            raise ConfigError(f"queues[{queue.name}].strategy: unknown strategy {queue.strategy!r}")
        if s.catalogue is not None:
            for skill in queue_skill_names(queue):
                if skill not in s.catalogue:
                    raise UnknownSkill(skill, owner=f"queue {queue.name}")
    if default_route is not None and default_route.kind == "queue" and default_route.target not in known:
        raise ConfigError(f"default_route: unknown queue {default_route.target!r}")


def rebuild_queues(s: EngineState, queues: list[QueueConfig]) -> None:
    """Replace every queue runtime; keeps agents' states, waiting calls' keys and AHT figures."""
    for agent in s.agents.values():
        pools.detach(s, agent)
    old = s.queues
    s.queue_configs = queues
    steps_of = {q.name: compile_steps(q) for q in queues}
    s.base_of = {name: steps[0] for name, steps in steps_of.items()}
    new: dict[str, QueueRuntime] = {}
    for qc in queues:
        previous = old.get(qc.name)
        cursor = previous.cursor if previous is not None else [-1]
        aht = previous.aht_s if previous is not None else s.config.aht_default_s
        rt = QueueRuntime(qc, steps_of[qc.name], [], cursor, aht)
        rt.pools = [
            make_pool(
                qc.strategy,
                s.agents,
                rng=s.rng,
                rank=pools.ranker(rt),
                score=pools.scorer(qc),
                cursor=cursor,
            )
            for _ in rt.steps
        ]
        new[qc.name] = rt
    s.queues = new
    for agent in s.agents.values():
        agent.memberships = pools.memberships(s, agent.profile)
        pools.refresh(s, agent)
    orphans: list[Call] = []
    for call in s.calls.values():
        if not call.in_list:
            continue
        call.in_list = False
        target = new.get(call.queue or "")
        if target is None:
            orphans.append(call)
            continue
        call.step = min(call.step, target.last_step)
        pools.insert_waiting(s, call)
        s.dirty_calls[call.call_id] = None
    for call in orphans:
        call.waiting_key = None
        queueing.overflow(s, call, None, "queue-removed")
    for agent_id in s.waiters:
        s.dirty_agents[agent_id] = None  # memberships changed: is each wait still sensible?


def add_list_entry(s: EngineState, req: rq.AddListEntry) -> None:
    if req.entry is not None:
        if req.list_name is not None or req.number is not None:
            raise InvalidValue("entry", "entry and list_name/number", "either an Entry or raw list_name + number")
        entry = req.entry
    else:
        if req.list_name is None:
            raise InvalidValue("list_name", None, "blacklist, whitelist or dnc")
        entry = s.lists.build(
            list_name=req.list_name,
            number=req.number,
            scope=req.scope,
            expires_at=req.expires_at,
            reason=req.reason,
            added_by=req.added_by,
            priority=req.priority,
            target=req.target,
            action=req.action,
            cause=req.cause,
            now=s.now,
        )
    replaced = s.lists.add(entry, s.queues.keys(), s.now)
    s.note(ListChanged("add", entry, s.now, replaced))


def remove_list_entry(s: EngineState, req: rq.RemoveListEntry) -> None:
    removed = s.lists.remove(req.list_name, req.number, req.scope, req.kind)
    s.note(ListChanged("remove", removed, s.now))


def upsert_agent(s: EngineState, req: rq.UpsertAgent) -> None:
    profile = req.profile
    if not isinstance(profile, AgentProfile):
        raise InvalidValue("profile", type(profile).__name__, "an AgentProfile")
    if s.catalogue is not None:
        for skill in profile.skills:
            if skill not in s.catalogue:
                raise UnknownSkill(skill, owner=f"agent {profile.id}")
    upsert(s, profile)


def upsert(s: EngineState, profile: AgentProfile) -> None:
    agent = s.agents.get(profile.id)
    if agent is None:
        agent = Agent(profile=profile, seq=next(s.seq), state_since=s.now, idle_since=s.now)
        s.agents[profile.id] = agent
    else:
        pools.detach(s, agent)
        unindex(s, agent)
        agent.profile = profile
    track_default = s.config.presence_tracking if profile.track_presence is None else profile.track_presence
    tracked = set()
    agent.registered = {}
    for index, endpoint in enumerate(profile.endpoints):
        key = registration_key(endpoint, s.config.default_realm)
        if key is None:
            continue
        s.user_index.setdefault(key[0], []).append((profile.id, index, key[1]))
        if track_default:
            tracked.add(index)
            agent.registered[index] = presence.is_registered(s, key[0], key[1])
    agent.tracked = frozenset(tracked)
    agent.memberships = pools.memberships(s, profile)
    pools.refresh(s, agent)
    s.dirty_agents[agent.id] = None


def unindex(s: EngineState, agent: Agent) -> None:
    for endpoint in agent.profile.endpoints:
        key = registration_key(endpoint, s.config.default_realm)
        if key is None:
            continue
        entries = [e for e in s.user_index.get(key[0], []) if e[0] != agent.id]
        if entries:
            s.user_index[key[0]] = entries
        else:
            s.user_index.pop(key[0], None)
            s.contacts.pop(key[0], None)


def remove_agent(s: EngineState, req: rq.RemoveAgent) -> None:
    agent = s.agent(req.agent_id)
    if agent.state is not AgentState.LOGGED_OUT or agent.legs:
        raise AgentBusy(agent.id, f"is {agent.state.value}; log the agent out first")
    pools.detach(s, agent)
    unindex(s, agent)
    del s.agents[agent.id]
    s.wrap_legs.pop(agent.id, None)


def replace_queues(s: EngineState, req: rq.ReplaceQueues) -> None:
    queues = list(req.queues)
    if not all(isinstance(q, QueueConfig) for q in queues):
        raise InvalidValue("queues", "non-QueueConfig item", "QueueConfig models")
    check_queue_set(s, queues, s.config.default_route)
    rebuild_queues(s, queues)
