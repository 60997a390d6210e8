"""Sticky-agent memory: which agent last talked to a caller, and the rule for their next call.

Rules:
- Pure: no I/O, no clock; ``now`` is passed in. The engine owns one :class:`StickyMemory`; the
  daemon loads it from the store at start and persists the engine's ``StickyRemembered``.
- Keys are (E.164 number, queue) with ``StickyConfig.scope == "queue"``, or (number, None) with
  ``"global"``. Withheld callers are never remembered (there is no one to recognise).
- A memory lives ``ttl_s`` from the call that made it; a newer call replaces it. After its expiry
  it is kept ``forget_after_expiry_s`` more, only so a returning caller can be reported as
  ``expired``; :meth:`StickyMemory.purge` drops it after that (a few per call, soonest first, from
  a heap, so memory does not grow with every caller ever seen).
- :func:`decide` is the routing rule, on plain facts about the remembered agent:
  ``hit`` (offer now), ``wait`` (busy now, back soon: hold the call up to ``wait_s``) or
  ``fallback`` (logged out, not ready or leaving, not qualified for the queue, unreachable,
  unknown, or busy with waiting disabled).

Theory of operation: the engine recalls the memory when a call joins its first queue, asks
:func:`decide`, and either offers the call to that agent, holds it (in its queue's position list,
out of the per-step lists other agents are matched from) or routes it normally. When a call
that talked to an agent ends, the engine calls :meth:`StickyMemory.remember`.

This module never knows about calls, queues' waiting lists, commands or the store.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

from ctilink.core.agent import AgentState
from ctilink.core.config import NAME_RE, StickyConfig
from ctilink.core.errors import CtilinkError, InvalidNumber, InvalidValue
from ctilink.lists.numbers import is_e164

_PURGE_PER_CALL = 8

Outcome = Literal["hit", "wait", "fallback"]
_BUSY = frozenset({AgentState.AVAILABLE, AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP})


@dataclass(frozen=True, slots=True)
class StickyMemo:
    """``number`` was last served by ``agent_id`` in ``queue`` (None: any queue)."""

    number: str
    queue: str | None
    agent_id: str
    updated_at: float
    expires_at: float


class StickyRow(Protocol):
    """What :meth:`StickyMemory.load` reads (the store's ``StickyRecord`` fits)."""

    number: str
    queue: str | None
    agent_id: str
    expires_at: float


def decide(
    state: AgentState | None,
    *,
    offerable: bool,
    qualified: bool,
    reachable: bool,
    leaving: bool,
    wait_s: float,
) -> Outcome:
    """The sticky rule for one call and its remembered agent (``state`` None: agent unknown).

    ``leaving``: a not-ready or logout is pending (the agent will not come back after this call).
    ``offerable``: the engine would offer this agent a call right now.
    """
    if state is None or state is AgentState.LOGGED_OUT or state is AgentState.NOT_READY:
        return "fallback"
    if not qualified or not reachable or leaving:
        return "fallback"
    if offerable:
        return "hit"
    if wait_s > 0 and state in _BUSY:
        return "wait"
    return "fallback"


class StickyMemory:
    """number (+ queue) -> last agent, with expiry. See the module rules."""

    def __init__(self, config: StickyConfig) -> None:
        self.config = config
        self._memos: dict[tuple[str, str | None], StickyMemo] = {}
        self._heap: list[tuple[float, int, tuple[str, str | None], StickyMemo]] = []
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._memos)

    def key(self, number: str, queue: str | None) -> tuple[str, str | None]:
        return (number, queue if self.config.scope == "queue" else None)

    def remember(self, number: str, queue: str | None, agent_id: str, now: float) -> StickyMemo:
        """Remember ``agent_id`` for ``number`` (in ``queue`` if the scope is per queue)."""
        key = self.key(number, queue)
        memo = StickyMemo(key[0], key[1], agent_id, now, now + self.config.ttl_s)
        self._put(key, memo)
        self.purge(now, _PURGE_PER_CALL)
        return memo

    def _put(self, key: tuple[str, str | None], memo: StickyMemo) -> None:
        self._memos[key] = memo
        heapq.heappush(self._heap, (memo.expires_at + self.config.forget_after_expiry_s, next(self._seq), key, memo))

    def recall(self, number: str, queue: str | None, now: float) -> tuple[StickyMemo | None, bool]:
        """(the memory for this caller, whether it has expired). An expired memory is forgotten
        here: it is reported once, as ``expired``."""
        self.purge(now, _PURGE_PER_CALL)
        key = self.key(number, queue)
        memo = self._memos.get(key)
        if memo is None:
            return None, False
        if now >= memo.expires_at:
            del self._memos[key]
            return memo, True
        return memo, False

    def peek(self, number: str, queue: str | None, now: float) -> StickyMemo | None:
        """The live memory for this caller, without any side effect (for the dialer and the API)."""
        memo = self._memos.get(self.key(number, queue))
        return memo if memo is not None and now < memo.expires_at else None

    def purge(self, now: float, limit: int | None = None) -> int:
        """Forget memories past expiry + ``forget_after_expiry_s``; at most ``limit`` of them."""
        heap = self._heap
        dropped = 0
        while heap and heap[0][0] <= now and (limit is None or dropped < limit):
            _, _, key, memo = heapq.heappop(heap)
            if self._memos.get(key) is memo:
                del self._memos[key]
                dropped += 1
        return dropped

    def load(self, rows: Iterable[StickyRow]) -> list[tuple[object, CtilinkError]]:
        """Bulk load at start (the store's live records); returns the (row, error) pairs refused."""
        refused: list[tuple[object, CtilinkError]] = []
        for row in rows:
            try:
                memo = _memo_of(row)
            except CtilinkError as exc:
                refused.append((row, exc))
                continue
            key = self.key(memo.number, memo.queue)
            if key[1] != memo.queue:
                continue  # a per-queue row while the scope is global (or the reverse): not ours
            current = self._memos.get(key)
            if current is None or current.updated_at <= memo.updated_at:
                self._put(key, memo)
        return refused


def _memo_of(row: object) -> StickyMemo:
    number = getattr(row, "number", None)
    queue = getattr(row, "queue", None)
    agent_id = getattr(row, "agent_id", None)
    expires_at = getattr(row, "expires_at", None)
    updated_at = getattr(row, "updated_at", None)
    if not isinstance(number, str) or not is_e164(number):
        raise InvalidNumber("number", number, "sticky memory holds E.164 numbers")
    if queue is not None and (not isinstance(queue, str) or not NAME_RE.match(queue)):
        raise InvalidValue("queue", queue, "a queue name or None")
    if not isinstance(agent_id, str) or not NAME_RE.match(agent_id):
        raise InvalidValue("agent_id", agent_id, "an agent id")
    if isinstance(expires_at, bool) or not isinstance(expires_at, (int, float)) or not math.isfinite(expires_at):
        raise InvalidValue("expires_at", expires_at, "a finite time")
    if isinstance(updated_at, bool) or not isinstance(updated_at, (int, float)) or not math.isfinite(updated_at):
        updated_at = float("-inf")  # unknown: any newer memory for the same key wins
    return StickyMemo(number, queue, agent_id, float(updated_at), float(expires_at))


__all__ = ["Outcome", "StickyMemo", "StickyMemory", "StickyRow", "decide"]
