"""Agent pools: the available, eligible agents of one (queue, step), ordered by the queue's strategy.

Rules:
- A pool answers "who next?" in O(log n) or better; nothing here scans all agents except the
  ring-all and custom pools, whose contract is "everyone eligible".
- Pools hold agent ids with the agent's ``pool_token`` at insertion. The engine bumps the token
  whenever an agent leaves availability, which invalidates every stale entry at once (lazy
  deletion); heaps are compacted when stale entries outnumber live ones.
- Keys are fixed while an agent sits in a pool: every key input (idle-since, calls answered, talk
  time, rank, skill score) only changes while the agent is out of the pools.

Theory: one pool per (queue, escalation step). An agent becomes available -> it is added to the
pools of every step that admits it; it is offered a call or goes busy -> its token bumps.
"""

from __future__ import annotations

import heapq
import random
from abc import ABC, abstractmethod
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Mapping

from ctilink.core.agent import Agent
from ctilink.core.config import Strategy

KeyFn = Callable[[Agent], tuple[float, ...]]


class Pool(ABC):
    """Base pool. ``agents`` is the engine's agent table (ids -> Agent)."""

    def __init__(self, agents: Mapping[str, Agent]) -> None:
        self._agents = agents
        self.live = 0

    def _valid(self, agent_id: str, token: int) -> Agent | None:
        agent = self._agents.get(agent_id)
        if agent is None or not agent.in_pools or agent.pool_token != token:
            return None
        return agent

    @abstractmethod
    def add(self, agent: Agent) -> None:
        """Insert an agent that just became available (its current token)."""

    def discard(self, agent: Agent) -> None:
        """Called after the agent's token was bumped; the entry is already invalid."""
        self.live -= 1

    @abstractmethod
    def best(self, exclude: str | None = None) -> Agent | None:
        """The next agent by strategy, avoiding ``exclude`` when anyone else is available."""

    @abstractmethod
    def members(self) -> list[Agent]:
        """Every live member, best first where the strategy has an order."""

    def offered(self, agent: Agent) -> None:  # noqa: B027 (an optional hook, not abstract)
        """Hook: the engine offered a call to ``agent`` from this pool (round-robin remembers it)."""

    def __len__(self) -> int:
        return self.live


class HeapPool(Pool):
    """Smallest key first: longest idle, fewest calls, least talk time, linear, highest skill."""

    def __init__(self, agents: Mapping[str, Agent], key: KeyFn) -> None:
        super().__init__(agents)
        self._key = key
        self._heap: list[tuple[tuple[float, ...], int, int, str]] = []

    def add(self, agent: Agent) -> None:
        heapq.heappush(self._heap, (self._key(agent), agent.seq, agent.pool_token, agent.id))
        self.live += 1

    def discard(self, agent: Agent) -> None:
        self.live -= 1
        if len(self._heap) > 2 * self.live + 64:
            self._heap = [e for e in self._heap if self._valid(e[3], e[2]) is not None]
            heapq.heapify(self._heap)

    def _clean_top(self) -> None:
        heap = self._heap
        while heap and self._valid(heap[0][3], heap[0][2]) is None:
            heapq.heappop(heap)

    def best(self, exclude: str | None = None) -> Agent | None:
        self._clean_top()
        if not self._heap:
            return None
        top = self._heap[0]
        if top[3] != exclude:
            return self._agents[top[3]]
        popped = heapq.heappop(self._heap)
        self._clean_top()
        second = self._agents[self._heap[0][3]] if self._heap else None
        heapq.heappush(self._heap, popped)
        return second if second is not None else self._agents[popped[3]]

    def members(self) -> list[Agent]:
        found = [(e[0], e[1], self._valid(e[3], e[2])) for e in self._heap]
        return [a for _, _, a in sorted((k, s, a) for k, s, a in found if a is not None)]


