"""Frames whose length lies, over a real socket: the session must notice, reconnect and resync.

Each case once left the session connected but blind (every later event lost, no reconnect, and
the bytes kept the old byte-based silence watchdog quiet). Now each must end the session as a
desync, and an event sent after the new session's resync must arrive.

Waits are on connection states and delivered events, bounded by ``WAIT`` as a guard; nothing
sleeps to let time pass and no assertion depends on how long something took.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog
from prometheus_client import CollectorRegistry
from structlog.testing import LogCapture

from ctilink.esl.backoff import Backoff
from ctilink.esl.connection import ConnState, EslConnection, EslDisconnected
from ctilink.events import Event, Heartbeat, Resynced
from ctilink.testing import esl_wire
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
    made: list[EslConnection], switch: FakeSwitch, **kw: Any
) -> tuple[EslConnection, LogCapture, CollectorRegistry]:
    cap = LogCapture()
    registry = CollectorRegistry()
    kw.setdefault("backoff", Backoff(initial=0.02, cap=0.05, jitter=0.1, rng=random.Random(3)))
    conn = EslConnection(
        "fs1",
        switch.host,
        switch.port,
        "ClueCon",
        registry=registry,
        logger=structlog.wrap_logger(structlog.PrintLogger(), processors=[cap]),
        **kw,
    )
    made.append(conn)
    conn.start()
    assert conn.wait_connected(WAIT)
    assert isinstance(next_event(conn), Resynced)
    return conn, cap, registry


def metric(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def next_event(conn: EslConnection) -> Event:
    event = conn.get(timeout=WAIT)
    assert event is not None, "no event arrived: the session is blind"
    return event


def until_resynced(conn: EslConnection) -> None:
    while not isinstance(next_event(conn), Resynced):
        pass


def a_later_event_arrives(switch: FakeSwitch, conn: EslConnection, mark: int) -> None:
    switch.emit({"Event-Name": "HEARTBEAT", "Session-Count": str(mark)})
    while True:
        event = next_event(conn)
        if isinstance(event, Heartbeat) and event.session_count == mark:
            return


def heartbeat_body(fmt: str, mark: int) -> bytes:
    headers = {
        "Event-Name": "HEARTBEAT",
        "Core-UUID": "6e3f189d-0920-4734-a335-e58e977985b0",
        "Event-Date-Timestamp": str(int(time.time() * 1_000_000)),
        "Event-Sequence": str(5000 + mark),
        "Session-Count": str(mark),
    }
    if fmt == "json":
        return esl_wire.event_json_body(headers, None)
    return esl_wire.event_plain_body(headers, None)


def with_length(fmt: str, length: bytes | None, body: bytes) -> bytes:
    head = b"" if length is None else b"Content-Length: " + length + b"\n"
    return head + b"Content-Type: text/event-" + fmt.encode() + b"\n\n" + body


def _no_content_length(fmt: str) -> bytes:
    return with_length(fmt, None, heartbeat_body(fmt, 1))


def _too_small(fmt: str) -> bytes:
    body = heartbeat_body(fmt, 1)
    return with_length(fmt, str(len(body) - 9).encode(), body)


def _too_large(fmt: str) -> bytes:
    # The missing 60 bytes are taken from the events that follow, as a real stream would.
    body = heartbeat_body(fmt, 1)
    return with_length(fmt, str(len(body) + 60).encode(), body)


def _one_billion(fmt: str) -> bytes:
    return with_length(fmt, b"1000000000", heartbeat_body(fmt, 1))


def _twelve_digits(fmt: str) -> bytes:
    return with_length(fmt, b"999999999999", heartbeat_body(fmt, 1))


def _garbage_without_blank_line(fmt: str) -> bytes:
    return b"\x16\x03\x01\x02\x00 not an event socket frame at all, and no blank line \xff\xfe"


LYING: dict[str, Callable[[str], bytes]] = {
    "no_content_length": _no_content_length,
    "content_length_too_small": _too_small,
    "content_length_too_large": _too_large,
    "content_length_1000000000": _one_billion,
    "content_length_12_digits": _twelve_digits,
    "garbage_without_blank_line": _garbage_without_blank_line,
}


@pytest.mark.parametrize("fmt", ["json", "plain"])
@pytest.mark.parametrize("case", sorted(LYING))
def test_a_frame_whose_length_lies_ends_the_session_and_a_later_event_arrives(
    switch: FakeSwitch, made: list[EslConnection], case: str, fmt: str
) -> None:
    conn, cap, registry = start(made, switch, event_format=fmt)
    switch.send_raw(LYING[case](fmt))
    # The switch goes on sending events on the old session, as a live node does.
    for mark in range(10, 13):
        switch.emit({"Event-Name": "HEARTBEAT", "Session-Count": str(mark)})
    until_resynced(conn)
    assert conn.wait_connected(WAIT)
    a_later_event_arrives(switch, conn, 99)
    assert metric(registry, "ctilink_esl_disconnects_total", node="fs1", reason="desync") == 1
    assert metric(registry, "ctilink_esl_reconnects_total", node="fs1") == 1
    logged = [e for e in cap.entries if e["event"] == "esl_malformed_input" and e["action"] == "reconnect"]
    assert len(logged) == 1


def _partial_frame_trickle() -> Iterator[bytes]:
    # A body that never completes: every byte looks like progress, none is an event.
    yield b'Content-Length: 100000\nContent-Type: text/event-json\n\n{"Event-Name":"HEARTBEAT"'
    while True:
        yield b" "


def _heartbeat_ish_frames() -> Iterator[bytes]:
    # Whole frames, each skipped (bad header line; a HEARTBEAT the normalizer refuses): the
    # stream stays in sync, but nothing valid arrives.
    bad_sequence = b'{"Event-Name":"HEARTBEAT","Event-Sequence":"not-a-number"}'
    while True:
        yield b"Content-Type: text/event-json\nHeartbeat-ish header line\n\n"
        yield b"Content-Length: %d\nContent-Type: text/event-json\n\n" % len(bad_sequence) + bad_sequence


@pytest.mark.parametrize("noise", [_partial_frame_trickle, _heartbeat_ish_frames], ids=["partial", "skipped"])
def test_bytes_that_are_no_valid_event_do_not_feed_the_silence_watchdog(
    switch: FakeSwitch, made: list[EslConnection], noise: Callable[[], Iterator[bytes]]
) -> None:
    conn, _cap, registry = start(made, switch, heartbeat_timeout_s=0.5, connect_timeout_s=2.0)
    chunks = noise()
    deadline = time.monotonic() + WAIT
    # Noise far more often than heartbeat_timeout_s; the short wait paces it, the deadline guards.
    while not conn.wait_for_state(ConnState.BACKOFF, 0.05):
        assert time.monotonic() < deadline, "noise kept the silence watchdog quiet"
        switch.send_raw(next(chunks))
    assert metric(registry, "ctilink_esl_disconnects_total", node="fs1", reason="silence") == 1
    until_resynced(conn)
    a_later_event_arrives(switch, conn, 42)


def inject_before_reply(switch: FakeSwitch, prefix: str, data: bytes) -> None:
    """Write ``data`` before the switch answers the first command starting with ``prefix``."""
    fired = False

    def hook(line: str) -> None:
        nonlocal fired
        if not fired and line.startswith(prefix):
            fired = True
            switch.send_raw(data)

    switch.on_command.append(hook)


@pytest.mark.parametrize(
    ("command", "orphan"),
    [
        # An api command is answered by api/response; a +OK command/reply belongs to no api.
        ("api", esl_wire.command_reply("+OK accepted")),
        # A bgapi reply names its job: another Job-UUID is not ours.
        ("bgapi", esl_wire.command_reply("+OK Job-UUID: 0000-not-ours", [("Job-UUID", "0000-not-ours")])),
    ],
)
def test_a_reply_that_belongs_to_no_pending_command_is_a_desync(
    switch: FakeSwitch, made: list[EslConnection], command: str, orphan: bytes
) -> None:
    conn, _cap, registry = start(made, switch)
    inject_before_reply(switch, f"{command} status", orphan)
    # The pending command must fail, not be handed the orphan (which would shift every later
    # reply onto the wrong command).
    with pytest.raises(EslDisconnected):
        if command == "api":
            conn.api("status", timeout=WAIT)
        else:
            conn.bgapi("status", timeout=WAIT)
    until_resynced(conn)
    a_later_event_arrives(switch, conn, 7)
    assert conn.api("status", timeout=WAIT).body.startswith("UP ")  # replies line up again
    assert metric(registry, "ctilink_esl_disconnects_total", node="fs1", reason="desync") == 1


def test_a_reply_when_no_command_is_outstanding_is_a_desync(switch: FakeSwitch, made: list[EslConnection]) -> None:
    conn, _cap, registry = start(made, switch)
    switch.send_raw(esl_wire.api_response("+OK\n"))
    until_resynced(conn)
    a_later_event_arrives(switch, conn, 8)
    assert metric(registry, "ctilink_esl_disconnects_total", node="fs1", reason="desync") == 1
