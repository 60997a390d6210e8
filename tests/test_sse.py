"""The agent event stream over real HTTP: live events, drop mid-stream, resume without gaps or duplicates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import gevent
import gevent.socket
import pytest

from ctilink.config import parse_config
from ctilink.core import AgentProfile, Engine, EngineConfig, QueueConfig
from ctilink.core import notifications as nt
from ctilink.core.agent import AgentState
from ctilink.service.api import ApiContext
from ctilink.service.http import build_app, serve
from ctilink.service.sse import AgentRouter, EventHub
from ctilink.testing import http

AGENT_TOKEN = "agent-1001-token-xxxxxxxx"
OTHER_TOKEN = "agent-1002-token-xxxxxxxx"


@pytest.fixture
def world() -> Iterator[tuple[tuple[str, int], EventHub]]:
    engine = Engine(
        EngineConfig(
            queues=[QueueConfig(name="support")],
            agents=[AgentProfile(id="1001", endpoints=["user/1001"]), AgentProfile(id="1002", endpoints=["user/1002"])],
        )
    )
    config = parse_config(
        {
            "api": {
                "tokens": [
                    {"name": "a1", "token": AGENT_TOKEN, "role": "agent", "agent_id": "1001"},
                    {"name": "a2", "token": OTHER_TOKEN, "role": "agent", "agent_id": "1002"},
                ]
            }
        }
    )
    hub = EventHub(window_s=300, max_events=100, keepalive_s=30)
    ctx = ApiContext(snapshot=lambda: engine.snapshot(0.0), submit=lambda r: None, config=config, hub=hub)
    server = serve("127.0.0.1:0", build_app(health=lambda: {"ok": True}, context=ctx))
    yield server.address[:2], hub
    server.stop(timeout=1)


class Client:
    """A raw SSE client (HTTP/1.0, so the body is the plain stream)."""

    def __init__(self, address: tuple[str, int], token: str, last_event_id: str | None = None) -> None:
        self.sock = gevent.socket.create_connection(address, timeout=5)
        headers = f"Authorization: Bearer {token}\r\n"
        if last_event_id:
            headers += f"Last-Event-ID: {last_event_id}\r\n"
        self.sock.sendall(f"GET /v1/agents/1001/events HTTP/1.0\r\nHost: x\r\n{headers}\r\n".encode())
        self.file = self.sock.makefile("rb")
        status = self.file.readline()
        assert b" 200 " in status, status
        while self.file.readline() not in (b"\r\n", b""):
            pass

    def next_event(self) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        while True:
            line = self.file.readline()
            assert line, "stream closed"
            line = line.rstrip(b"\n")
            if not line:
                if "data" in fields:
                    return fields
                fields = {}
                continue
            if line.startswith(b":") or line.startswith(b"retry:"):
                continue
            name, _, value = line.decode().partition(": ")
            fields[name] = json.loads(value) if name == "data" else value

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def _state(agent_id: str, n: int) -> nt.AgentStateChanged:
    return nt.AgentStateChanged(agent_id, AgentState.AVAILABLE, AgentState.NOT_READY, f"r{n}", 1.0, float(n))


def _publish(hub: EventHub, router: AgentRouter, note: object) -> None:
    hub.publish(router.agents_for(note), note)


def test_drop_mid_stream_and_resume_without_gaps_or_duplicates(world: tuple[tuple[str, int], EventHub]) -> None:
    address, hub = world
    router = AgentRouter()
    client = Client(address, AGENT_TOKEN, last_event_id=f"{hub.epoch}-0")  # from the start: no race with publish
    for n in range(5):
        _publish(hub, router, _state("1001", n))
        _publish(hub, router, _state("1002", n))  # another agent's: never on 1001's stream
    seen = [client.next_event() for _ in range(3)]
    assert [e["data"]["data"]["reason"] for e in seen] == ["r0", "r1", "r2"]
    client.close()  # the desktop drops mid-stream
    for n in range(5, 9):
        _publish(hub, router, _state("1001", n))
    resumed = Client(address, AGENT_TOKEN, last_event_id=seen[-1]["id"])
    rest = [resumed.next_event() for _ in range(6)]
    assert [e["data"]["data"]["reason"] for e in rest] == [f"r{n}" for n in range(3, 9)]
    ids = [e["id"] for e in seen + rest]
    assert len(ids) == len(set(ids))
    # Live events keep flowing after the backlog, on the same connection.
    _publish(hub, router, _state("1001", 9))
    assert resumed.next_event()["data"]["data"]["reason"] == "r9"
    resumed.close()


def test_call_changes_reach_the_agents_the_call_was_offered_to(world: tuple[tuple[str, int], EventHub]) -> None:
    address, hub = world
    router = AgentRouter()
    client = Client(address, AGENT_TOKEN, last_event_id=f"{hub.epoch}-0")
    _publish(hub, router, nt.CallOffered("call-1", "1001", "u1", 1, "support", 1.0))
    _publish(hub, router, nt.CallQueued("call-2", "support", 1, None, 1.5))  # not this agent's call
    _publish(hub, router, nt.CallTransferred("call-1", None, "queue", "sales", 2.0))
    kinds = [client.next_event()["event"] for _ in range(2)]
    assert kinds == ["CallOffered", "CallTransferred"]
    client.close()


def test_lost_history_or_other_epoch_starts_with_reset(world: tuple[tuple[str, int], EventHub]) -> None:
    address, _hub = world
    sock = gevent.socket.create_connection(address, timeout=5)
    sock.sendall(
        f"GET /v1/agents/1001/events HTTP/1.0\r\nAuthorization: Bearer {AGENT_TOKEN}\r\n"
        f"Last-Event-ID: someotherepoch-5\r\n\r\n".encode()
    )
    data = b""
    while b"event: reset" not in data:
        chunk = sock.recv(4096)
        assert chunk, data
        data += chunk
    sock.close()


def test_stream_needs_the_agents_own_token(world: tuple[tuple[str, int], EventHub]) -> None:
    address, _ = world
    assert http.get(address, "/v1/agents/1001/events").status == 401
    assert http.get(address, "/v1/agents/1001/events", headers={"Authorization": "Bearer nope"}).status == 401
    assert http.get(address, "/v1/agents/1001/events", headers={"Authorization": f"Bearer {OTHER_TOKEN}"}).status == 403


def test_window_eviction_is_reported_as_reset() -> None:
    hub = EventHub(window_s=300, max_events=10, epoch="e1")
    for n in range(25):
        hub.publish(["1001"], _state("1001", n))
    chunks = hub.stream("1001", "e1-3")
    head = next(chunks)
    assert b"event: reset" in head
    frames = [next(chunks) for _ in range(10)]
    assert b"id: e1-16\n" in frames[0] and b"id: e1-25\n" in frames[-1]
    chunks.close()
    assert hub.subscribers("1001") == 0
