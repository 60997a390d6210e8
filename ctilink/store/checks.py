"""Argument checks every store engine shares, so each refuses bad input with the same error.

Rules:
- Each check names the field in its message and raises ``ValueError`` (``TypeError`` for a
  value that is not a JSON object), before anything is written.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from ctilink.lists.model import BlockAction, Entry, EntryKind, ListName
from ctilink.store.records import check_id

__all__ = [
    "CONFIG_KINDS",
    "check_kind",
    "check_prefix",
    "dumps",
    "entry_from_row",
    "entry_row",
    "positive_limit",
    "sticky_queue",
]

CONFIG_KINDS = ("queue", "campaign", "agent_session")
_PREFIX = re.compile(r"^[A-Za-z0-9_.:{}-]{1,64}$")


def dumps(value: dict[str, Any]) -> str:
    """``value`` as JSON text; it must be a JSON object."""
    if not isinstance(value, dict):
        raise TypeError(f"expected a JSON object (dict), got {type(value).__name__}")
    return orjson.dumps(value).decode()


def sticky_queue(queue: str | None) -> str:
    """The stored form of a sticky queue: ``""`` is the global memory."""
    return "" if queue is None else check_id("queue", queue)


def check_kind(kind: str) -> str:
    """A configuration kind."""
    if kind not in CONFIG_KINDS:
        raise ValueError(f"kind: expected one of {', '.join(CONFIG_KINDS)}, got {kind!r:.40}")
    return kind


def positive_limit(limit: int) -> int:
    """A result limit: a positive integer."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit: expected a positive integer, got {limit!r:.40}")
    return limit


def check_prefix(prefix: object) -> str:
    """A Redis key prefix: 1-64 characters of letters, digits and ``_.:{}-``."""
    if not isinstance(prefix, str) or not _PREFIX.match(prefix):
        raise ValueError(f"prefix: expected 1-64 characters of A-Z a-z 0-9 _ . : {{ }} -, got {prefix!r:.40}")
    return prefix


def entry_row(e: Entry) -> tuple[Any, ...]:
    """A list entry as the flat row both engines keep (SQLite's columns, Redis's JSON array)."""
    if not isinstance(e, Entry):
        raise TypeError(f"expected Entry, got {type(e).__name__}")
    action = e.action.value if e.action else None
    return (e.list_name.value, e.scope, e.kind.value, e.number, e.expires_at, e.reason, e.added_by,
            e.added_at, e.priority, e.target, action, e.cause)  # fmt: skip


def entry_from_row(r: Any) -> Entry:
    """The entry :func:`entry_row` made."""
    return Entry(
        list_name=ListName(r[0]),
        scope=r[1],
        kind=EntryKind(r[2]),
        number=r[3],
        expires_at=r[4],
        reason=r[5],
        added_by=r[6],
        added_at=r[7],
        priority=r[8],
        target=r[9],
        action=BlockAction(r[10]) if r[10] else None,
        cause=r[11],
    )
