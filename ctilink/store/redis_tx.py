"""One Redis transaction of the store: reads that see its own pending writes, then MULTI/EXEC.

Rules:
- Every key read by a write transaction is WATCHed first, and every write is buffered until
  :meth:`RedisTx.commit`, which sends the net result in one MULTI/EXEC: either all of it lands or
  none (a concurrent change to a watched key raises ``WatchError`` and the caller retries).
- Reads consult the buffered writes first, so an operation sees what earlier operations of the
  same batch wrote, as SQLite's transaction does.
- :meth:`savepoint`, :meth:`rollback` and :meth:`release` give each batched operation its own
  layer of writes: a failing operation's layer is dropped, the others still commit.
- The buffered writes are final values (HSET/HDEL, ZADD/ZREM), never increments, so replaying a
  commit after a dropped connection is harmless.
- :func:`first_by_order` pages through a sorted-set index and stops as soon as no further member
  can sort before the last one kept, so a ``limit`` reads about ``limit`` records, ties included.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["Bound", "RedisTx", "first_by_order", "text"]

#: A score bound: (value, inclusive).
Bound = tuple[float, bool]
_T = TypeVar("_T")
_Layer = dict[tuple[str, str, str], Any]  # (kind "h"/"z", key, member) -> value, None = deleted


def text(value: object) -> str:
    """A reply as text, whether or not the client decodes responses."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _bound_arg(bound: Bound) -> str:
    value, inclusive = bound
    if value in (float("inf"), float("-inf")):
        return "+inf" if value > 0 else "-inf"
    return repr(float(value)) if inclusive else f"({float(value)!r}"


def _within(score: float, lo: Bound, hi: Bound) -> bool:
    above = score >= lo[0] if lo[1] else score > lo[0]
    below = score <= hi[0] if hi[1] else score < hi[0]
    return above and below


class RedisTx:
    """Buffered writes over ``conn`` (a WATCHing pipeline when ``watch``, else a plain client)."""

    def __init__(self, conn: Any, *, watch: bool) -> None:
        self._conn = conn
        self._watch = watch
        self._watched: set[str] = set()
        self._layers: list[_Layer] = [{}]

    # -- layers ---------------------------------------------------------------------------------
    def savepoint(self) -> None:
        self._layers.append({})

    def rollback(self) -> None:
        self._layers.pop()

    def release(self) -> None:
        top = self._layers.pop()
        self._layers[-1].update(top)

    def _pending(self, kind: str, key: str, member: str) -> tuple[bool, Any]:
        for layer in reversed(self._layers):
            slot = (kind, key, member)
            if slot in layer:
                return True, layer[slot]
        return False, None

    def _pending_members(self, kind: str, key: str) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for layer in self._layers:
            merged.update({m: v for (k, name, m), v in layer.items() if k == kind and name == key})
        return merged

    def _see(self, key: str) -> None:
        if self._watch and key not in self._watched:
            self._conn.watch(key)
            self._watched.add(key)

    # -- hashes ---------------------------------------------------------------------------------
    def hget(self, key: str, field: str) -> str | None:
        found, value = self._pending("h", key, field)
        if found:
            return value  # type: ignore[no-any-return]
        self._see(key)
        raw = self._conn.hget(key, field)
        return None if raw is None else text(raw)

    def hgetall(self, key: str) -> dict[str, str]:
        self._see(key)
        values = {text(k): text(v) for k, v in self._conn.hgetall(key).items()}
        for field, value in self._pending_members("h", key).items():
            if value is None:
                values.pop(field, None)
            else:
                values[field] = value
        return values

    def hmget(self, key: str, fields: list[str]) -> list[str | None]:
        if not fields:
            return []
        self._see(key)
        raw = self._conn.hmget(key, fields)
        out: list[str | None] = []
        for field, value in zip(fields, raw, strict=True):
            found, pending = self._pending("h", key, field)
            out.append(pending if found else (None if value is None else text(value)))
        return out

    def hset(self, key: str, field: str, value: str) -> None:
        self._layers[-1][("h", key, field)] = value

    def hdel(self, key: str, field: str) -> None:
        self._layers[-1][("h", key, field)] = None

    # -- sorted sets ----------------------------------------------------------------------------
    def zadd(self, key: str, member: str, score: float) -> None:
        self._layers[-1][("z", key, member)] = float(score)

    def zrem(self, key: str, member: str) -> None:
        self._layers[-1][("z", key, member)] = None

    def zrange(self, key: str, lo: Bound, hi: Bound, *, desc: bool, start: int, num: int) -> list[tuple[str, float]]:
        """Members scored within ``lo..hi`` in (score, member) order (reversed when ``desc``)."""
        self._see(key)
        pending = self._pending_members("z", key)
        if not pending:
            return self._zrange_direct(key, lo, hi, desc=desc, start=start, num=num)
        merged = dict(self._zrange_direct(key, lo, hi, desc=desc, start=0, num=-1))
        for member, score in pending.items():
            if score is None or not _within(score, lo, hi):
                merged.pop(member, None)
            else:
                merged[member] = score
        ordered = sorted(merged.items(), key=lambda ms: (ms[1], ms[0]), reverse=desc)
        return ordered[start : start + num] if num >= 0 else ordered[start:]

    def _zrange_direct(
        self, key: str, lo: Bound, hi: Bound, *, desc: bool, start: int, num: int
    ) -> list[tuple[str, float]]:
        low, high = _bound_arg(lo), _bound_arg(hi)
        if desc:
            raw = self._conn.zrevrangebyscore(key, high, low, start=start, num=num, withscores=True)
        else:
            raw = self._conn.zrangebyscore(key, low, high, start=start, num=num, withscores=True)
        return [(text(m), float(s)) for m, s in raw]

    # -- commit ---------------------------------------------------------------------------------
    def commit(self) -> None:
        """Send every buffered write in one MULTI/EXEC (a write transaction only)."""
        writes = self._layers[0]
        if not writes:
            if self._watch:
                self._conn.reset()
            return
        self._conn.multi()
        for (kind, key, member), value in writes.items():
            if kind == "h":
                if value is None:
                    self._conn.hdel(key, member)
                else:
                    self._conn.hset(key, member, value)
            elif value is None:
                self._conn.zrem(key, member)
            else:
                self._conn.zadd(key, {member: value})
        self._conn.execute()


def first_by_order(
    tx: RedisTx,
    index: str,
    span: tuple[Bound, Bound],
    *,
    desc: bool,
    limit: int,
    load: Callable[[list[str]], list[_T | None]],
    keep: Callable[[_T], bool],
    order: Callable[[_T], Any],
) -> list[_T]:
    """The first ``limit`` items by ``order`` (whose first term is the index score)."""
    found: list[tuple[float, _T]] = []
    page, start = max(limit, 100), 0
    while True:
        members = tx.zrange(index, span[0], span[1], desc=desc, start=start, num=page)
        start += len(members)
        items = load([m for m, _ in members])
        found += [(s, i) for (_, s), i in zip(members, items, strict=True) if i is not None and keep(i)]
        found.sort(key=lambda si: order(si[1]))
        # Past the limit-th item's score nothing further can sort before it (ties need reading).
        if len(members) < page or (len(found) >= limit and found[limit - 1][0] != members[-1][1]):
            return [i for _, i in found[:limit]]
