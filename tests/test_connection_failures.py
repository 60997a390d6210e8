"""The connection survives what nodes do: refuse, reset, drop mid-frame, shut down, reject by
ACL, refuse the password, go silent, send garbage, outrun the consumer. Plus the backoff policy.

Waits are on states, events and commands the fake switch received, never on fixed sleeps. The
"no tight loop" check is a lower bound derived from the backoff policy: a slow machine can only
make it pass more comfortably.
"""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from structlog.testing import LogCapture

from ctilink.esl.backoff import Backoff
from ctilink.esl.connection import ConnState, EslConnection
from ctilink.events import Event, Heartbeat, Resynced
from ctilink.testing.fake_switch import FakeSwitch

WAIT = 10.0


@pytest.fixture
def switch() -> Iterator[FakeSwitch]:
    srv = FakeSwitch(password="ClueCon", heartbeat_interval=None, time_scale=0)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def made() -> Iterator[list[EslConnection]]:
    conns: list[EslConnection] = []
    yield conns
    for conn in conns:
        conn.stop()


def start(
    made: list[EslConnection], host: str, port: int, **kw: Any
) -> tuple[EslConnection, LogCapture, CollectorRegistry]:
    cap = LogCapture()
    registry = CollectorRegistry()
    kw.setdefault("backoff", Backoff(initial=0.02, cap=0.05, jitter=0.1, rng=random.Random(7)))
    conn = EslConnection(
        "fs1",
        host,
        port,
        kw.pop("password", "ClueCon"),
        registry=registry,
        logger=structlog.wrap_logger(structlog.PrintLogger(), processors=[cap]),
        **kw,
    )
    made.append(conn)
    conn.start()
    return conn, cap, registry


def metric(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def next_event(conn: EslConnection) -> Event:
    event = conn.get(timeout=WAIT)
    assert event is not None, "no event arrived"
    return event


def until(conn: EslConnection, kind: type) -> Event:
    while True:
        event = next_event(conn)
        if isinstance(event, kind):
            return event


def heartbeat_marks_the_stream(switch: FakeSwitch, conn: EslConnection, mark: int) -> None:
    """Emit a marker event and wait for it: everything sent before it has been processed."""
    switch.emit({"Event-Name": "HEARTBEAT", "Session-Count": str(mark)})
    assert until(conn, Heartbeat).session_count == mark


def events_named(cap: LogCapture, name: str) -> list[dict]:
    return [e for e in cap.entries if e["event"] == name]


# -- backoff policy --------------------------------------------------------------------------


def test_backoff_grows_exponentially_to_the_cap() -> None:
    policy = Backoff(initial=0.5, cap=30, jitter=0)
    assert [policy.delay(n) for n in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert policy.delay(10_000) == 30  # no overflow after days of failures


def test_backoff_is_deterministic_with_an_injected_random() -> None:
    a = Backoff(initial=0.5, cap=30, jitter=0.2, rng=random.Random(42))
    b = Backoff(initial=0.5, cap=30, jitter=0.2, rng=random.Random(42))
    assert [a.delay(n) for n in range(10)] == [b.delay(n) for n in range(10)]
    assert len({a.delay(3) for _ in range(20)}) > 1  # and it does jitter


@given(
    initial=st.floats(0.001, 10),
    factor=st.floats(1, 1000),
    jitter=st.floats(0, 0.99),
    multiplier=st.floats(1, 10),
    attempt=st.integers(0, 5000),
    seed=st.integers(0, 2**32),
)
def test_backoff_delay_is_bounded(
    initial: float, factor: float, jitter: float, multiplier: float, attempt: int, seed: int
) -> None:
    policy = Backoff(
        initial=initial, cap=initial * factor, jitter=jitter, multiplier=multiplier, rng=random.Random(seed)
    )
    delay = policy.delay(attempt)
    assert initial * (1 - jitter) <= delay <= policy.cap
    assert delay > 0
    assert policy.base(attempt) <= policy.base(attempt + 1)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"initial": 0}, "initial"),
        ({"initial": 2, "cap": 1}, "cap"),
        ({"jitter": 1}, "jitter"),
        ({"multiplier": 0.5}, "multiplier"),
        ({"cap": float("inf")}, "cap"),
    ],
)
def test_backoff_rejects_bad_policies(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=f"Backoff.{field}"):
        Backoff(**kwargs)


# -- failures ---------------------------------------------------------------------------------


