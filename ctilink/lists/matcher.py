"""The in-memory list index the engine's screening hook consults.

Rules:
- Pure: no I/O, no clock. ``now`` is passed in; an entry with ``expires_at <= now`` never
  matches (it may still be held until :meth:`ListMatcher.purge_expired` drops it).
- Precedence, applied in this order:
  1. **Scope**: the scopes the caller lists are tried narrowest first: every non-global scope in
     the order given (e.g. ``did:+44...`` before ``queue:support``), then ``global`` last if it
     was listed. The first scope with a live match wins, whatever kind of match it is.
  2. Within one scope, **an exact entry beats any prefix**, and **the longest prefix wins**.
  3. An expired candidate is skipped and the search continues (a live ``+44`` still matches
     when ``+44909`` has expired).
  Anonymous callers (``number == "anonymous"``) match only ``anonymous`` entries.
- One entry per key (list, scope, kind, number): adding an existing key replaces the entry.

Theory of operation: entries live in buckets keyed by (list, scope). A bucket holds a dict of
exact numbers and, for prefixes, one dict per prefix length plus the lengths in descending
order. A lookup is at most one exact probe plus one probe per distinct prefix length present
(E.164 caps that at 16), per scope: O(scopes x lengths), independent of the entry count.

This module knows nothing about CSV, the store, FreeSWITCH or the engine's call states.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from ctilink.lists.model import GLOBAL, Entry, EntryKind, ListName
from ctilink.lists.numbers import ANONYMOUS, InvalidNumberError

__all__ = ["ListMatcher"]


class _Bucket:
    __slots__ = ("by_len", "exact", "lengths")

    def __init__(self) -> None:
        self.exact: dict[str, Entry] = {}
        self.by_len: dict[int, dict[str, Entry]] = {}
        self.lengths: tuple[int, ...] = ()

    def refresh_lengths(self) -> None:
        self.lengths = tuple(sorted((n for n, d in self.by_len.items() if d), reverse=True))

    def empty(self) -> bool:
        return not self.exact and not self.lengths


class ListMatcher:
    """Exact / prefix / anonymous lookup over blacklist, whitelist and dnc entries."""

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._count = 0
        for entry in entries:
            self.add(entry)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Entry]:
        for bucket in self._buckets.values():
            yield from bucket.exact.values()
            for table in bucket.by_len.values():
                yield from table.values()

    def add(self, entry: Entry) -> Entry | None:
        """Insert or replace ``entry``; return the entry it replaced, if any."""
        if not isinstance(entry, Entry):
            raise TypeError(f"expected an Entry, got {type(entry).__name__}")
        bkey = (entry.list_name.value, entry.scope)
        bucket = self._buckets.get(bkey)
        if bucket is None:
            bucket = self._buckets[bkey] = _Bucket()
        if entry.kind is EntryKind.PREFIX:
            n = len(entry.number)
            table = bucket.by_len.get(n)
            if table is None:
                table = bucket.by_len[n] = {}
            old = table.get(entry.number)
            table[entry.number] = entry
            if len(table) == 1 and old is None:
                bucket.refresh_lengths()
        else:
            old = bucket.exact.get(entry.number)
            bucket.exact[entry.number] = entry
        if old is None:
            self._count += 1
        return old

    def get(
        self, list_name: ListName | str, number: str, *, scope: str = GLOBAL, kind: EntryKind | str = EntryKind.EXACT
    ) -> Entry | None:
        """The entry stored under exactly this key (no matching, no expiry check)."""
        bucket = self._buckets.get((ListName(list_name).value, scope))
        if bucket is None:
            return None
        if EntryKind(kind) is EntryKind.PREFIX:
            return bucket.by_len.get(len(number), {}).get(number)
        return bucket.exact.get(number)

    def remove(
        self, list_name: ListName | str, number: str, *, scope: str = GLOBAL, kind: EntryKind | str = EntryKind.EXACT
    ) -> Entry | None:
        """Remove the entry with this key; return it, or None if there was none."""
        bkey = (ListName(list_name).value, scope)
        bucket = self._buckets.get(bkey)
        if bucket is None:
            return None
        if EntryKind(kind) is EntryKind.PREFIX:
            table = bucket.by_len.get(len(number))
            old = table.pop(number, None) if table is not None else None
            if table is not None and not table:
                del bucket.by_len[len(number)]
                bucket.refresh_lengths()
        else:
            old = bucket.exact.pop(number, None)
        if old is not None:
            self._count -= 1
            if bucket.empty():
                del self._buckets[bkey]
        return old

    def discard(self, entry: Entry) -> Entry | None:
        """Remove the entry with ``entry``'s key."""
        return self.remove(entry.list_name, entry.number, scope=entry.scope, kind=entry.kind)

    def match(
        self,
        number: str,
        *,
        list: ListName | str,
        scopes: Sequence[str] = (GLOBAL,),
        now: float,
    ) -> Entry | None:
        """The winning live entry for ``number`` (E.164 or ``anonymous``), or None.

        ``scopes`` are the scopes that apply to this call, e.g.
        ``["did:+442079460000", "queue:support", "global"]``; see the module rules for precedence.
        """
        if not isinstance(number, str) or not (number == ANONYMOUS or number[:1] == "+"):
            raise InvalidNumberError(number, "match() takes a normalized E.164 number or 'anonymous'")
        buckets = self._buckets
        lst = list.value if isinstance(list, ListName) else ListName(list).value
        has_global = False
        for scope in scopes:
            if scope == GLOBAL:
                has_global = True
                continue
            bucket = buckets.get((lst, scope))
            if bucket is not None:
                hit = _probe(bucket, number, now)
                if hit is not None:
                    return hit
        if has_global:
            bucket = buckets.get((lst, GLOBAL))
            if bucket is not None:
                return _probe(bucket, number, now)
        return None

    def purge_expired(self, now: float) -> list[Entry]:
        """Drop every entry expired at ``now``; return what was dropped."""
        dead = [e for e in self if e.expires_at is not None and now >= e.expires_at]
        for entry in dead:
            self.discard(entry)
        return dead


def _probe(bucket: _Bucket, number: str, now: float) -> Entry | None:
    hit = bucket.exact.get(number)
    if hit is not None and (hit.expires_at is None or now < hit.expires_at):
        return hit
    if number == ANONYMOUS:
        return None
    size = len(number)
    by_len = bucket.by_len
    for n in bucket.lengths:
        if n > size:
            continue
        hit = by_len[n].get(number[:n])
        if hit is not None and (hit.expires_at is None or now < hit.expires_at):
            return hit
    return None
