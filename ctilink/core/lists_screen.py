"""Number lists inside the engine: inbound screening, runtime changes and do-not-call checks.

Rules:
- Pure: no I/O, no clock. ``now`` is passed in; the in-memory :class:`~ctilink.lists.ListMatcher`
  owned here is the only copy the engine reads (the daemon loads it from the store at start and
  persists the engine's ``ListChanged`` notifications).
- Numbers are compared in E.164 (``+15551230001``) or as ``anonymous``: a caller id is normalized
  with the engine's ``default_region``; a withheld one (``anonymous``, ``restricted``, empty, ...)
  matches only ``anonymous`` entries; a caller id that is not a phone number at all (an internal
  extension, a SIP user name, hostile text) matches nothing and is never an error: it is the
  caller's text, not an operator's input.
- Scopes for an inbound call, narrowest first: ``did:<destination as E.164>`` (only when the
  destination is a phone number), ``queue:<queue>``, then ``global``. The first scope with a live
  match wins (see :mod:`ctilink.lists.matcher`). The blacklist and the whitelist are matched
  independently; when both hit, ``ListsConfig.whitelist_beats_blacklist`` decides.
- Operator input (requests, loads) is validated before anything changes and refused with a typed
  error naming the field: :class:`~ctilink.core.errors.UnknownList`,
  :class:`~ctilink.core.errors.InvalidNumber`, :class:`~ctilink.core.errors.InvalidListEntry`,
  :class:`~ctilink.core.errors.UnknownListEntry`, :class:`~ctilink.core.errors.UnknownQueue`.
  On top of the entry's own checks, a target that will reach a switch command must also fit the
  engine's command patterns (a ``route`` extension, a green-channel agent id or extension).

Theory of operation: :meth:`ListScreen.screen` turns (caller, destination, queue, now) into a
:class:`Verdict` (which list, which entry) or ``None``; the engine turns the verdict into commands
and notifications. Entries with an expiry also sit in a heap so :meth:`purge_expired` can drop
them (a few per input, oldest first) without scanning; a replaced entry's heap item is skipped
because the matcher no longer holds that very object.

This module never knows about calls, agents, commands or the store.
"""

from __future__ import annotations

import heapq
import itertools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from ctilink.core.config import DESTINATION_RE, NAME_RE, ListsConfig
from ctilink.core.errors import (
    CtilinkError,
    DoNotCallError,
    InvalidListEntry,
    InvalidNumber,
    InvalidValue,
    UnknownList,
    UnknownListEntry,
    UnknownQueue,
    quoted,
)
from ctilink.lists.matcher import ListMatcher
from ctilink.lists.model import (
    GLOBAL,
    BlockAction,
    Entry,
    EntryKind,
    InvalidEntryError,
    ListName,
    build_entry,
    normalize_scope,
)
from ctilink.lists.numbers import ANONYMOUS, InvalidNumberError, normalize_number, normalize_prefix