def test_wrong_password_is_logged_per_attempt_and_retried_with_backoff(switch: FakeSwitch, made: list) -> None:
    floor = 0.05 * (1 - 0.1)
    began = time.monotonic()
    conn, cap, registry = start(
        made, switch.host, switch.port, password="wrong", backoff=Backoff(initial=0.05, cap=0.05, jitter=0.1)
    )

    def auths() -> int:
        return sum(1 for c in switch.commands if c.startswith("auth "))

    switch.wait_for_command(lambda _: auths() >= 4, WAIT)
    elapsed = time.monotonic() - began
    # Four attempts need at least three backoff pauses: this is what "no tight loop" means.
    assert elapsed >= 3 * floor
    assert not conn.connected
    failures = metric(registry, "ctilink_esl_connect_failures_total", node="fs1", reason="auth")
    assert failures >= 3
    logged = events_named(cap, "esl_auth_failed")
    assert len(logged) >= 3 and all(e["log_level"] == "error" and "password" in e["hint"] for e in logged)
    assert not any("wrong" in str(e) for e in cap.entries)  # the attempted password is not logged
    assert abs(len(logged) - auths()) <= 1  # once per attempt


def test_connection_refused_until_the_server_appears(made: list) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    conn, cap, registry = start(made, "127.0.0.1", port)
    for _ in range(2):
        assert conn.wait_for_state(ConnState.BACKOFF, WAIT)
        assert conn.wait_for_state(ConnState.CONNECTING, WAIT)
    assert metric(registry, "ctilink_esl_connect_failures_total", node="fs1", reason="refused") >= 2
    assert events_named(cap, "esl_connect_refused")
    srv = FakeSwitch(port=port, heartbeat_interval=None, time_scale=0)
    srv.start()
    try:
        assert conn.wait_connected(WAIT)
        assert isinstance(next_event(conn), Resynced)
        assert metric(registry, "ctilink_esl_reconnects_total", node="fs1") == 0  # first session
    finally:
        conn.stop()
        srv.stop()


def test_socket_dropped_mid_frame_then_reconnect(switch: FakeSwitch, made: list) -> None:
    conn, _, registry = start(made, switch.host, switch.port)
    assert conn.wait_connected(WAIT)
    assert isinstance(next_event(conn), Resynced)
    switch.send_raw(b'Content-Length: 500\nContent-Type: text/event-json\n\n{"Event-Name":"HEART')
    switch.disconnect(notice=False)
    assert isinstance(until(conn, Resynced), Resynced)  # a new session, resynced
    assert conn.wait_connected(WAIT)
    heartbeat_marks_the_stream(switch, conn, 1)  # the half frame did not poison the new session
    assert metric(registry, "ctilink_esl_reconnects_total", node="fs1") == 1
    assert metric(registry, "ctilink_esl_disconnects_total", node="fs1", reason="eof") == 1
    assert metric(registry, "ctilink_esl_malformed_frames_total", node="fs1") == 0


def test_disconnect_notice_is_logged_and_followed_by_reconnect(switch: FakeSwitch, made: list) -> None:
    conn, cap, registry = start(made, switch.host, switch.port)
    assert conn.wait_connected(WAIT)
    switch.disconnect(notice=True)
    assert conn.wait_for_state(ConnState.BACKOFF, WAIT)
    assert conn.wait_connected(WAIT)
    assert metric(registry, "ctilink_esl_disconnects_total", node="fs1", reason="disconnect_notice") == 1
    (entry,) = events_named(cap, "esl_disconnected")
    assert entry["notice"] == "The system is being shut down." and entry["reason"] == "disconnect_notice"
    assert [type(e) for e in (next_event(conn), next_event(conn))] == [Resynced, Resynced]


def test_rude_rejection_is_a_clear_acl_error_and_retried(switch: FakeSwitch, made: list) -> None:
    switch.rude_rejection(True)
    conn, cap, registry = start(made, switch.host, switch.port)
    assert conn.wait_for_state(ConnState.BACKOFF, WAIT)
    assert conn.wait_for_state(ConnState.CONNECTING, WAIT)
    assert conn.wait_for_state(ConnState.BACKOFF, WAIT)
    assert metric(registry, "ctilink_esl_connect_failures_total", node="fs1", reason="rejected") >= 2
    logged = events_named(cap, "esl_rejected_by_acl")
    assert logged and "apply-inbound-acl" in logged[0]["hint"] and "Access Denied" in logged[0]["error"]
    assert not any(c.startswith("auth") for c in switch.commands)  # never got as far as a password
    switch.rude_rejection(False)
    assert conn.wait_connected(WAIT)


def test_silence_is_detected_and_the_session_replaced(switch: FakeSwitch, made: list) -> None:
    conn, _cap, registry = start(made, switch.host, switch.port, heartbeat_timeout_s=0.3, connect_timeout_s=0.5)
    assert conn.wait_connected(WAIT)
    switch.go_silent()
    assert conn.wait_for_state(ConnState.BACKOFF, WAIT)
    assert metric(registry, "ctilink_esl_disconnects_total", node="fs1", reason="silence") == 1
    switch.resume()
    assert conn.wait_connected(WAIT)
    assert metric(registry, "ctilink_esl_reconnects_total", node="fs1") == 1
    heartbeat_marks_the_stream(switch, conn, 5)


