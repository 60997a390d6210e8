"""RedisStore through Sentinel: a real master, replica and three sentinels; the master is killed.

The data written (and acknowledged by the replica with WAIT) before the failover is still there
after Sentinel promotes the replica, and the same store keeps reading and writing.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis_servers import start_sentinel, start_server, stop, wait_until

from ctilink.store import CallRecord, OutboxItem
from ctilink.store.redis_store import RedisStore

SERVICE = "ctilink-test"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[dict[str, object]]:
    procs = []
    try:
        master, master_port = start_server(tmp_path / "master")
        procs.append(master)
        replica, replica_port = start_server(tmp_path / "replica", "--replicaof", "127.0.0.1", str(master_port))
        procs.append(replica)
        replica_client = redis.Redis(port=replica_port)
        wait_until(lambda: replica_client.info("replication")["master_link_status"] == "up", 15, "the replica's sync")
        sentinels = []
        for i in range(3):
            proc, port = start_sentinel(tmp_path / f"sentinel{i}", master_port, SERVICE)
            procs.append(proc)
            sentinels.append(("127.0.0.1", port))
        for _, port in sentinels:
            client = redis.Redis(port=port)
            wait_until(
                lambda c=client: c.sentinel_master(SERVICE)["num-other-sentinels"] == 2 and c.sentinel_slaves(SERVICE),
                20,
                "the sentinels to find each other and the replica",
            )
        yield {"master": master, "master_port": master_port, "replica_port": replica_port, "sentinels": sentinels}
    finally:
        for proc in procs:
            stop(proc)


def test_store_survives_a_master_kill(cluster: dict[str, object]) -> None:
    sentinels = cluster["sentinels"]
    assert isinstance(sentinels, list)
    store = RedisStore.from_sentinel(sentinels, SERVICE, prefix="failover:")
    store.put_call_record(CallRecord("before", started_at=1.0, queue="support", data={"n": 1}))
    store.outbox_enqueue(OutboxItem("ev1", "https://crm.example/hook", b"{}", created_at=1.0, next_attempt_at=1.0))
    assert store._c().execute_command("WAIT", 1, 1000) >= 1  # the replica has it before the kill

    master = cluster["master"]
    master.send_signal(signal.SIGKILL)  # type: ignore[attr-defined]
    master.wait(timeout=10)  # type: ignore[attr-defined]
    watcher = redis.Redis(port=sentinels[0][1])
    wait_until(
        lambda: int(watcher.sentinel_get_master_addr_by_name(SERVICE)[1]) == cluster["replica_port"],
        30,
        "Sentinel to promote the replica",
    )

    assert store.get_call_record("before") == CallRecord("before", 1.0, queue="support", data={"n": 1})
    assert [i.event_id for i in store.outbox_due(now=1.0)] == ["ev1"]
    store.put_call_record(CallRecord("after", started_at=2.0, queue="support"))
    assert [r.call_id for r in store.find_call_records(queue="support")] == ["after", "before"]
    store.close()
