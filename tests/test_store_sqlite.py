"""Both store engines (SQLite and Redis): every area of the interface, batching and the StoreWriter;
SQLite alone: pragmas and migrations."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ctilink.lists import Entry, EntryKind, ListMatcher, ListName, build_entry
from ctilink.store import (
    LATEST_VERSION,
    AgentProfile,
    CallRecord,
    CampaignAttempt,
    CampaignContact,
    OutboxItem,
    SchemaTooNewError,
    SqliteStore,
    Store,
    StoreError,
    StoreWriter,
)
from ctilink.store.redis_store import REDIS_SCHEMA_VERSION, ConstraintError, RedisStore
from ctilink.store.schema import MIGRATIONS

BL = ListName.BLACKLIST


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "ctilink.db"


#: What a write breaking a relation raises, per engine.
BROKEN_RELATION = (sqlite3.IntegrityError, ConstraintError)
Opener = Callable[[], Store]


@pytest.fixture(params=["sqlite", "redis"])
def opener(request: pytest.FixtureRequest, db: Path) -> Opener:
    """Opens a store of the engine under test, each time on the same data (file or key prefix)."""
    if request.param == "sqlite":
        return lambda: SqliteStore(db)
    port = request.getfixturevalue("redis_port")
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    return lambda: RedisStore.from_url(f"redis://127.0.0.1:{port}/0", prefix=prefix)


@pytest.fixture
def store(opener: Opener) -> Iterator[Store]:
    s = opener()
    yield s
    s.close()


@pytest.fixture
def sqlite_store(db: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(db)
    yield s
    s.close()


def test_pragmas_wal_and_full_sync(sqlite_store: Store) -> None:
    store = sqlite_store
    conn = store._c()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.schema_version() == LATEST_VERSION
    assert store.integrity_check() == "ok"


def test_migrations_apply_in_order_and_newer_schema_is_refused(db: Path) -> None:
    SqliteStore(db, migrate_to=1).close()
    raw = sqlite3.connect(db)
    assert [r[0] for r in raw.execute("SELECT version FROM schema_version")] == [1]
    assert raw.execute("SELECT name FROM sqlite_master WHERE name = 'call_records_customer'").fetchone() is None
    raw.close()
    with SqliteStore(db) as s:
        assert s.schema_version() == LATEST_VERSION == len(MIGRATIONS)
    raw = sqlite3.connect(db)
    assert raw.execute("SELECT name FROM sqlite_master WHERE name = 'call_records_customer'").fetchone() is not None
    raw.execute("INSERT INTO schema_version VALUES (?, 'from the future', 0)", (LATEST_VERSION + 1,))
    raw.commit()
    raw.close()
    with pytest.raises(SchemaTooNewError, match="newer"):
        SqliteStore(db)


def test_list_entries_round_trip_survive_reopen_and_feed_the_matcher(opener: Opener) -> None:
    entries = [
        build_entry(
            "blacklist", "+44909*", "GB", action="announce", target="ivr/blocked.wav", reason="premium", added_at=5
        ),
        build_entry("whitelist", "020 7946 0958", "GB", priority=7, target="1001", scope="queue:vip", added_at=5),
        build_entry("dnc", "anonymous", "GB", expires_at=100.0, added_at=5),
        build_entry("blacklist", "+12125550142", "GB", cause="CALL_REJECTED", added_by="ops<script>", added_at=5),
    ]
    with opener() as s:
        assert s.put_list_entries(entries) == 4
        assert s.put_list_entries([entries[0]]) == 1  # replace by key, not duplicate
    with opener() as s:
        loaded = s.load_list_entries()
        assert sorted(loaded, key=lambda e: e.key) == sorted(entries, key=lambda e: e.key)
        assert len(s.load_list_entries(now=100.0)) == 3
        m = ListMatcher(s.load_list_entries(now=50.0))
        assert m.match("+449091112222", list=BL, now=50.0).target == "ivr/blocked.wav"
        assert s.delete_list_entry("blacklist", "+44909", kind=EntryKind.PREFIX)
        assert not s.delete_list_entry("blacklist", "+44909", kind=EntryKind.PREFIX)
        assert s.purge_expired_list_entries(100.0) == 1
        assert {e.list_name for e in s.load_list_entries()} == {ListName.WHITELIST, BL}


def test_put_list_entries_is_all_or_nothing(store: Store) -> None:
    good = Entry(list_name=BL, number="+442079460958", added_at=0.0)
    with pytest.raises(TypeError):
        store.put_list_entries([good, "not an entry"])  # type: ignore[list-item]
    assert store.load_list_entries() == []


def test_sticky_memory_ttl_and_scopes(store: Store) -> None:
    store.sticky_put("+442079460958", "support", "agent-1", now=1000.0, ttl=60.0)
    store.sticky_put("+442079460958", None, "agent-2", now=1000.0)
    assert store.sticky_get("+442079460958", "support", now=1059.9) == "agent-1"
    assert store.sticky_get("+442079460958", "support", now=1060.0) is None
    assert store.sticky_get("+442079460958", None, now=1000.0 + 29 * 86400) == "agent-2"
    assert store.sticky_get("+442079460958", "sales", now=1001.0) is None
    store.sticky_put("+442079460958", "support", "agent-3", now=1001.0, ttl=60.0)  # newest agent wins
    assert store.sticky_get("+442079460958", "support", now=1002.0) == "agent-3"
    assert {(r.queue, r.agent_id) for r in store.sticky_load(now=1002.0)} == {("support", "agent-3"), (None, "agent-2")}
    assert store.sticky_purge(now=1001.0 + 60.0) == 1
    assert store.sticky_delete("+442079460958", None)
    assert store.sticky_load(now=0.0) == []
    with pytest.raises(ValueError):
        store.sticky_put("+44", "q", "a", now=0.0, ttl=0.0)
    with pytest.raises(ValueError, match="agent_id"):
        store.sticky_put("+44", "q", "a\nb", now=0.0)


def test_agents_and_skills(store: Store) -> None:
    store.put_agent(AgentProfile("1001", skills={"en": 5, "billing": 2}, profile={"name": "Ann"}, updated_at=1.0))
    store.put_agent(AgentProfile("1002", skills={"en": 1}, profile={"name": "Bob"}))
    assert store.get_agent("1001") == AgentProfile("1001", {"en": 5, "billing": 2}, {"name": "Ann"}, 1.0)
    assert store.agents_with_skill("en", 2) == ["1001"]
    store.put_agent(AgentProfile("1001", skills={"fr": 3}, profile={"name": "Ann"}))  # skills replaced
    assert store.agents_with_skill("en") == ["1002"] and store.agents_with_skill("fr") == ["1001"]
    assert [a.agent_id for a in store.list_agents()] == ["1001", "1002"]
    assert store.delete_agent("1001") and store.get_agent("1001") is None
    assert store.agents_with_skill("fr") == []  # skills cascade


def test_config_overrides(store: Store) -> None:
    store.put_config("queue", "support", {"strategy": "longest-idle", "moh": "local_stream://moh"}, now=1.0)
    store.put_config("campaign", "spring", {"ratio": 1.5}, now=1.0)
    assert store.get_config("queue", "support")["strategy"] == "longest-idle"
    assert store.list_configs("campaign") == {"spring": {"ratio": 1.5}}
    assert store.get_config("campaign", "support") is None
    with pytest.raises(ValueError, match="kind"):
        store.put_config("agent", "x", {}, now=1.0)  # type: ignore[arg-type]
    assert store.delete_config("queue", "support") and not store.delete_config("queue", "support")


def test_call_records_indexed_queries(store: Store) -> None:
    for i in range(6):
        store.put_call_record(
            CallRecord(
                f"c{i}",
                started_at=float(i),
                queue="support" if i % 2 else "sales",
                disposition="answered" if i < 4 else "abandoned",
                customer_number="+442079460958" if i < 3 else "+12125550142",
                data={"i": i, "note": 'quote " and \u2603'},
            )
        )
    assert store.get_call_record("c3").data == {"i": 3, "note": 'quote " and \u2603'}
    assert [r.call_id for r in store.find_call_records(queue="support")] == ["c5", "c3", "c1"]
    assert [r.call_id for r in store.find_call_records(customer_number="+442079460958", since=1.0)] == ["c2", "c1"]
    assert [r.call_id for r in store.find_call_records(disposition="abandoned", until=5.0)] == ["c4"]
    assert len(store.find_call_records(limit=2)) == 2
    with pytest.raises(ValueError):
        store.find_call_records(limit=0)


def test_campaign_contacts_and_attempts(store: Store) -> None:
    store.put_contacts(
        [
            CampaignContact("spring", "k1", "+442079460958", priority=1),
            CampaignContact("spring", "k2", "+12125550142", priority=5, next_attempt_at=50.0),
        ]
    )
    assert [c.contact_id for c in store.get_contacts("spring")] == ["k2", "k1"]
    assert [c.contact_id for c in store.get_contacts("spring", due_at=10.0)] == ["k1"]
    store.put_attempt(CampaignAttempt("a1", "spring", "k1", started_at=1.0, outcome="no_answer"))
    store.put_attempt(CampaignAttempt("a2", "spring", "k1", started_at=2.0, call_id="c9"))
    assert [a.attempt_id for a in store.attempts_for("spring", "k1")] == ["a1", "a2"]
    with pytest.raises(BROKEN_RELATION):
        store.put_attempt(CampaignAttempt("a3", "spring", "nobody", started_at=3.0))


def test_webhook_outbox_lifecycle(store: Store) -> None:
    item = OutboxItem("ev1", "https://crm.example/hook", b'{"a":1}', created_at=1.0, next_attempt_at=1.0)
    assert store.outbox_enqueue(item)
    assert not store.outbox_enqueue(item)  # idempotent per (event, endpoint)
    store.outbox_enqueue(OutboxItem("ev2", "https://crm.example/hook", b"{}", created_at=2.0, next_attempt_at=5.0))
    assert [i.event_id for i in store.outbox_due(now=1.0)] == ["ev1"]
    assert store.outbox_mark_failed("ev1", "https://crm.example/hook", next_at=10.0, error="HTTP 503")
    assert [i.event_id for i in store.outbox_due(now=6.0)] == ["ev2"]
    due = store.outbox_due(now=10.0)
    assert [(i.event_id, i.attempts, i.last_error) for i in due] == [("ev2", 0, None), ("ev1", 1, "HTTP 503")]
    assert store.outbox_mark_failed("ev1", "https://crm.example/hook", next_at=0.0, error="gave up", dead=True)
    assert [i.event_id for i in store.outbox_due(now=100.0)] == ["ev2"]
    dead = store.outbox_dead_letters()
    assert [(d.event_id, d.attempts, d.dead, d.payload) for d in dead] == [("ev1", 2, True, b'{"a":1}')]
    assert store.outbox_retry_dead("ev1", "https://crm.example/hook", now=200.0)
    assert store.outbox_mark_delivered("ev2", "https://crm.example/hook")
    assert [i.event_id for i in store.outbox_due(now=200.0)] == ["ev1"] and store.outbox_dead_letters() == []


def test_run_batch_isolates_a_failing_op(store: Store) -> None:
    def boom(s: Store) -> None:
        s.sticky_put("+442079460958", "q", "half-written", now=0.0)
        raise RuntimeError("boom")

    outcomes = store.run_batch(
        [
            lambda s: s.sticky_put("+1", "q", "a", now=0.0),
            boom,
            lambda s: s.put_config("queue", "q", {"x": 1}, now=0.0),
        ]
    )
    assert [ok for ok, _ in outcomes] == [True, False, True]
    assert isinstance(outcomes[1][1], RuntimeError)
    assert store.sticky_get("+1", "q", now=1.0) == "a"
    assert store.sticky_get("+442079460958", "q", now=1.0) is None  # rolled back to its savepoint
    assert store.get_config("queue", "q") == {"x": 1}


def test_closed_store_raises(opener: Opener) -> None:
    s = opener()
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.sticky_get("+1", None, now=0.0)


def test_writer_acks_after_commit_in_batches(opener: Opener) -> None:
    store = opener()
    writer = StoreWriter(store, max_batch=50)
    writer.start()
    seen: list[tuple[bool, object]] = []
    results = [
        writer.submit(
            "put_call_record", CallRecord(f"w{i}", started_at=float(i)), on_done=lambda ok, v: seen.append((ok, v))
        )
        for i in range(200)
    ]
    bad = writer.submit("put_attempt", CampaignAttempt("x", "none", "none", started_at=0.0))
    for r in results:
        r.get()
        # Acknowledged means committed: a second, independent connection already sees it.
    with opener() as other:
        assert len(other.find_call_records(limit=1000)) == 200
    with pytest.raises(BROKEN_RELATION):
        bad.get()
    assert len(seen) == 200 and all(ok for ok, _ in seen)
    # Grouped: everything queued before the writer ran is committed max_batch at a time (201 writes).
    assert writer.batches == 5 and writer.writes == 201
    with pytest.raises(ValueError, match="not a store write method"):
        writer.submit("load_list_entries")
    writer.stop()
    with pytest.raises(StoreError):
        writer.submit("sticky_purge", 0.0)
    store.close()


def test_writer_reports_commit_failure_to_every_write(opener: Opener) -> None:
    store = opener()
    writer = StoreWriter(store)
    writer.start()
    writer.flush()
    store.close()  # the next batch cannot commit
    results = [writer.submit("sticky_purge", 0.0) for _ in range(3)]
    for r in results:
        with pytest.raises(StoreError, match="closed"):
            r.get()
    writer.stop()


def test_writer_runs_callables_with_arguments_and_drains_on_stop(opener: Opener) -> None:
    store = opener()
    writer = StoreWriter(store)
    writer.start()
    r = writer.submit(lambda s, n: s.put_contacts([CampaignContact("c", f"k{i}", "+1") for i in range(n)]), 300)
    assert r.get() == 300
    late = writer.submit("sticky_put", "+442079460958", None, "a1", 0.0)
    writer.stop()
    assert late.ready() and late.successful()  # stop() committed what was queued
    assert store.sticky_get("+442079460958", None, now=1.0) == "a1"
    store.close()


# -- Redis alone ----------------------------------------------------------------------------------


@pytest.fixture
def redis_url(redis_port: int) -> str:
    return f"redis://127.0.0.1:{redis_port}/0"


def test_redis_schema_version_and_newer_layout_is_refused(redis_url: str) -> None:
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    with RedisStore.from_url(redis_url, prefix=prefix) as s:
        assert s.schema_version() == REDIS_SCHEMA_VERSION
        s._c().set(prefix + "schema", REDIS_SCHEMA_VERSION + 1)
    with pytest.raises(SchemaTooNewError, match="newer"):
        RedisStore.from_url(redis_url, prefix=prefix)


def test_redis_prefixes_keep_tenants_apart_and_are_checked(redis_url: str) -> None:
    a = RedisStore.from_url(redis_url, prefix=f"a-{uuid.uuid4().hex[:8]}:")
    b = RedisStore.from_url(redis_url, prefix=f"b-{uuid.uuid4().hex[:8]}:")
    a.put_config("queue", "support", {"x": 1}, now=1.0)
    assert b.get_config("queue", "support") is None and a.get_config("queue", "support") == {"x": 1}
    keys = {k.decode() for k in a._c().keys(a.prefix + "*")}
    assert keys and all(k.startswith(a.prefix) for k in keys)
    a.close()
    b.close()
    with pytest.raises(ValueError, match="prefix"):
        RedisStore.from_url(redis_url, prefix="has space")


def test_batch_sees_its_own_writes_and_commits_all_or_nothing(store: Store) -> None:
    item = OutboxItem("ev1", "https://crm.example/hook", b"\x00\xff", created_at=1.0, next_attempt_at=1.0)
    outcomes = store.run_batch(
        [
            lambda s: s.outbox_enqueue(item),
            lambda s: s.outbox_enqueue(item),  # sees the first, still uncommitted
            lambda s: s.put_contacts([CampaignContact("c", "k1", "+1")]),
            lambda s: s.put_attempt(CampaignAttempt("a1", "c", "k1", started_at=1.0)),
        ]
    )
    assert outcomes == [(True, True), (True, False), (True, 1), (True, None)]
    assert [i.payload for i in store.outbox_due(now=1.0)] == [b"\x00\xff"]
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.run_batch([lambda s: s.sticky_put("+1", None, "a", now=0.0)])


def test_find_call_records_pages_past_ties_in_order(store: Store) -> None:
    for i in range(250):
        store.put_call_record(CallRecord(f"c{i:03d}", started_at=float(i // 50), queue="q" if i % 3 else None))
    got = store.find_call_records(limit=120)
    assert [r.call_id for r in got] == sorted(
        (f"c{i:03d}" for i in range(250)), key=lambda c: (-(int(c[1:]) // 50), c)
    )[:120]
    got_q = store.find_call_records(queue="q", since=1.0, until=4.0, limit=500)
    assert [r.call_id for r in got_q] == sorted(
        (f"c{i:03d}" for i in range(50, 200) if i % 3), key=lambda c: (-(int(c[1:]) // 50), c)
    )
