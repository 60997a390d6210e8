"""The Redis store engine: the :class:`Store` interface on redis-py, beside SQLite.

Rules:
- Every key starts with a configurable prefix (default ``ctilink:``) so tenants can share one
  Redis; user values inside key names are percent-encoded, so no value can reach another key.
- Values are JSON (orjson), never pickle: the data comes from outside; their spelling is in
  :mod:`ctilink.store.redis_codec`.
- A write method outside a batch is one :class:`~ctilink.store.redis_tx.RedisTx` (WATCH, reads,
  one MULTI/EXEC); :meth:`RedisStore.run_batch` runs every op in one RedisTx with a savepoint
  layer per op, so the batch commits all-or-nothing while a failing op is dropped on its own.
- Input is checked exactly as :class:`~ctilink.store.sqlite.SqliteStore` checks it (same
  helpers), and results come back in the same order.
- The layout has its own version in ``<prefix>schema``; a newer one is refused
  (:class:`SchemaTooNewError`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import orjson
import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.exceptions import WatchError
from redis.retry import Retry
from redis.sentinel import Sentinel

from ctilink.dialer.types import Attempt, Contact
from ctilink.lists.model import GLOBAL, Entry, EntryKind, ListName
from ctilink.store.base import ConfigKind, Op, Outcome, Store, StoreError
from ctilink.store.campaign_records import attempt_record, contact_record
from ctilink.store.checks import check_kind, check_prefix, dumps, positive_limit, sticky_queue
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
from ctilink.store.redis_codec import entry as _entry
from ctilink.store.redis_codec import entry_json as _entry_json
from ctilink.store.redis_codec import key_part as _q
from ctilink.store.redis_codec import loads as _loads
from ctilink.store.redis_codec import outbox as _outbox
from ctilink.store.redis_codec import outbox_json as _outbox_json
from ctilink.store.redis_codec import text_or_zero
from ctilink.store.redis_tx import Bound, RedisTx, first_by_order
from ctilink.store.schema import SchemaTooNewError

__all__ = ["REDIS_SCHEMA_VERSION", "ConstraintError", "RedisStore", "check_prefix"]

#: Version of the key layout this code writes.
REDIS_SCHEMA_VERSION = 1
_RETRIES = 20
_T = TypeVar("_T")
_ALL: tuple[float, bool] = (float("-inf"), True)
_TOP: tuple[float, bool] = (float("inf"), True)


class ConstraintError(StoreError):
    """A write would break a relation the store keeps (an attempt for a contact that does not exist)."""


class RedisStore(Store):
    """:class:`Store` on a redis-py client (plain, or a Sentinel's ``master_for`` client)."""

    def __init__(self, client: redis.Redis, *, prefix: str = "ctilink:", owns_client: bool = False) -> None:
        self.prefix = check_prefix(prefix)
        self._client: redis.Redis | None = client
        self._owns = owns_client
        self._lock = threading.RLock()
        self._tx: RedisTx | None = None
        self._check_schema(client)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "ctilink:") -> RedisStore:
        """A store on ``redis://[:password@]host:port/db`` (or ``rediss://``, ``unix://``)."""
        return cls(redis.Redis.from_url(url, socket_timeout=10.0), prefix=prefix, owns_client=True)

    @classmethod
    def from_sentinel(
        cls,
        sentinels: Sequence[tuple[str, int]],
        service_name: str,
        *,
        prefix: str = "ctilink:",
        password: str | None = None,
        db: int = 0,
    ) -> RedisStore:
        """A store on the master Sentinel names for ``service_name``; follows failovers."""
        if not sentinels:
            raise ValueError("sentinels: at least one host:port is needed")
        sentinel = Sentinel(list(sentinels), socket_timeout=2.0)
        # Retries re-ask Sentinel for the master, so a failover costs a few slow calls, not errors.
        retry = Retry(ExponentialBackoff(cap=1.0, base=0.05), 30)
        client = sentinel.master_for(
            service_name,
            password=password,
            db=db,
            socket_timeout=5.0,
            retry=retry,
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
        )
        return cls(client, prefix=prefix, owns_client=True)

    # -- plumbing ------------------------------------------------------------------------------
    def _k(self, *names: str) -> str:
        return self.prefix + ":".join(names)

    def _c(self) -> redis.Redis:
        if self._client is None:
            raise StoreError(f"store {self.prefix} is closed")
        return self._client

    def _check_schema(self, client: redis.Redis) -> None:
        key = self._k("schema")
        try:
            client.set(key, REDIS_SCHEMA_VERSION, nx=True)
            found = int(text_or_zero(client.get(key)))
        except redis.RedisError as exc:
            raise StoreError(f"redis: {exc}") from exc
        if found > REDIS_SCHEMA_VERSION:
            raise SchemaTooNewError(found, REDIS_SCHEMA_VERSION)

    def _write(self, fn: Callable[[RedisTx], _T]) -> _T:
        with self._lock:
            if self._tx is not None:
                return fn(self._tx)
            client = self._c()
            try:
                for _ in range(_RETRIES):
                    with client.pipeline(transaction=True) as pipe:
                        tx = RedisTx(pipe, watch=True)
                        try:
                            value = fn(tx)
                            tx.commit()
                        except WatchError:
                            continue
                        return value
            except redis.RedisError as exc:
                raise StoreError(f"redis: {exc}") from exc
            raise StoreError("redis: the keys kept changing under the transaction")

    def _read(self, fn: Callable[[RedisTx], _T]) -> _T:
        with self._lock:
            if self._tx is not None:
                return fn(self._tx)
            try:
                return fn(RedisTx(self._c(), watch=False))
            except redis.RedisError as exc:
                raise StoreError(f"redis: {exc}") from exc

    def run_batch(self, ops: Sequence[Op]) -> list[Outcome]:
        with self._lock:
            client = self._c()
            if self._tx is not None:
                raise StoreError("run_batch cannot be nested")
            try:
                for _ in range(_RETRIES):
                    with client.pipeline(transaction=True) as pipe:
                        self._tx = RedisTx(pipe, watch=True)
                        try:
                            outcomes = [self._run_op(self._tx, op) for op in ops]
                            self._tx.commit()
                        except WatchError:
                            continue
                        finally:
                            self._tx = None
                        return outcomes
            except redis.RedisError as exc:
                raise StoreError(f"redis: {exc}") from exc
        raise StoreError("redis: the keys kept changing under the batch")

    def _run_op(self, tx: RedisTx, op: Op) -> Outcome:
        tx.savepoint()
        try:
            value = op(self)
        except redis.RedisError:
            raise  # the connection or the transaction is gone: the whole batch fails
        except Exception as exc:  # one bad op must not sink the batch
            tx.rollback()
            return (False, exc)
        tx.release()
        return (True, value)

    def schema_version(self) -> int:
        return self._read(lambda tx: int(text_or_zero(self._c().get(self._k("schema")))))

    def close(self) -> None:
        with self._lock:
            if self._client is not None and self._owns:
                self._client.close()
            self._client = None

    # -- number lists --------------------------------------------------------------------------
    def put_list_entries(self, entries: Iterable[Entry]) -> int:
        rows = []
        for e in entries:
            if not isinstance(e, Entry):
                raise TypeError(f"expected Entry, got {type(e).__name__}")
            rows.append((_q(e.list_name.value, e.scope, e.kind.value, e.number), _entry_json(e), e.expires_at))

        def put(tx: RedisTx) -> int:
            for field, value, expires_at in rows:
                tx.hset(self._k("lists"), field, value)
                if expires_at is None:
                    tx.zrem(self._k("lists", "expiry"), field)
                else:
                    tx.zadd(self._k("lists", "expiry"), field, expires_at)
            return len(rows)

        return self._write(put)

    def delete_list_entry(
        self, list_name: ListName | str, number: str, *, scope: str = GLOBAL, kind: EntryKind | str = EntryKind.EXACT
    ) -> bool:
        field = _q(ListName(list_name).value, scope, EntryKind(kind).value, number)
        return self._write(lambda tx: self._delete(tx, "lists", field))

    def _delete(self, tx: RedisTx, table: str, field: str, *indexes: str) -> bool:
        if tx.hget(self._k(table), field) is None:
            return False
        tx.hdel(self._k(table), field)
        for index in (*indexes, "expiry"):
            tx.zrem(self._k(table, index), field)
        return True

    def load_list_entries(self, *, now: float | None = None) -> list[Entry]:
        entries = [_entry(v) for v in self._read(lambda tx: tx.hgetall(self._k("lists"))).values()]
        if now is None:
            return entries
        return [e for e in entries if e.expires_at is None or e.expires_at > now]

    def _purge(self, table: str, now: float) -> int:
        def purge(tx: RedisTx) -> int:
            expired = tx.zrange(self._k(table, "expiry"), _ALL, (now, True), desc=False, start=0, num=-1)
            for field, _ in expired:
                tx.hdel(self._k(table), field)
                tx.zrem(self._k(table, "expiry"), field)
            return len(expired)

        return self._write(purge)

    def purge_expired_list_entries(self, now: float) -> int:
        return self._purge("lists", now)

    # -- sticky agent memory -------------------------------------------------------------------
    def sticky_get(self, number: str, queue: str | None, now: float) -> str | None:
        raw = self._read(lambda tx: tx.hget(self._k("sticky"), _q(number, sticky_queue(queue))))
        if raw is None:
            return None
        rec = _loads(raw)
        return str(rec[2]) if rec[4] > now else None

    def sticky_put(
        self, number: str, queue: str | None, agent_id: str, now: float, ttl: float = DEFAULT_STICKY_TTL
    ) -> None:
        start = check_time("now", now)
        span = check_time("ttl", ttl)
        assert start is not None and span is not None
        if span <= 0:
            raise ValueError(f"ttl: must be positive, got {ttl!r}")
        rec = StickyRecord(number, queue, agent_id, start, start + span)
        field = _q(rec.number, sticky_queue(queue))
        value = orjson.dumps([rec.number, rec.queue, rec.agent_id, rec.updated_at, rec.expires_at]).decode()

        def put(tx: RedisTx) -> None:
            tx.hset(self._k("sticky"), field, value)
            tx.zadd(self._k("sticky", "expiry"), field, rec.expires_at)

        self._write(put)

    def sticky_delete(self, number: str, queue: str | None) -> bool:
        field = _q(number, sticky_queue(queue))
        return self._write(lambda tx: self._delete(tx, "sticky", field))

    def sticky_load(self, now: float) -> list[StickyRecord]:
        rows = [_loads(v) for v in self._read(lambda tx: tx.hgetall(self._k("sticky"))).values()]
        return [StickyRecord(r[0], r[1], r[2], r[3], r[4]) for r in rows if r[4] > now]

    def sticky_purge(self, now: float) -> int:
        return self._purge("sticky", now)

    # -- agents --------------------------------------------------------------------------------
    def put_agent(self, profile: AgentProfile) -> None:
        value = orjson.dumps(
            {"profile": orjson.loads(dumps(profile.profile)), "skills": profile.skills, "at": profile.updated_at}
        ).decode()

        def put(tx: RedisTx) -> None:
            self._drop_skills(tx, profile.agent_id)
            tx.hset(self._k("agents"), profile.agent_id, value)
            for skill, level in profile.skills.items():
                tx.zadd(self._k("skill", _q(skill)), profile.agent_id, level)

        self._write(put)

    def _drop_skills(self, tx: RedisTx, agent_id: str) -> bool:
        old = tx.hget(self._k("agents"), agent_id)
        if old is None:
            return False
        for skill in _loads(old)["skills"]:
            tx.zrem(self._k("skill", _q(skill)), agent_id)
        return True

    @staticmethod
    def _agent(agent_id: str, raw: str) -> AgentProfile:
        d = _loads(raw)
        return AgentProfile(agent_id=agent_id, skills=d["skills"], profile=d["profile"], updated_at=d["at"])

    def get_agent(self, agent_id: str) -> AgentProfile | None:
        raw = self._read(lambda tx: tx.hget(self._k("agents"), agent_id))
        return None if raw is None else self._agent(agent_id, raw)

    def list_agents(self) -> list[AgentProfile]:
        rows = self._read(lambda tx: tx.hgetall(self._k("agents")))
        return [self._agent(k, rows[k]) for k in sorted(rows)]

    def delete_agent(self, agent_id: str) -> bool:
        def delete(tx: RedisTx) -> bool:
            if not self._drop_skills(tx, agent_id):
                return False
            tx.hdel(self._k("agents"), agent_id)
            return True

        return self._write(delete)

    def agents_with_skill(self, skill: str, min_level: int = 0) -> list[str]:
        key = self._k("skill", _q(skill))
        rows = self._read(lambda tx: tx.zrange(key, (min_level, True), _TOP, desc=False, start=0, num=-1))
        return sorted(m for m, _ in rows)

    # -- configuration overrides ---------------------------------------------------------------
    def put_config(self, kind: ConfigKind, name: str, blob: dict[str, Any], now: float) -> None:
        key = self._k("config", check_kind(kind))
        field, value, at = check_id("name", name), dumps(blob), check_time("now", now)
        row = orjson.dumps({"blob": orjson.loads(value), "at": at}).decode()
        self._write(lambda tx: tx.hset(key, field, row))

    def get_config(self, kind: ConfigKind, name: str) -> dict[str, Any] | None:
        key = self._k("config", check_kind(kind))
        raw = self._read(lambda tx: tx.hget(key, name))
        return None if raw is None else dict(_loads(raw)["blob"])

    def list_configs(self, kind: ConfigKind) -> dict[str, dict[str, Any]]:
        key = self._k("config", check_kind(kind))
        rows = self._read(lambda tx: tx.hgetall(key))
        return {name: dict(_loads(rows[name])["blob"]) for name in sorted(rows)}

    def delete_config(self, kind: ConfigKind, name: str) -> bool:
        table = f"config:{check_kind(kind)}"

        def delete(tx: RedisTx) -> bool:
            if tx.hget(self._k(table), name) is None:
                return False
            tx.hdel(self._k(table), name)
            return True

        return self._write(delete)

    # -- call records --------------------------------------------------------------------------
    def _call_indexes(self, r: CallRecord) -> list[str]:
        keys = [self._k("calls", "started")]
        for name in ("queue", "customer_number", "disposition"):
            value = getattr(r, name)
            if value is not None:
                keys.append(self._k("calls", name, _q(value)))
        return keys

    def put_call_record(self, record: CallRecord) -> None:
        row = [record.call_id, record.queue, record.started_at, record.disposition, record.customer_number]
        value = orjson.dumps([*row, orjson.loads(dumps(record.data))]).decode()

        def put(tx: RedisTx) -> None:
            old = tx.hget(self._k("calls"), record.call_id)
            if old is not None:
                for key in self._call_indexes(self._call(old)):
                    tx.zrem(key, record.call_id)
            tx.hset(self._k("calls"), record.call_id, value)
            for key in self._call_indexes(record):
                tx.zadd(key, record.call_id, record.started_at)

        self._write(put)

    @staticmethod
    def _call(raw: str) -> CallRecord:
        r = _loads(raw)
        return CallRecord(call_id=r[0], queue=r[1], started_at=r[2], disposition=r[3], customer_number=r[4], data=r[5])

    def get_call_record(self, call_id: str) -> CallRecord | None:
        raw = self._read(lambda tx: tx.hget(self._k("calls"), call_id))
        return None if raw is None else self._call(raw)

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
        wanted = {"queue": queue, "customer_number": customer_number, "disposition": disposition}
        given = {k: v for k, v in wanted.items() if v is not None}
        index = next((self._k("calls", k, _q(v)) for k, v in given.items()), self._k("calls", "started"))
        span: tuple[Bound, Bound] = (
            _ALL if since is None else (since, True),
            _TOP if until is None else (until, False),
        )
        count = positive_limit(limit)

        def find(tx: RedisTx) -> list[CallRecord]:
            def load(ids: list[str]) -> list[CallRecord | None]:
                return [None if r is None else self._call(r) for r in tx.hmget(self._k("calls"), ids)]

            return first_by_order(
                tx,
                index,
                span,
                desc=True,
                limit=count,
                load=load,
                keep=lambda r: all(getattr(r, k) == v for k, v in given.items()),
                order=lambda r: (-r.started_at, r.call_id),
            )

        return self._read(find)

    # -- campaigns -----------------------------------------------------------------------------
    def put_contacts(self, contacts: Iterable[CampaignContact | Contact]) -> int:
        rows = [
            (
                c,
                orjson.dumps(
                    [c.number, c.status, c.priority, c.next_attempt_at, c.attempts, orjson.loads(dumps(c.data))]
                ),
            )
            for c in map(contact_record, contacts)
        ]

        def put(tx: RedisTx) -> int:
            for c, value in rows:
                tx.hset(self._k("contacts", _q(c.campaign)), c.contact_id, value.decode())
                tx.zadd(self._k("contacts", _q(c.campaign), "order"), c.contact_id, -c.priority)
            return len(rows)

        return self._write(put)

    def get_contacts(
        self, campaign: str, *, status: str | None = None, due_at: float | None = None, limit: int = 100
    ) -> list[CampaignContact]:
        table = self._k("contacts", _q(campaign))
        count = positive_limit(limit)

        def keep(c: CampaignContact) -> bool:
            if status is not None and c.status != status:
                return False
            return due_at is None or c.next_attempt_at is None or c.next_attempt_at <= due_at

        def find(tx: RedisTx) -> list[CampaignContact]:
            def load(ids: list[str]) -> list[CampaignContact | None]:
                raws = tx.hmget(table, ids)
                return [
                    None if r is None else CampaignContact(campaign, i, *_loads(r))
                    for i, r in zip(ids, raws, strict=True)
                ]

            return first_by_order(
                tx,
                table + ":order",
                (_ALL, _TOP),
                desc=False,
                limit=count,
                load=load,
                keep=keep,
                order=lambda c: (-c.priority, c.contact_id),
            )

        return self._read(find)

    def put_attempt(self, attempt: CampaignAttempt | Attempt) -> None:
        a = attempt_record(attempt)
        row = [a.attempt_id, a.campaign, a.contact_id, a.started_at, a.call_id, a.ended_at, a.outcome]
        value = orjson.dumps([*row, orjson.loads(dumps(a.data))]).decode()

        def put(tx: RedisTx) -> None:
            if tx.hget(self._k("contacts", _q(a.campaign)), a.contact_id) is None:
                raise ConstraintError(f"contact_id: no contact {a.contact_id!r:.40} in campaign {a.campaign!r:.40}")
            old = tx.hget(self._k("attempts"), a.attempt_id)
            if old is not None:
                o = _loads(old)
                tx.zrem(self._k("attempts", _q(o[1], o[2])), a.attempt_id)
            tx.hset(self._k("attempts"), a.attempt_id, value)
            tx.zadd(self._k("attempts", _q(a.campaign, a.contact_id)), a.attempt_id, a.started_at)

        self._write(put)

    def attempts_for(self, campaign: str, contact_id: str) -> list[CampaignAttempt]:
        def find(tx: RedisTx) -> list[CampaignAttempt]:
            ids = [
                m
                for m, _ in tx.zrange(
                    self._k("attempts", _q(campaign, contact_id)), _ALL, _TOP, desc=False, start=0, num=-1
                )
            ]
            return [CampaignAttempt(*_loads(r)) for r in tx.hmget(self._k("attempts"), ids) if r is not None]

        return self._read(find)

    # -- webhook outbox ------------------------------------------------------------------------
    def outbox_enqueue(self, item: OutboxItem) -> bool:
        field = _q(item.event_id, item.endpoint)

        def put(tx: RedisTx) -> bool:
            if tx.hget(self._k("outbox"), field) is not None:
                return False
            self._outbox_put(tx, field, item)
            return True

        return self._write(put)

    def _outbox_put(self, tx: RedisTx, field: str, item: OutboxItem) -> None:
        tx.hset(self._k("outbox"), field, _outbox_json(item))
        if item.dead:
            tx.zrem(self._k("outbox", "due"), field)
            tx.zadd(self._k("outbox", "dead"), field, item.created_at)
        else:
            tx.zrem(self._k("outbox", "dead"), field)
            tx.zadd(self._k("outbox", "due"), field, item.next_attempt_at)

    def _outbox_list(
        self, index: str, span: tuple[Bound, Bound], limit: int, order: Callable[[OutboxItem], Any]
    ) -> list[OutboxItem]:
        count = positive_limit(limit)

        def find(tx: RedisTx) -> list[OutboxItem]:
            def load(fields: list[str]) -> list[OutboxItem | None]:
                return [None if r is None else _outbox(r) for r in tx.hmget(self._k("outbox"), fields)]

            return first_by_order(
                tx, self._k("outbox", index), span, desc=False, limit=count, load=load, keep=lambda i: True, order=order
            )

        return self._read(find)

    def outbox_due(self, now: float, limit: int = 100) -> list[OutboxItem]:
        return self._outbox_list(
            "due", (_ALL, (now, True)), limit, lambda i: (i.next_attempt_at, i.created_at, i.event_id)
        )

    def outbox_mark_delivered(self, event_id: str, endpoint: str) -> bool:
        field = _q(event_id, endpoint)
        return self._write(lambda tx: self._delete(tx, "outbox", field, "due", "dead"))

    def _outbox_update(
        self, event_id: str, endpoint: str, *, dead: bool, change: Callable[[OutboxItem], OutboxItem]
    ) -> bool:
        field = _q(event_id, endpoint)

        def update(tx: RedisTx) -> bool:
            raw = tx.hget(self._k("outbox"), field)
            if raw is None:
                return False
            item = _outbox(raw)
            if item.dead != dead:
                return False
            self._outbox_put(tx, field, change(item))
            return True

        return self._write(update)

    def outbox_mark_failed(
        self, event_id: str, endpoint: str, next_at: float, *, error: str | None = None, dead: bool = False
    ) -> bool:
        if error is not None:
            error = error[:1000]
        at = check_time("next_at", next_at)
        assert at is not None

        def change(i: OutboxItem) -> OutboxItem:
            return OutboxItem(i.event_id, i.endpoint, i.payload, i.created_at, at, i.attempts + 1, error, bool(dead))

        return self._outbox_update(event_id, endpoint, dead=False, change=change)

    def outbox_dead_letters(self, limit: int = 100) -> list[OutboxItem]:
        return self._outbox_list("dead", (_ALL, _TOP), limit, lambda i: (i.created_at, i.event_id))

    def outbox_retry_dead(self, event_id: str, endpoint: str, now: float) -> bool:
        at = check_time("now", now)
        assert at is not None

        def change(i: OutboxItem) -> OutboxItem:
            return OutboxItem(i.event_id, i.endpoint, i.payload, i.created_at, at, i.attempts, i.last_error, False)

        return self._outbox_update(event_id, endpoint, dead=True, change=change)
