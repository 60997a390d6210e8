"""EslConnection against the fake switch over real sockets: connect, events, api, bgapi.

Every wait is on something that happens (a connection state, an event, a command the switch
received), bounded by a generous timeout; nothing sleeps to let time pass.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Iterator
from typing import Any

import gevent
import gevent.event
import pytest
import structlog
from prometheus_client import REGISTRY, CollectorRegistry
from structlog.testing import LogCapture

from ctilink.commands import Answer, Bridge, Hangup, Originate, SetVariables
from ctilink.esl.backoff import Backoff
from ctilink.esl.connection import (
    ApiResult,
    ConnState,
    EslCommandError,
    EslConnection,
    EslDisconnected,
    EslTimeout,
    JobTimeout,
    UnsafeCommandError,
)
from ctilink.esl.framing import FrameReader
from ctilink.esl.normalize import Normalizer
from ctilink.events import ChannelParked, Event, Heartbeat, JobCompleted, RawEvent, Resynced
from ctilink.testing.fake_switch import FakeSwitch
from ctilink.testing.recordings import Recordings

WAIT = 10.0  # upper bound for things that happen in milliseconds; never a pass/fail timing


@pytest.fixture
def switch() -> Iterator[FakeSwitch]:
    srv = FakeSwitch(password="ClueCon", heartbeat_interval=None, time_scale=0)
    srv.start()
    yield srv
    srv.stop()


class Harness:
    def __init__(self) -> None:
        self.conns: list[EslConnection] = []

    def connect(self, srv: FakeSwitch, **kw: Any) -> tuple[EslConnection, LogCapture, CollectorRegistry]:
        cap = LogCapture()
        registry = CollectorRegistry()
        kw.setdefault("backoff", Backoff(initial=0.02, cap=0.05, jitter=0.1))
        kw.setdefault("password", "ClueCon")
        conn = EslConnection(
            kw.pop("node", "fs1"),
            srv.host,
            srv.port,
            kw.pop("password"),
            registry=registry,
            logger=structlog.wrap_logger(structlog.PrintLogger(), processors=[cap]),
            **kw,
        )
        self.conns.append(conn)
        conn.start()
        return conn, cap, registry


@pytest.fixture
def harness() -> Iterator[Harness]:
    h = Harness()
    yield h
    for conn in h.conns:
        conn.stop()


def next_event(conn: EslConnection) -> Event:
    event = conn.get(timeout=WAIT)
    assert event is not None, "no event arrived"
    return event


def until(conn: EslConnection, kind: type) -> Event:
    """Consume events until one of ``kind`` (the skipped ones are not under test here)."""
    while True:
        event = next_event(conn)
        if isinstance(event, kind):
            return event


def metric(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


# -- connect, subscribe, events -------------------------------------------------------------


def test_connects_authenticates_subscribes_and_resyncs_first(switch: FakeSwitch, harness: Harness) -> None:
    conn, cap, registry = harness.connect(
        switch,
        events=["CHANNEL_PARK", "CHANNEL_HANGUP_COMPLETE", "sofia::register"],
        filters=[("variable_ctilink_queue", "support")],
    )
    assert conn.wait_connected(WAIT)
    assert conn.state is ConnState.LIVE
    assert switch.commands[:1] == ["auth ClueCon"]
    assert (
        switch.commands[1]
        == "event json CHANNEL_PARK CHANNEL_HANGUP_COMPLETE HEARTBEAT BACKGROUND_JOB CUSTOM sofia::register"
    )
    assert switch.commands[2:5] == [
        "filter variable_ctilink_queue support",
        "filter Event-Name HEARTBEAT",
        "filter Event-Name BACKGROUND_JOB",
    ]
    assert "api show channels as json" in switch.commands
    marker = next_event(conn)
    assert isinstance(marker, Resynced) and marker.uuids == [] and marker.node == "fs1"
    assert metric(registry, "ctilink_esl_connected", node="fs1") == 1
    assert metric(registry, "ctilink_esl_resyncs_total", node="fs1") == 1
    assert REGISTRY.get_sample_value("ctilink_esl_connected", {"node": "fs1"}) is None  # never the global one
    assert not any("ClueCon" in str(entry) for entry in cap.entries)  # the password is never logged

    # The subscription and filter are the switch's business; what passes reaches us.
    uid = switch.inbound_call("15551230001", "Alice Example", "7000", {"ctilink_queue": "support"})
    parked = until(conn, ChannelParked)
    assert parked.uuid == uid and parked.variables == {"ctilink_queue": "support"}
    assert parked.node == "fs1" and parked.core_uuid == switch.core_uuid and not parked.resync


def test_events_arrive_in_freeswitch_order(switch: FakeSwitch, harness: Harness) -> None:
    conn, _, registry = harness.connect(switch)
    assert conn.wait_connected(WAIT)
    assert isinstance(next_event(conn), Resynced)
    for i in range(300):
        switch.emit({"Event-Name": "HEARTBEAT", "Session-Count": str(i)})
    got = [next_event(conn) for _ in range(300)]
    assert all(isinstance(e, Heartbeat) for e in got)
    assert [e.session_count for e in got] == list(range(300))
    sequences = [e.sequence for e in got]
    assert sequences == sorted(sequences) and len(set(sequences)) == 300
    assert metric(registry, "ctilink_esl_events_total", node="fs1", type="Heartbeat") == 300
    assert metric(registry, "ctilink_esl_buffer_depth", node="fs1") == 0


def test_replayed_fixture_gives_the_same_events_as_decoding_the_file(
    switch: FakeSwitch, harness: Harness, recordings: Recordings
) -> None:
    expected = []
    normalizer = Normalizer("fs1")
    for frame in FrameReader().feed(recordings.json_stream("hold_transfer")):
        event = normalizer.from_frame(frame)
        if event is not None:
            expected.append(event)
    assert len(expected) == 105
    conn, _, registry = harness.connect(switch)
    assert conn.wait_connected(WAIT)
    assert isinstance(next_event(conn), Resynced)
    assert switch.replay(recordings.json_stream("hold_transfer")) == 105
    got = [next_event(conn) for _ in expected]
    assert got == expected
    assert metric(registry, "ctilink_esl_malformed_frames_total", node="fs1") == 0


def test_api_returns_the_body_and_times_the_command(switch: FakeSwitch, harness: Harness) -> None:
    conn, _, registry = harness.connect(switch)
    assert conn.wait_connected(WAIT)
    result = conn.api("status", timeout=WAIT)
    assert isinstance(result, ApiResult) and result.ok and result.verb == "status"
    assert "FreeSWITCH (Version 1.10.12-release" in result.body
    missing = conn.api("uuid_kill 119fe229-a82e-46fd-bbdf-10fa3cc78430", timeout=WAIT)
    assert not missing.ok and missing.body == "-ERR No such channel!\n"
    assert metric(registry, "ctilink_esl_command_seconds_count", node="fs1", verb="status") == 1
    assert metric(registry, "ctilink_esl_command_failures_total", node="fs1", verb="uuid_kill") == 1


def test_commands_are_rendered_and_raw_strings_with_line_breaks_are_refused(
    switch: FakeSwitch, harness: Harness
) -> None:
    conn, _, _ = harness.connect(switch)
    assert conn.wait_connected(WAIT)
    a = switch.inbound_call("15551230001", "Alice Example", "7000", answered=True)
    b = switch.inbound_call("15551230002", "Bob Example", "7000", answered=True)
    assert conn.api(Bridge(uuid=a, other_uuid=b), timeout=WAIT).body == f"+OK {b}\n"
    assert switch.commands[-1] == f"api uuid_bridge {a} {b}"
    before = list(switch.commands)
    for hostile in ("status\n\nexit", "uuid_kill x\rapi fsctl shutdown", "status\x00", "", " status"):
        with pytest.raises(UnsafeCommandError):
            conn.api(hostile, timeout=WAIT)
        with pytest.raises(UnsafeCommandError):
            conn.bgapi(hostile, timeout=WAIT)
    with pytest.raises(TypeError):
        conn.api(b"status", timeout=WAIT)  # type: ignore[arg-type]
    conn.api("status", timeout=WAIT)  # a later command proves nothing else was written
    assert switch.commands[len(before) :] == ["api status"]


def test_bgapi_job_completes_with_its_background_job(switch: FakeSwitch, harness: Harness) -> None:
    conn, _, registry = harness.connect(switch)
    assert conn.wait_connected(WAIT)
    leg, job = str(uuidlib.uuid4()), str(uuidlib.uuid4())
    cmd = Originate(
        uuid=leg,
        dial_string="sofia/external/agent1001@127.0.0.1:5090",
        job_uuid=job,
        variables={"ctilink_role": "agent"},
    )
    handle = conn.bgapi(cmd, timeout=WAIT)
    assert handle.job_uuid == job
    done = handle.wait(WAIT)
    assert isinstance(done, JobCompleted) and done.job_uuid == job and done.ok and done.body == f"+OK {leg}\n"
    sent = switch.wait_for_command(lambda t: t.startswith("bgapi originate"), WAIT)
    assert f"origination_uuid={leg}" in sent
    # The job's event also reaches the consumer: the core correlates it too.
    assert until(conn, JobCompleted).job_uuid == job

    # A raw bgapi gets a fresh Job-UUID; a failed job is a JobCompleted with ok=False.
    failed = conn.bgapi("uuid_kill 119fe229-a82e-46fd-bbdf-10fa3cc78430", timeout=WAIT).wait(WAIT)
    assert not failed.ok and failed.body.startswith("-ERR")
    assert metric(registry, "ctilink_esl_command_failures_total", node="fs1", verb="uuid_kill") == 1


def test_bgapi_job_timeout_is_typed_and_the_job_can_still_complete(switch: FakeSwitch, harness: Harness) -> None:
    release = gevent.event.Event()

    def slow(args: str) -> str:
        release.wait()
        return "+OK finally\n"

    switch.set_api_handler("ctilink_slow", slow)
    conn, _, _ = harness.connect(switch)
    assert conn.wait_connected(WAIT)
    handle = conn.bgapi("ctilink_slow", timeout=WAIT)
    with pytest.raises(JobTimeout) as info:
        handle.wait(0.05)
    assert info.value.job_uuid == handle.job_uuid and not handle.done()
    release.set()
    assert handle.wait(WAIT).body == "+OK finally\n"


def test_api_timeout_keeps_replies_matched_to_their_commands(switch: FakeSwitch, harness: Harness) -> None:
    release = gevent.event.Event()

    def slow(args: str) -> str:
        release.wait()
        return "late answer\n"

    switch.set_api_handler("ctilink_slow", slow)
    conn, _, registry = harness.connect(switch)
    assert conn.wait_connected(WAIT)
    with pytest.raises(EslTimeout):
        conn.api("ctilink_slow", timeout=0.05)
    assert metric(registry, "ctilink_esl_command_failures_total", node="fs1", verb="ctilink_slow") == 1
    release.set()
    # The late reply belongs to the abandoned call; the next call gets its own.
    assert conn.api("uuid_exists nobody", timeout=WAIT).body == "false"


def test_a_job_uuid_already_in_flight_is_refused(switch: FakeSwitch, harness: Harness) -> None:
    release = gevent.event.Event()
    switch.set_api_handler("originate", lambda args: release.wait() and "+OK\n")
    conn, _, _ = harness.connect(switch)
    assert conn.wait_connected(WAIT)
    job = str(uuidlib.uuid4())

    def originate() -> Originate:
        return Originate(uuid=str(uuidlib.uuid4()), dial_string="sofia/external/x@127.0.0.1:5090", job_uuid=job)

    first = conn.bgapi(originate(), timeout=WAIT)
    sent = len(switch.commands)
    with pytest.raises(EslCommandError, match="already in flight"):
        conn.bgapi(originate(), timeout=WAIT)
    assert len(switch.commands) == sent  # refused before anything was written
    release.set()
    assert first.wait(WAIT).job_uuid == job


def test_commands_before_connecting_fail_fast(harness: Harness) -> None:
    conn = EslConnection("fs9", "127.0.0.1", 9, "pw", registry=CollectorRegistry(), backoff=Backoff(initial=5, cap=5))
    with pytest.raises(EslDisconnected):
        conn.api("status")
    with pytest.raises(EslDisconnected):
        conn.bgapi("status")


def test_pending_calls_and_jobs_fail_with_disconnected_when_the_session_ends(
    switch: FakeSwitch, harness: Harness
) -> None:
    release = gevent.event.Event()

    def stuck(args: str) -> str:
        release.wait()
        return "+OK\n"

    switch.set_api_handler("ctilink_stuck", stuck)
    conn, _, registry = harness.connect(switch)
    assert conn.wait_connected(WAIT)
    job = conn.bgapi("ctilink_stuck job", timeout=WAIT)
    call = gevent.spawn(conn.api, "ctilink_stuck call", WAIT)
    switch.wait_for_command(lambda t: t == "api ctilink_stuck call", WAIT)
    switch.disconnect(notice=False)
    with pytest.raises(EslDisconnected):
        call.get(timeout=WAIT)
    with pytest.raises(EslDisconnected):
        job.wait(WAIT)
    release.set()
    assert metric(registry, "ctilink_esl_command_failures_total", node="fs1", verb="ctilink_stuck") == 2
    assert conn.wait_connected(WAIT)  # and the connection carries on with a new session


def test_stop_ends_the_event_stream_and_says_exit(switch: FakeSwitch, harness: Harness) -> None:
    conn, _, registry = harness.connect(switch)
    assert conn.wait_connected(WAIT)
    switch.emit({"Event-Name": "HEARTBEAT"})
    reader = gevent.spawn(lambda: list(conn.events()))
    switch.wait_for_command(lambda t: t == "api show channels as json", WAIT)
    conn.stop()
    events = reader.get(timeout=WAIT)
    assert isinstance(events[0], Resynced)
    assert conn.state is ConnState.STOPPED and not conn.connected
    assert switch.commands[-1] == "exit"
    assert conn.get(timeout=0) is None  # and it stays ended
    assert metric(registry, "ctilink_esl_connected", node="fs1") == 0
    with pytest.raises(EslDisconnected):
        conn.api("status")


def test_raw_events_are_delivered_not_dropped(switch: FakeSwitch, harness: Harness) -> None:
    conn, _, registry = harness.connect(switch)
    assert conn.wait_connected(WAIT)
    switch.emit({"Event-Name": "CUSTOM", "Event-Subclass": "callcenter::info", "CC-Action": "agent-offering"})
    raw = until(conn, RawEvent)
    assert raw.event_name == "CUSTOM" and raw.subclass == "callcenter::info"
    assert metric(registry, "ctilink_esl_events_total", node="fs1", type="RawEvent") == 1


def test_several_nodes_share_one_registry(switch: FakeSwitch, harness: Harness) -> None:
    registry = CollectorRegistry()
    a = EslConnection("a", switch.host, switch.port, "ClueCon", registry=registry)
    b = EslConnection("b", switch.host, switch.port, "ClueCon", registry=registry)
    harness.conns += [a, b]
    a.start()
    b.start()
    assert a.wait_connected(WAIT) and b.wait_connected(WAIT)
    assert metric(registry, "ctilink_esl_connected", node="a") == 1
    assert metric(registry, "ctilink_esl_connected", node="b") == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"events": ["CHANNEL_CREATE\nfoo"]}, "neither an event name"),
        ({"events": ["channel create"]}, "neither an event name"),
        ({"filters": [("Event-Name", "X\nY")]}, "has CR/LF"),
        ({"filters": [("bad header", "x")]}, "not a header name"),
        ({"event_format": "xml"}, "event_format"),
        ({"buffer_size": 0}, "buffer_size"),
        ({"heartbeat_timeout_s": 0}, "heartbeat_timeout_s"),
    ],
)
def test_bad_configuration_is_refused_with_a_clear_error(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EslConnection("fs1", "127.0.0.1", 8021, "ClueCon", **kwargs)
    with pytest.raises(ValueError, match="CR/LF"):
        EslConnection("fs1", "127.0.0.1", 8021, "ClueCon\nevent plain ALL")


def test_send_pipelines_commands_in_order_without_waiting_for_replies(switch: FakeSwitch, harness: Harness) -> None:
    conn, _cap, registry = harness.connect(switch)
    assert conn.wait_connected(5)
    caller = switch.inbound_call("15551230001", "Alice", "7000", {"ctilink_queue": "support"})
    agent, job = str(uuidlib.uuid4()), str(uuidlib.uuid4())
    commands = [
        SetVariables(uuid=caller, variables={"ctilink_call_id": "c-1"}),
        Answer(uuid=caller),
        Originate(uuid=agent, job_uuid=job, dial_string="user/1001", variables={"ctilink_role": "agent"}),
        Hangup(uuid=str(uuidlib.uuid4())),  # no such channel: refused, and nothing else is disturbed
    ]
    pending = [conn.send(c) for c in commands]  # all written before any reply is read
    gevent.joinall(pending, timeout=5)
    sent = [t for t in switch.commands if t.startswith(("api uuid_", "bgapi originate"))]
    assert [t.split()[1] for t in sent] == ["uuid_setvar", "uuid_answer", "originate", "uuid_kill"]
    results = [p.get(timeout=1) for p in pending]
    assert results[0].ok and results[1].ok and not results[3].ok
    handle = results[2]
    assert handle.job_uuid == job
    assert handle.wait(5).body.startswith("+OK")
    # A -ERR reply counts as a failed command, as with api().
    assert registry.get_sample_value("ctilink_esl_command_failures_total", {"node": "fs1", "verb": "uuid_kill"}) == 1.0