class RoundRobinPool(Pool):
    """Agents in rank order; the next offer goes to the first rank after the last one offered."""

    def __init__(self, agents: Mapping[str, Agent], rank: Callable[[Agent], int], cursor: list[int]) -> None:
        super().__init__(agents)
        self._rank = rank
        self._cursor = cursor  # shared by every step of a queue: [last rank offered]
        self._sorted: list[tuple[int, str]] = []

    def add(self, agent: Agent) -> None:
        insort(self._sorted, (self._rank(agent), agent.id))
        self.live += 1

    def discard(self, agent: Agent) -> None:
        self.live -= 1
        entry = (self._rank(agent), agent.id)
        index = bisect_left(self._sorted, entry)
        if index < len(self._sorted) and self._sorted[index] == entry:
            del self._sorted[index]

    def best(self, exclude: str | None = None) -> Agent | None:
        n = len(self._sorted)
        if n == 0:
            return None
        start = bisect_right(self._sorted, (self._cursor[0], "\U0010ffff"))
        fallback = None
        for offset in range(min(n, 2)):
            agent_id = self._sorted[(start + offset) % n][1]
            if agent_id != exclude:
                return self._agents[agent_id]
            fallback = self._agents[agent_id]
        return fallback

    def members(self) -> list[Agent]:
        return [self._agents[agent_id] for _, agent_id in self._sorted]

    def offered(self, agent: Agent) -> None:
        self._cursor[0] = self._rank(agent)


class RandomPool(Pool):
    """Uniformly random among the available agents (seeded RNG passed in)."""

    def __init__(self, agents: Mapping[str, Agent], rng: random.Random) -> None:
        super().__init__(agents)
        self._rng = rng
        self._items: list[str] = []
        self._index: dict[str, int] = {}

    def add(self, agent: Agent) -> None:
        self._index[agent.id] = len(self._items)
        self._items.append(agent.id)
        self.live += 1

    def discard(self, agent: Agent) -> None:
        self.live -= 1
        index = self._index.pop(agent.id, None)
        if index is None:
            return
        last = self._items.pop()
        if index < len(self._items):
            self._items[index] = last
            self._index[last] = index

    def best(self, exclude: str | None = None) -> Agent | None:
        n = len(self._items)
        if n == 0:
            return None
        if exclude is not None and n > 1 and exclude in self._index:
            index = self._rng.randrange(n - 1)
            if index >= self._index[exclude]:
                index += 1
        else:
            index = self._rng.randrange(n)
        return self._agents[self._items[index]]

    def members(self) -> list[Agent]:
        return [self._agents[agent_id] for agent_id in self._items]


class SetPool(Pool):
    """Every available agent, in the order they became available (ring-all and custom strategies)."""

    def __init__(self, agents: Mapping[str, Agent]) -> None:
        super().__init__(agents)
        self._members: dict[str, None] = {}

    def add(self, agent: Agent) -> None:
        self._members[agent.id] = None
        self.live += 1

    def discard(self, agent: Agent) -> None:
        self.live -= 1
        self._members.pop(agent.id, None)

    def best(self, exclude: str | None = None) -> Agent | None:
        fallback = None
        for agent_id in self._members:
            if agent_id != exclude:
                return self._agents[agent_id]
            fallback = self._agents[agent_id]
        return fallback

    def members(self) -> list[Agent]:
        return [self._agents[agent_id] for agent_id in self._members]


def make_pool(
    strategy: str,
    agents: Mapping[str, Agent],
    *,
    rng: random.Random,
    rank: Callable[[Agent], int],
    score: Callable[[Agent], int],
    cursor: list[int],
) -> Pool:
    """The pool implementing a strategy (custom strategies use a SetPool and are applied by the engine)."""
    if strategy == Strategy.LONGEST_IDLE:
        return HeapPool(agents, lambda a: (a.idle_since,))
    if strategy == Strategy.FEWEST_CALLS:
        return HeapPool(agents, lambda a: (a.calls_answered, a.idle_since))
    if strategy == Strategy.LEAST_TALK_TIME:
        return HeapPool(agents, lambda a: (a.talk_time_s, a.idle_since))
    if strategy == Strategy.LINEAR:
        return HeapPool(agents, lambda a: (rank(a),))
    if strategy == Strategy.HIGHEST_SKILL:
        return HeapPool(agents, lambda a: (-score(a), a.idle_since))
    if strategy == Strategy.ROUND_ROBIN:
        return RoundRobinPool(agents, rank, cursor)
    if strategy == Strategy.RANDOM:
        return RandomPool(agents, rng)
    return SetPool(agents)


BUILTIN_STRATEGIES = frozenset(s.value for s in Strategy)

__all__ = ["BUILTIN_STRATEGIES", "HeapPool", "Pool", "RandomPool", "RoundRobinPool", "SetPool", "make_pool"]