def test_malformed_event_bodies_and_skippable_frames_are_counted_and_skipped(switch: FakeSwitch, made: list) -> None:
    conn, cap, registry = start(made, switch.host, switch.port)
    assert conn.wait_connected(WAIT)
    # Each body has the shape of its Content-Type, so its length was right: skip just that frame.
    bad_sequence = b'{"Event-Name":"HEARTBEAT","Event-Sequence":"x"}'
    switch.send_raw(b"Content-Length: %d\nContent-Type: text/event-json\n\n" % len(bad_sequence) + bad_sequence)
    switch.send_raw(b"Content-Length: 2\nContent-Type: text/event-json\n\n{}")  # no Event-Name
    switch.send_raw(b"Content-Type: text/event-json\nBroken header line\n\n")  # header without ': '
    heartbeat_marks_the_stream(switch, conn, 7)
    assert metric(registry, "ctilink_esl_malformed_frames_total", node="fs1") == 3
    assert metric(registry, "ctilink_esl_reconnects_total", node="fs1") == 0  # same session
    seen = events_named(cap, "esl_malformed_input")
    assert [e["action"] for e in seen] == ["skipped"] * 3 and "Event-Sequence" in seen[0]["sample"]
    assert conn.state is ConnState.LIVE


@pytest.mark.parametrize(
    "data",
    [
        b"Content-Length: twelve\nContent-Type: text/event-json\n\n{}",
        b"Content-Length: 5\nContent-Type: text/event-json\n\n{bad}",  # not JSON: the length lied
    ],
)
def test_desynchronised_stream_reconnects_and_resyncs(switch: FakeSwitch, made: list, data: bytes) -> None:
    conn, cap, registry = start(made, switch.host, switch.port)
    assert conn.wait_connected(WAIT)
    assert isinstance(next_event(conn), Resynced)
    switch.send_raw(data)
    assert isinstance(until(conn, Resynced), Resynced)
    assert metric(registry, "ctilink_esl_malformed_frames_total", node="fs1") == 1
    assert metric(registry, "ctilink_esl_disconnects_total", node="fs1", reason="desync") == 1
    assert events_named(cap, "esl_malformed_input")[0]["action"] == "reconnect"
    heartbeat_marks_the_stream(switch, conn, 9)


def test_full_buffer_drops_the_session_and_resyncs_after_the_consumer_catches_up(
    switch: FakeSwitch, made: list
) -> None:
    conn, cap, registry = start(made, switch.host, switch.port, buffer_size=10)
    assert conn.wait_connected(WAIT)
    for i in range(30):
        switch.emit({"Event-Name": "HEARTBEAT", "Session-Count": str(i)})
    assert conn.wait_for_state(ConnState.BACKOFF, WAIT)
    assert metric(registry, "ctilink_esl_dropped_events_total", node="fs1") >= 1
    assert events_named(cap, "esl_buffer_overflow")
    got = [next_event(conn) for _ in range(10)]
    assert isinstance(got[0], Resynced)
    assert [e.session_count for e in got[1:]] == list(range(9))  # the first nine, in order, no gap
    assert isinstance(next_event(conn), Resynced)  # then the resync of the new session
    assert conn.wait_connected(WAIT)
    assert metric(registry, "ctilink_esl_disconnects_total", node="fs1", reason="buffer_overflow") == 1


def test_lagging_consumer_does_not_block_api_replies(switch: FakeSwitch, made: list) -> None:
    conn, _, _ = start(made, switch.host, switch.port, buffer_size=1000)
    assert conn.wait_connected(WAIT)
    for i in range(500):
        switch.emit({"Event-Name": "HEARTBEAT", "Session-Count": str(i)})
    assert conn.api("status", timeout=WAIT).ok  # nobody has read a single event
    assert conn.buffer_depth >= 1


def test_requested_reconnect_resyncs(switch: FakeSwitch, made: list) -> None:
    conn, _, registry = start(made, switch.host, switch.port)
    assert conn.wait_connected(WAIT)
    assert isinstance(next_event(conn), Resynced)
    conn.reconnect()
    assert isinstance(until(conn, Resynced), Resynced)
    assert conn.wait_connected(WAIT)
    assert metric(registry, "ctilink_esl_reconnects_total", node="fs1") == 1
    assert metric(registry, "ctilink_esl_disconnects_total", node="fs1", reason="requested") == 1
