"""Writes what the engine announces to the store, through the batching writer.

Rules: the engine never waits on the database. Notifications that must survive a restart (call
records, sticky memory, list changes) become store writes submitted to the
:class:`~ctilink.store.StoreWriter`, which acknowledges them only once committed. A write the
store refuses (a hostile caller number the store's checks reject, say) is logged and counted,
never raised into the engine's greenlet.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

import structlog

from ctilink.core import notifications as nt
from ctilink.store import CallRecord as StoredCallRecord
from ctilink.store import StoreWriter

log = structlog.get_logger("ctilink.persist")


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def stored_call_record(record: Any) -> StoredCallRecord:
    """The store's row for an engine :class:`~ctilink.core.CallRecord` (indexed columns + JSON)."""
    data = _plain(record)
    number = record.caller_number if record.caller_number and record.caller_number.isprintable() else None
    return StoredCallRecord(
        call_id=record.call_id,
        started_at=record.arrived_at,
        queue=record.first_queue or record.queue,
        disposition=str(data["disposition"]),
        customer_number=number if number and len(number) <= 64 and " " not in number else None,
        data=data,
    )


class Persister:
    """Feeds the store writer from engine notifications."""

    def __init__(self, writer: StoreWriter) -> None:
        self.writer = writer
        self.failures = 0

    def observe(self, note: object, now: float) -> None:
        try:
            self._observe(note, now)
        except Exception as exc:  # noqa: BLE001 - a bad row must not stop the engine
            self.failures += 1
            log.error("persist_failed", notification=type(note).__name__, error=str(exc)[:300])

    def _observe(self, note: object, now: float) -> None:
        if isinstance(note, nt.CallEnded):
            self.writer.submit("put_call_record", stored_call_record(note.record), on_done=self._done)
            return
        kind = type(note).__name__
        if kind == "StickyRemembered":
            n: Any = note
            self.writer.submit("sticky_put", n.number, n.queue, n.agent_id, n.at,
                               max(0.0, n.expires_at - n.at), on_done=self._done)
        elif kind == "ListChanged":
            n = note
            if n.op == "add":
                self.writer.submit("put_list_entries", [n.entry], on_done=self._done)
            else:
                e = n.entry
                self.writer.submit("delete_list_entry", e.list_name, e.number, scope=e.scope, kind=e.kind,
                                   on_done=self._done)

    def _done(self, ok: bool, value: Any) -> None:
        if not ok:
            self.failures += 1
            log.error("store_write_failed", error=str(value)[:300])