_CAMPAIGN = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_QUEUE_SCOPE = "queue:"
MAX_CALL_PRIORITY = 100


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the lists say about one inbound call: the winning entry of ``list``."""

    list: ListName
    entry: Entry

    @property
    def blocks(self) -> bool:
        return self.list is ListName.BLACKLIST


@lru_cache(maxsize=8192)
def _e164_or_none(raw: str | None, region: str) -> str | None:
    # Cached: the same callers and DIDs come back all day, and parsing costs tens of microseconds.
    try:
        return normalize_number(raw, region)
    except InvalidNumberError:
        return None


def list_name_of(raw: object) -> ListName:
    """The list called ``raw`` (``blacklist``, ``whitelist``, ``dnc``), or :class:`UnknownList`."""
    if isinstance(raw, ListName):
        return raw
    if isinstance(raw, str):
        try:
            return ListName(raw.strip().lower())
        except ValueError:
            pass
    raise UnknownList(raw)


class ListScreen:
    """The engine's number lists. See the module rules."""

    def __init__(self, config: ListsConfig, region: str) -> None:
        self.config = config
        self.region = region
        self.matcher = ListMatcher()
        self._expiring: list[tuple[float, int, Entry]] = []
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self.matcher)

    # ------------------------------------------------------------------ numbers

    def normalize_caller(self, raw: str | None) -> str | None:
        """E.164, ``anonymous`` for a withheld caller, or None when the caller id is not a number."""
        if raw is not None and (type(raw) is not str or len(raw) > 64):
            return None
        return _e164_or_none(raw, self.region)

    def scopes(self, destination: str | None, queue: str | None) -> list[str]:
        """The scopes that apply to an inbound call, narrowest first."""
        scopes = []
        if destination:
            did = self.normalize_caller(destination)
            if did is not None and did != ANONYMOUS:
                scopes.append("did:" + did)
        if queue:
            scopes.append(_QUEUE_SCOPE + queue)
        scopes.append(GLOBAL)
        return scopes

    # ------------------------------------------------------------------ screening

    def screen(self, number: str | None, destination: str | None, queue: str | None, now: float) -> Verdict | None:
        """The lists' verdict on an inbound call from ``number`` (already normalized), or None."""
        if number is None or not len(self.matcher):
            return None
        scopes = self.scopes(destination, queue)
        black = self.matcher.match(number, list=ListName.BLACKLIST, scopes=scopes, now=now)
        white = self.matcher.match(number, list=ListName.WHITELIST, scopes=scopes, now=now)
        if white is not None and (black is None or self.config.whitelist_beats_blacklist):
            return Verdict(ListName.WHITELIST, white)
        if black is not None:
            return Verdict(ListName.BLACKLIST, black)
        return None

    def vip_priority(self, entry: Entry) -> int:
        """The call priority a whitelist entry gives (capped at the engine's 0..100 scale)."""
        priority = self.config.vip_priority if entry.priority is None else entry.priority
        return min(MAX_CALL_PRIORITY, priority)

    # ------------------------------------------------------------------ do-not-call

    def check_dnc(self, number: str, campaign: str | None, now: float) -> tuple[str, Entry | None]:
        """(normalized number, the do-not-call entry that forbids dialling it, or None)."""
        if campaign is not None and (not isinstance(campaign, str) or not _CAMPAIGN.match(campaign)):
            raise InvalidValue("campaign", campaign, "a campaign name of 1-64 [A-Za-z0-9_.@-]")
        try:
            normalized = normalize_number(number, self.region)
        except InvalidNumberError as exc:
            raise InvalidNumber("number", number, exc.reason) from None
        if normalized == ANONYMOUS:
            raise InvalidNumber("number", number, "a withheld id cannot be dialled")
        scopes = [f"campaign:{campaign}", GLOBAL] if campaign is not None else [GLOBAL]
        return normalized, self.matcher.match(normalized, list=ListName.DNC, scopes=scopes, now=now)

    def ensure_dialable(self, number: str, campaign: str | None, now: float) -> str:
        """The number as E.164 if it may be dialled; raises :class:`DoNotCallError` if it is on
        the do-not-call list (``InvalidNumber`` if it is not a number)."""
        normalized, entry = self.check_dnc(number, campaign, now)
        if entry is not None:
            raise DoNotCallError(normalized, entry)
        return normalized

    # ------------------------------------------------------------------ changes

    def build(
        self,
        *,
        list_name: object,
        number: object,
        scope: object,
        expires_at: object,
        reason: object,
        added_by: object,
        priority: object,
        target: object,
        action: object,
        cause: object,
        now: float,
    ) -> Entry:
        """An entry from raw operator input, or a typed error naming the bad field."""
        name = list_name_of(list_name)
        if not isinstance(number, str):
            raise InvalidNumber("number", number, "expected text")
        raw = {
            "scope": scope,
            "expires": expires_at,
            "expires_at": expires_at,
            "reason": reason,
            "added_by": added_by,
            "priority": priority,
            "target": target,
            "action": action,
            "cause": cause,
        }
        try:
            # Raw operator values go in as they came: Entry.__post_init__ checks each field's
            # type and value and names the bad one, which is the error the operator must see.
            return build_entry(
                name,
                number,
                self.region,
                scope=scope,  # type: ignore[arg-type]
                expires_at=expires_at,  # type: ignore[arg-type]
                reason=reason,  # type: ignore[arg-type]
                added_by=added_by,  # type: ignore[arg-type]
                added_at=now,
                priority=priority,  # type: ignore[arg-type]
                target=target,  # type: ignore[arg-type]
                action=action,  # type: ignore[arg-type]
                cause=cause,  # type: ignore[arg-type]
            )
        except InvalidNumberError as exc:
            raise InvalidNumber("number", number, exc.reason) from None
        except InvalidEntryError as exc:
            raise InvalidListEntry(exc.field, raw.get(exc.field, number), exc.problem) from None
        except (TypeError, ValueError) as exc:  # e.g. a non-text scope: still the operator's input
            raise InvalidListEntry("entry", number, quoted(str(exc))) from None

    def check(self, entry: Entry) -> None:
        """Engine-level checks on top of the entry's own (targets that reach switch commands)."""
        if not isinstance(entry, Entry):
            raise InvalidListEntry(
                "entry", type(entry).__name__, f"expected a ctilink.lists.Entry, got {type(entry).__name__}"
            )
        target = entry.target
        if entry.list_name is ListName.BLACKLIST and entry.action is BlockAction.ROUTE:
            if target is None or not DESTINATION_RE.match(target):
                raise InvalidListEntry(
                    "target", target, f"a route needs an extension of [A-Za-z0-9_.+*#-], got {quoted(target)}"
                )
        elif entry.list_name is ListName.WHITELIST and target is not None:
            if not (NAME_RE.match(target) or DESTINATION_RE.match(target)):
                raise InvalidListEntry("target", target, f"expected an agent id or an extension, got {quoted(target)}")

    def add(self, entry: Entry, known_queues: Iterable[str] | None, now: float) -> Entry | None:
        """Validate and insert (or replace) ``entry``; return the entry it replaced.

        ``known_queues``: refuse a ``queue:`` scope naming none of them (None: do not check).
        """
        self.check(entry)
        if known_queues is not None and entry.scope.startswith(_QUEUE_SCOPE):
            queue = entry.scope[len(_QUEUE_SCOPE) :]
            if queue not in set(known_queues):
                raise UnknownQueue(queue, where="list entry scope")
        if entry.expires_at is not None and entry.expires_at <= now:
            raise InvalidListEntry(
                "expires_at",
                entry.expires_at,
                f"expected a time after now ({now:g}), got {entry.expires_at:g}: the entry would never match",
            )
        return self._insert(entry)

    def _insert(self, entry: Entry) -> Entry | None:
        old = self.matcher.add(entry)
        if entry.expires_at is not None:
            heapq.heappush(self._expiring, (entry.expires_at, next(self._seq), entry))
        return old

    def load(self, entries: Iterable[Entry]) -> list[tuple[object, CtilinkError]]:
        """Bulk insert at start (from the store); returns the (entry, error) pairs refused."""
        refused: list[tuple[object, CtilinkError]] = []
        for entry in entries:
            try:
                self.check(entry)
            except CtilinkError as exc:
                refused.append((entry, exc))
                continue
            self._insert(entry)
        return refused

    def key_of(
        self, list_name: object, number: object, scope: object, kind: object
    ) -> tuple[ListName, str, str, EntryKind]:
        """Normalize a (list, number, scope, kind) key given by an operator."""
        name = list_name_of(list_name)
        try:
            entry_kind = EntryKind(kind)  # type: ignore[arg-type]  # ValueError below names it
        except ValueError:
            raise InvalidListEntry("kind", kind, f"expected exact, prefix or anonymous, got {quoted(kind)}") from None
        try:
            norm_scope = normalize_scope(scope, self.region)  # type: ignore[arg-type]
        except InvalidEntryError as exc:
            raise InvalidListEntry("scope", scope, exc.problem) from None
        if not isinstance(number, str):
            raise InvalidNumber("number", number, "expected text")
        try:
            if entry_kind is EntryKind.PREFIX:
                normalized = normalize_prefix(number.strip().rstrip("*"), self.region)
            elif entry_kind is EntryKind.ANONYMOUS:
                normalized = ANONYMOUS
            else:
                normalized = normalize_number(number, self.region)
                if normalized == ANONYMOUS:
                    raise InvalidNumber("number", number, "a withheld id: use kind 'anonymous'")
        except InvalidNumberError as exc:
            raise InvalidNumber("number", number, exc.reason) from None
        return name, normalized, norm_scope, entry_kind

    def remove(self, list_name: object, number: object, scope: object, kind: object) -> Entry:
        """Remove the entry with this key and return it, or raise :class:`UnknownListEntry`."""
        name, normalized, norm_scope, entry_kind = self.key_of(list_name, number, scope, kind)
        old = self.matcher.remove(name, normalized, scope=norm_scope, kind=entry_kind)
        if old is None:
            raise UnknownListEntry(name.value, norm_scope, entry_kind.value, normalized)
        return old

    def purge_expired(self, now: float, limit: int = 64) -> list[Entry]:
        """Drop up to ``limit`` entries expired at ``now`` (soonest first); return them."""
        heap = self._expiring
        dropped: list[Entry] = []
        while heap and heap[0][0] <= now and len(dropped) < limit:
            _, _, entry = heapq.heappop(heap)
            current = self.matcher.get(entry.list_name, entry.number, scope=entry.scope, kind=entry.kind)
            if current is entry:
                self.matcher.discard(entry)
                dropped.append(entry)
        return dropped

    def next_expiry(self) -> float | None:
        return self._expiring[0][0] if self._expiring else None

    # ------------------------------------------------------------------ reads

    def query(
        self,
        list_name: object,
        *,
        scope: str | None = None,
        number: str | None = None,
        now: float | None = None,
        limit: int | None = None,
    ) -> list[Entry]:
        """Entries of one list, sorted by key; filtered by exact scope / number (normalized like
        list input, ``*`` suffix = prefix). With ``now``, expired entries are left out. O(entries):
        an operator's read, not a routing path."""
        name = list_name_of(list_name)
        want_scope = None
        if scope is not None:
            try:
                want_scope = normalize_scope(scope, self.region)
            except InvalidEntryError as exc:
                raise InvalidListEntry("scope", scope, exc.problem) from None
        want_number = None
        if number is not None:
            kind = EntryKind.PREFIX if isinstance(number, str) and number.strip().endswith("*") else EntryKind.EXACT
            want_number = self.key_of(name, number, GLOBAL, kind)[1]
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise InvalidValue("limit", limit, "a count >= 0")
        found = [
            e
            for e in self.matcher
            if e.list_name is name
            and (want_scope is None or e.scope == want_scope)
            and (want_number is None or e.number == want_number)
            and (now is None or not e.expired(now))
        ]
        found.sort(key=lambda e: e.key)
        return found if limit is None else found[:limit]

    def lookup(self, number: str, list_name: object, scopes: Iterable[str], now: float) -> Entry | None:
        """The entry that would win for a raw ``number`` in ``scopes`` (an operator's "why?")."""
        name = list_name_of(list_name)
        normalized = self.normalize_caller(number) if number is not None else ANONYMOUS
        if normalized is None:
            raise InvalidNumber("number", number, "not a phone number or a withheld id")
        if not isinstance(now, (int, float)) or not math.isfinite(now):
            raise InvalidValue("now", now, "a finite time")
        return self.matcher.match(normalized, list=name, scopes=list(scopes), now=now)


__all__ = ["MAX_CALL_PRIORITY", "ListScreen", "Verdict", "list_name_of"]
