"""Queue runtime: waiting calls and routing indexes of one queue.

Rules:
- Waiting calls are kept sorted by ``(-priority, queued_at, seq)``: priority class first, then
  time in queue, then arrival order. The key is assigned once per stay and never changes while the
  call waits, so positions are a bisect away.
- One waiting list and one agent :class:`~ctilink.core.strategies.Pool` per escalation step: a
  call at step k waits in list k and is served from pool k. A call that is ringing an agent is in
  no list (it cannot be offered twice).
- A call held for its busy sticky agent is in the position list only (it keeps its place, counts
  as waiting and is announced) but in no per-step list, so no other agent is matched to it and
  the calls behind it are not blocked.
- Per-step counters of logged-in and staffed eligible agents are maintained by the engine on every
  change of an agent's flags, so "is anyone there?" never scans agents.

Theory: this module owns data structures only. The engine decides what goes in and out.
"""

from __future__ import annotations

from bisect import bisect_left, insort

from ctilink.core.config import QueueConfig
from ctilink.core.routing import Requirement
from ctilink.core.strategies import Pool

WaitKey = tuple[int, float, int]


class QueueRuntime:
    def __init__(
        self, config: QueueConfig, steps: list[Requirement], pools: list[Pool], cursor: list[int], aht_s: float
    ) -> None:
        self.config = config
        self.name = config.name
        self.steps = steps
        self.pools = pools
        self.cursor = cursor
        self.waiting: list[list[tuple[int, float, int, str]]] = [[] for _ in steps]
        self.all_waiting: list[tuple[int, float, int, str]] = []
        self.logged_in = [0] * len(steps)
        self.staffed = [0] * len(steps)
        self.aht_s = aht_s
        self.ranks = {agent_id: index for index, agent_id in enumerate(config.agent_order)}

    @property
    def last_step(self) -> int:
        return len(self.steps) - 1

    def __len__(self) -> int:
        return len(self.all_waiting)

    def insert(self, key: WaitKey, call_id: str, step: int, held: bool = False) -> None:
        entry = (*key, call_id)
        if not held:
            insort(self.waiting[step], entry)
        insort(self.all_waiting, entry)

    def remove(self, key: WaitKey, call_id: str, step: int, held: bool = False) -> None:
        entry = (*key, call_id)
        buckets = (self.all_waiting,) if held else (self.waiting[step], self.all_waiting)
        for bucket in buckets:
            index = bisect_left(bucket, entry)
            if index < len(bucket) and bucket[index] == entry:
                del bucket[index]

    def position(self, key: WaitKey, call_id: str) -> int:
        return bisect_left(self.all_waiting, (*key, call_id)) + 1

    def heads(self, step: int) -> list[tuple[int, float, int, str]]:
        """The two best waiting calls at ``step`` (the second is used when the first must skip an agent)."""
        return self.waiting[step][:2]

    def note_handle_time(self, seconds: float) -> None:
        # An exponentially weighted mean: recent calls matter more; no unbounded history kept.
        self.aht_s = 0.8 * self.aht_s + 0.2 * max(0.0, seconds)


__all__ = ["QueueRuntime", "WaitKey"]
