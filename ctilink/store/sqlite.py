"""The embedded SQLite store engine.

Rules:
- One database file, chosen by configuration; WAL journal (readers never block the writer, and
  a crash mid-write leaves the last committed state) with ``synchronous=FULL``: a commit returns
  only after the WAL is fsynced, so an acknowledged write survives a process kill *and* an OS
  crash or power cut. (``NORMAL`` would survive a process kill only; ``synchronous`` is
  configurable for deployments that accept that trade.)
- SQL lives here and in :mod:`ctilink.store.schema` only; every value is a bound parameter.
- One connection, guarded by a re-entrant lock, so the StoreWriter's worker thread and the
  daemon's start-up reads never interleave inside a transaction.

Theory of operation: the connection runs in autocommit mode and this module owns transaction
boundaries. A write method outside a batch is ``BEGIN IMMEDIATE .. COMMIT`` on its own. In
:meth:`SqliteStore.run_batch` a single transaction wraps the ops and each op runs inside a
``SAVEPOINT``: an op that raises is rolled back to its savepoint and reported, the others still
commit together - one fsync for the whole batch, which is where the throughput comes from.

This module knows nothing about gevent, the engine or the lists' precedence rules.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import orjson

from ctilink.dialer.types import Attempt, Contact
from ctilink.lists.model import GLOBAL, Entry, EntryKind, ListName
from ctilink.store.base import ConfigKind, Op, Outcome, Store, StoreError
from ctilink.store.campaign_records import attempt_record, contact_record
from ctilink.store.checks import check_kind as _check_kind
from ctilink.store.checks import dumps as _dumps
from ctilink.store.checks import entry_from_row, entry_row
from ctilink.store.checks import positive_limit as _limit
from ctilink.store.checks import sticky_queue as _sticky_queue
from ctilink.store.records import (
    DEFAULT_STICKY_TTL,
    AgentProfile,
    CallRecord,
    CampaignAttempt,
    CampaignContact,
    OutboxItem,
    StickyRecord,
    check_id,
    check_time,
)
from ctilink.store.schema import current_version, migrate

__all__ = ["SqliteStore"]

Synchronous = Literal["FULL", "NORMAL", "EXTRA"]
_ENTRY_COLUMNS = "list, scope, kind, number, expires_at, reason, added_by, added_at, priority, target, action, cause"


class SqliteStore(Store):
    """:class:`Store` on one SQLite file. ``path`` may be ``":memory:"`` for throwaway use."""

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: Synchronous = "FULL",
        busy_timeout_ms: int = 5000,
        migrate_to: int | None = None,
    ) -> None:
        if synchronous not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError(f"synchronous: expected FULL, NORMAL or EXTRA, got {synchronous!r:.20}")
        self.path = str(path)
        self._lock = threading.RLock()
        self._in_batch = False
        # check_same_thread=False: the StoreWriter commits from a worker thread; the lock
        # above is what serializes access.
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if self.path != ":memory:" and str(mode).lower() != "wal":
                raise StoreError(f"could not enable WAL on {self.path} (journal_mode={mode})")
            conn.execute(f"PRAGMA synchronous = {synchronous}")
            conn.execute("PRAGMA foreign_keys = ON")
            migrate(conn, migrate_to)
        except BaseException:
            conn.close()
            raise
        self._conn: sqlite3.Connection | None = conn

    # -- plumbing ------------------------------------------------------------------------------
    def _c(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"store {self.path} is closed")
        return self._conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._c()
            if self._in_batch:
                yield conn
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            try:
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._c()

    def run_batch(self, ops: Sequence[Op]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        with self._lock:
            conn = self._c()
            if self._in_batch:
                raise StoreError("run_batch cannot be nested")
            conn.execute("BEGIN IMMEDIATE")
            self._in_batch = True
            try:
                for op in ops:
                    conn.execute("SAVEPOINT op")
                    try:
                        value = op(self)
                    except Exception as exc:  # one bad op must not sink the batch
                        conn.execute("ROLLBACK TO op")
                        conn.execute("RELEASE op")
                        outcomes.append((False, exc))
                    else:
                        conn.execute("RELEASE op")
                        outcomes.append((True, value))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            finally:
                self._in_batch = False
        return outcomes

    def schema_version(self) -> int:
        with self._read() as conn:
            return current_version(conn)

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check`` result: ``"ok"`` for a sound file."""
        with self._read() as conn:
            return "\n".join(str(r[0]) for r in conn.execute("PRAGMA integrity_check"))

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- number lists --------------------------------------------------------------------------
    def put_list_entries(self, entries: Iterable[Entry]) -> int:
        rows = []
        for e in entries:
            rows.append(entry_row(e))
        with self._tx() as conn:
            conn.executemany(
                f"INSERT OR REPLACE INTO list_entries ({_ENTRY_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows
            )
        return len(rows)

    def delete_list_entry(
        self, list_name: ListName | str, number: str, *, scope: str = GLOBAL, kind: EntryKind | str = EntryKind.EXACT
    ) -> bool:
        key = (ListName(list_name).value, scope, EntryKind(kind).value, number)
        with self._tx() as conn:
            cur = conn.execute("DELETE FROM list_entries WHERE list = ? AND scope = ? AND kind = ? AND number = ?", key)
        return cur.rowcount > 0

    def load_list_entries(self, *, now: float | None = None) -> list[Entry]:
        sql = f"SELECT {_ENTRY_COLUMNS} FROM list_entries"
        args: tuple[Any, ...] = ()
        if now is not None:
            sql += " WHERE expires_at IS NULL OR expires_at > ?"
            args = (now,)
        with self._read() as conn:
            rows = conn.execute(sql, args).fetchall()
        return [entry_from_row(r) for r in rows]

    def purge_expired_list_entries(self, now: float) -> int:
        with self._tx() as conn:
            return conn.execute(
                "DELETE FROM list_entries WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,)
            ).rowcount

    # -- sticky agent memory -------------------------------------------------------------------
    def sticky_get(self, number: str, queue: str | None, now: float) -> str | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT agent_id FROM sticky WHERE number = ? AND queue = ? AND expires_at > ?",
                (number, _sticky_queue(queue), now),
            ).fetchone()
        return row[0] if row else None

    def sticky_put(
        self, number: str, queue: str | None, agent_id: str, now: float, ttl: float = DEFAULT_STICKY_TTL
    ) -> None:
        start = check_time("now", now)
        span = check_time("ttl", ttl)
        assert start is not None and span is not None
        if span <= 0:
            raise ValueError(f"ttl: must be positive, got {ttl!r}")
        rec = StickyRecord(number, queue, agent_id, start, start + span)
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO sticky (number, queue, agent_id, updated_at, expires_at) VALUES (?,?,?,?,?)",
                (rec.number, _sticky_queue(queue), rec.agent_id, rec.updated_at, rec.expires_at),
            )

    def sticky_delete(self, number: str, queue: str | None) -> bool:
        with self._tx() as conn:
            return (
                conn.execute(
                    "DELETE FROM sticky WHERE number = ? AND queue = ?", (number, _sticky_queue(queue))
                ).rowcount
                > 0
            )

    def sticky_load(self, now: float) -> list[StickyRecord]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT number, queue, agent_id, updated_at, expires_at FROM sticky WHERE expires_at > ?", (now,)
            ).fetchall()
        return [StickyRecord(r[0], r[1] or None, r[2], r[3], r[4]) for r in rows]

    def sticky_purge(self, now: float) -> int:
        with self._tx() as conn:
            return conn.execute("DELETE FROM sticky WHERE expires_at <= ?", (now,)).rowcount

    # -- agents --------------------------------------------------------------------------------
    def put_agent(self, profile: AgentProfile) -> None:
        blob = _dumps(profile.profile)
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO agents (agent_id, profile, updated_at) VALUES (?,?,?)",
                (profile.agent_id, blob, profile.updated_at),
            )
            conn.execute("DELETE FROM agent_skills WHERE agent_id = ?", (profile.agent_id,))
            conn.executemany(
                "INSERT INTO agent_skills (agent_id, skill, level) VALUES (?,?,?)",
                [(profile.agent_id, s, lvl) for s, lvl in profile.skills.items()],
            )

    def _agent_from_row(self, conn: sqlite3.Connection, row: tuple[Any, ...]) -> AgentProfile:
        skills = dict(conn.execute("SELECT skill, level FROM agent_skills WHERE agent_id = ?", (row[0],)).fetchall())
        return AgentProfile(agent_id=row[0], skills=skills, profile=orjson.loads(row[1]), updated_at=row[2])

    def get_agent(self, agent_id: str) -> AgentProfile | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT agent_id, profile, updated_at FROM agents WHERE agent_id = ?", (agent_id,)
            ).fetchone()
            return self._agent_from_row(conn, row) if row else None

    def list_agents(self) -> list[AgentProfile]:
        with self._read() as conn:
            rows = conn.execute("SELECT agent_id, profile, updated_at FROM agents ORDER BY agent_id").fetchall()
            return [self._agent_from_row(conn, r) for r in rows]

    def delete_agent(self, agent_id: str) -> bool:
        with self._tx() as conn:
            return conn.execute("DELETE FROM agents WHERE agent_id = ?", (agent_id,)).rowcount > 0

    def agents_with_skill(self, skill: str, min_level: int = 0) -> list[str]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT agent_id FROM agent_skills WHERE skill = ? AND level >= ? ORDER BY agent_id", (skill, min_level)
            ).fetchall()
        return [r[0] for r in rows]

    # -- configuration overrides ---------------------------------------------------------------
    def put_config(self, kind: ConfigKind, name: str, blob: dict[str, Any], now: float) -> None:
        row = (_check_kind(kind), check_id("name", name), _dumps(blob), check_time("now", now))
        with self._tx() as conn:
            conn.execute("INSERT OR REPLACE INTO config_overrides (kind, name, blob, updated_at) VALUES (?,?,?,?)", row)

    def get_config(self, kind: ConfigKind, name: str) -> dict[str, Any] | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT blob FROM config_overrides WHERE kind = ? AND name = ?", (_check_kind(kind), name)
            ).fetchone()
        return orjson.loads(row[0]) if row else None

    def list_configs(self, kind: ConfigKind) -> dict[str, dict[str, Any]]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT name, blob FROM config_overrides WHERE kind = ? ORDER BY name", (_check_kind(kind),)
            ).fetchall()
        return {r[0]: orjson.loads(r[1]) for r in rows}

    def delete_config(self, kind: ConfigKind, name: str) -> bool:
        with self._tx() as conn:
            return (
                conn.execute(
                    "DELETE FROM config_overrides WHERE kind = ? AND name = ?", (_check_kind(kind), name)
                ).rowcount
                > 0
            )

    # -- call records --------------------------------------------------------------------------
    def put_call_record(self, record: CallRecord) -> None:
        row = (
            record.call_id,
            record.queue,
            record.started_at,
            record.disposition,
            record.customer_number,
            _dumps(record.data),
        )
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO call_records (call_id, queue, started_at, disposition, customer_number, record)"
                " VALUES (?,?,?,?,?,?)",
                row,
            )

    @staticmethod
    def _call_from_row(r: tuple[Any, ...]) -> CallRecord:
        return CallRecord(
            call_id=r[0], queue=r[1], started_at=r[2], disposition=r[3], customer_number=r[4], data=orjson.loads(r[5])
        )

    def get_call_record(self, call_id: str) -> CallRecord | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT call_id, queue, started_at, disposition, customer_number, record FROM call_records WHERE call_id = ?",
                (call_id,),
            ).fetchone()
        return self._call_from_row(row) if row else None

    def find_call_records(
        self,
        *,
        queue: str | None = None,
        customer_number: str | None = None,
        disposition: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 100,
    ) -> list[CallRecord]:
        where: list[str] = []
        args: list[object] = []
        for column, value in (("queue", queue), ("customer_number", customer_number), ("disposition", disposition)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if since is not None:
            where.append("started_at >= ?")
            args.append(since)
        if until is not None:
            where.append("started_at < ?")
            args.append(until)
        sql = "SELECT call_id, queue, started_at, disposition, customer_number, record FROM call_records"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_at DESC, call_id LIMIT ?"
        args.append(_limit(limit))
        with self._read() as conn:
            rows = conn.execute(sql, args).fetchall()
        return [self._call_from_row(r) for r in rows]

    # -- campaigns -----------------------------------------------------------------------------
    def put_contacts(self, contacts: Iterable[CampaignContact | Contact]) -> int:
        rows = [
            (c.campaign, c.contact_id, c.number, c.status, c.priority, c.next_attempt_at, c.attempts, _dumps(c.data))
            for c in map(contact_record, contacts)
        ]
        with self._tx() as conn:
            # an upsert, not INSERT OR REPLACE: REPLACE deletes the old row, and the foreign key's
            # ON DELETE CASCADE would delete every attempt of the contact with it
            conn.executemany(
                "INSERT INTO campaign_contacts"
                " (campaign, contact_id, number, status, priority, next_attempt_at, attempts, data) VALUES (?,?,?,?,?,?,?,?)"
                " ON CONFLICT(campaign, contact_id) DO UPDATE SET number = excluded.number, status = excluded.status,"
                " priority = excluded.priority, next_attempt_at = excluded.next_attempt_at,"
                " attempts = excluded.attempts, data = excluded.data",
                rows,
            )
        return len(rows)

    def get_contacts(
        self, campaign: str, *, status: str | None = None, due_at: float | None = None, limit: int = 100
    ) -> list[CampaignContact]:
        sql = (
            "SELECT campaign, contact_id, number, status, priority, next_attempt_at, attempts, data"
            " FROM campaign_contacts WHERE campaign = ?"
        )
        args: list[Any] = [campaign]
        if status is not None:
            sql += " AND status = ?"
            args.append(status)
        if due_at is not None:
            sql += " AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
            args.append(due_at)
        sql += " ORDER BY priority DESC, contact_id LIMIT ?"
        args.append(_limit(limit))
        with self._read() as conn:
            rows = conn.execute(sql, args).fetchall()
        return [CampaignContact(r[0], r[1], r[2], r[3], r[4], r[5], r[6], orjson.loads(r[7])) for r in rows]

    def put_attempt(self, attempt: CampaignAttempt | Attempt) -> None:
        a = attempt_record(attempt)
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO campaign_attempts"
                " (attempt_id, campaign, contact_id, call_id, started_at, ended_at, outcome, data) VALUES (?,?,?,?,?,?,?,?)",
                (
                    a.attempt_id,
                    a.campaign,
                    a.contact_id,
                    a.call_id,
                    a.started_at,
                    a.ended_at,
                    a.outcome,
                    _dumps(a.data),
                ),
            )

    def attempts_for(self, campaign: str, contact_id: str) -> list[CampaignAttempt]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT attempt_id, campaign, contact_id, started_at, call_id, ended_at, outcome, data"
                " FROM campaign_attempts WHERE campaign = ? AND contact_id = ? ORDER BY started_at, attempt_id",
                (campaign, contact_id),
            ).fetchall()
        return [CampaignAttempt(r[0], r[1], r[2], r[3], r[4], r[5], r[6], orjson.loads(r[7])) for r in rows]

    # -- webhook outbox ------------------------------------------------------------------------
    _OUTBOX_COLUMNS = "event_id, endpoint, payload, created_at, next_attempt_at, attempts, last_error, dead"

    @staticmethod
    def _outbox_from_row(r: tuple[Any, ...]) -> OutboxItem:
        return OutboxItem(r[0], r[1], bytes(r[2]), r[3], r[4], r[5], r[6], bool(r[7]))

    def outbox_enqueue(self, item: OutboxItem) -> bool:
        with self._tx() as conn:
            cur = conn.execute(
                f"INSERT OR IGNORE INTO webhook_outbox ({self._OUTBOX_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)",
                (
                    item.event_id,
                    item.endpoint,
                    item.payload,
                    item.created_at,
                    item.next_attempt_at,
                    item.attempts,
                    item.last_error,
                    int(item.dead),
                ),
            )
        return cur.rowcount > 0

    def outbox_due(self, now: float, limit: int = 100) -> list[OutboxItem]:
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {self._OUTBOX_COLUMNS} FROM webhook_outbox WHERE dead = 0 AND next_attempt_at <= ?"
                " ORDER BY next_attempt_at, created_at, event_id LIMIT ?",
                (now, _limit(limit)),
            ).fetchall()
        return [self._outbox_from_row(r) for r in rows]

    def outbox_mark_delivered(self, event_id: str, endpoint: str) -> bool:
        with self._tx() as conn:
            return (
                conn.execute(
                    "DELETE FROM webhook_outbox WHERE event_id = ? AND endpoint = ?", (event_id, endpoint)
                ).rowcount
                > 0
            )

    def outbox_mark_failed(
        self, event_id: str, endpoint: str, next_at: float, *, error: str | None = None, dead: bool = False
    ) -> bool:
        if error is not None:
            error = error[:1000]
        with self._tx() as conn:
            return (
                conn.execute(
                    "UPDATE webhook_outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?, dead = ?"
                    " WHERE event_id = ? AND endpoint = ? AND dead = 0",
                    (check_time("next_at", next_at), error, int(dead), event_id, endpoint),
                ).rowcount
                > 0
            )

    def outbox_dead_letters(self, limit: int = 100) -> list[OutboxItem]:
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {self._OUTBOX_COLUMNS} FROM webhook_outbox WHERE dead = 1 ORDER BY created_at, event_id LIMIT ?",
                (_limit(limit),),
            ).fetchall()
        return [self._outbox_from_row(r) for r in rows]

    def outbox_retry_dead(self, event_id: str, endpoint: str, now: float) -> bool:
        with self._tx() as conn:
            return (
                conn.execute(
                    "UPDATE webhook_outbox SET dead = 0, next_attempt_at = ? WHERE event_id = ? AND endpoint = ? AND dead = 1",
                    (check_time("now", now), event_id, endpoint),
                ).rowcount
                > 0
            )
