"""How the Redis engine spells records: key parts and JSON values (never pickle).

Rules:
- User values inside key names are percent-encoded (:func:`key_part`), so no value can reach
  another key or escape the prefix.
- Records are JSON arrays in a fixed field order; webhook payloads are base64 inside them.
  Reading a value builds the validated record again, so stored data is checked on the way out.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

import orjson

from ctilink.lists.model import Entry
from ctilink.store.checks import entry_from_row, entry_row
from ctilink.store.records import OutboxItem

__all__ = ["entry", "entry_json", "key_part", "loads", "outbox", "outbox_json", "text_or_zero"]


def key_part(*parts: str) -> str:
    return ":".join(quote(p, safe="") for p in parts)


def loads(value: str) -> Any:
    return orjson.loads(value)


def entry_json(e: Entry) -> str:
    return orjson.dumps(list(entry_row(e))).decode()


def entry(value: str) -> Entry:
    return entry_from_row(loads(value))


def outbox_json(i: OutboxItem) -> str:
    payload = base64.b64encode(i.payload).decode()
    row = [i.event_id, i.endpoint, payload, i.created_at, i.next_attempt_at, i.attempts, i.last_error, i.dead]
    return orjson.dumps(row).decode()


def outbox(value: str) -> OutboxItem:
    r = loads(value)
    return OutboxItem(r[0], r[1], base64.b64decode(r[2]), r[3], r[4], r[5], r[6], bool(r[7]))


def text_or_zero(value: object) -> str:
    """A version reply as text (``0`` when the key is missing)."""
    if value is None:
        return "0"
    return value.decode() if isinstance(value, bytes) else str(value)
