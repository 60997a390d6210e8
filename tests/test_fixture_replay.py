"""Replay the recorded FreeSWITCH 1.10.12 traffic through FrameReader + Normalizer.

Counts and values asserted here come from the recordings' README and the recordings themselves.
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctilink.esl.framing import Frame, FrameReader
from ctilink.esl.normalize import Normalizer
from ctilink.events import (
    ChannelAnswered,
    ChannelBridged,
    ChannelCreated,
    ChannelHeld,
    ChannelHungUp,
    ChannelParked,
    ChannelProgress,
    ChannelUnheld,
    DtmfReceived,
    EndpointExpired,
    EndpointRegistered,
    EndpointUnregistered,
    Event,
    Heartbeat,
    JobCompleted,
    MachineDetected,
    RawEvent,
    SwitchShutdown,
)
from ctilink.testing.recordings import Recordings

# Read lazily: constructing the reader opens no file.
RECORDINGS = Recordings(Path(__file__).resolve().parent / "fixtures" / "esl")


# Events per scenario, from the fixtures README.
EVENT_COUNTS = {
    "inbound_queue_answered": 81,
    "inbound_abandon": 79,
    "agent_busy": 56,
    "agent_no_answer": 60,
    "outbound_preview": 68,
    "register_unregister": 26,
    "dtmf": 46,
    "hold_transfer": 105,
    "api_responses": 201,
    "callcenter": 107,
    "avmd_beep": 76,
    "heartbeat_shutdown": 266,
    "load_burst": 2702,
}
SCENARIOS = sorted(EVENT_COUNTS)


@cache
def decoded(scenario: str, kind: str) -> tuple[tuple[Frame, ...], tuple[Event, ...], Counter[str]]:
    data = RECORDINGS.json_stream(scenario) if kind == "json" else RECORDINGS.plain_stream(scenario)
    reader = FrameReader()
    frames = reader.feed(data)
    assert reader.buffered == 0, "every byte belongs to a frame"
    norm = Normalizer("fs-node-1")
    events = tuple(e for e in (norm.from_frame(f) for f in frames) if e is not None)
    return tuple(frames), events, norm.raw_counts


def events(scenario: str, kind: str = "json") -> tuple[Event, ...]:
    return decoded(scenario, kind)[1]


def of(scenario: str, cls: type, kind: str = "json") -> list:
    return [e for e in events(scenario, kind) if type(e) is cls]


def test_every_scenario_is_present() -> None:
    assert RECORDINGS.scenarios() == SCENARIOS


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("kind", ["json", "plain"])
def test_every_event_is_decoded_typed_and_valid(scenario: str, kind: str) -> None:
    frames, evs, raw = decoded(scenario, kind)
    assert len(evs) == EVENT_COUNTS[scenario]
    event_type = "text/event-json" if kind == "json" else "text/event-plain"
    assert sum(f.content_type == event_type for f in frames) == EVENT_COUNTS[scenario]
    assert frames[0].content_type == "auth/request"
    assert frames[-1].content_type == "text/disconnect-notice"
    assert sum(isinstance(e, RawEvent) for e in evs) == sum(raw.values())
    for event in evs[:: 7 if scenario == "load_burst" else 1]:
        assert event.node == "fs-node-1"
        assert event.core_uuid == "6e3f189d-0920-4734-a335-e58e977985b0"
        assert event.timestamp > 1.7e9 and event.sequence is not None
        assert type(event).model_validate(event.model_dump()) == event


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_each_controller_record_is_exactly_one_frame(scenario: str) -> None:
    for record in RECORDINGS.controller_records(scenario):
        if record.dir != "recv":
            continue
        reader = FrameReader()
        (frame,) = reader.feed(record.data)
        assert reader.buffered == 0
        assert frame.body == record.data[record.data.index(b"\n\n") + 2 :]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_plain_and_json_give_the_same_typed_events(scenario: str) -> None:
    plain = events(scenario, "plain")
    json = events(scenario, "json")
    assert [e.sequence for e in plain] == [e.sequence for e in json]
    by_sequence: dict[int | None, list[Event]] = {}
    for event in json:
        by_sequence.setdefault(event.sequence, []).append(event)
    for event in plain:
        # avmd fires some events twice with one Event-Sequence: match those in order.
        assert event == by_sequence[event.sequence].pop(0)


def hangups(scenario: str) -> dict[str, ChannelHungUp]:
    return {e.uuid: e for e in of(scenario, ChannelHungUp)}


def agent_uuid(job: JobCompleted) -> str:
    assert job.command_args is not None
    return job.command_args.split("origination_uuid=", 1)[1].split(",", 1)[0]


def test_inbound_queue_answered() -> None:
    sc = "inbound_queue_answered"
    (job,) = of(sc, JobCompleted)
    agent = agent_uuid(job)
    assert job.ok and job.body == f"+OK {agent}\n"
    parks = of(sc, ChannelParked)
    caller = parks[0].uuid
    assert parks[0].caller_number == "15551230001" and parks[0].caller_name == "Alice Example"
    assert parks[0].variables == {"ctilink_queue": "support", "ctilink_ivr_choice": "2"}
    assert [p.uuid for p in parks] == [caller, agent]
    assert [a.uuid for a in of(sc, ChannelAnswered)] == [caller, agent]
    agent_answer = of(sc, ChannelAnswered)[1]
    assert agent_answer.variables == {
        "ctilink_call_id": agent_answer.variables["ctilink_call_id"],
        "ctilink_role": "agent",
        "ctilink_agent_id": "1001",
    }
    (bridge,) = of(sc, ChannelBridged)
    assert (bridge.uuid, bridge.other_uuid) == (caller, agent)
    ends = hangups(sc)
    assert set(ends) == {caller, agent}
    assert {e.cause for e in ends.values()} == {"NORMAL_CLEARING"}
    assert ends[caller].sip_code == 200 and ends[caller].answered_at is not None
    assert ends[agent].other_uuid == caller


def test_inbound_abandon() -> None:
    sc = "inbound_abandon"
    first, second = of(sc, ChannelParked)
    assert (first.caller_number, second.caller_number) == ("15551230002", "15551230003")
    ends = hangups(sc)
    assert ends[first.uuid].cause == "NORMAL_CLEARING" and ends[first.uuid].answered_at is not None
    assert ends[second.uuid].cause == "ORIGINATOR_CANCEL" and ends[second.uuid].answered_at is None
    assert [a.uuid for a in of(sc, ChannelAnswered)] == [first.uuid]
    assert [(p.uuid, p.media) for p in of(sc, ChannelProgress)] == [(first.uuid, True), (second.uuid, True)]


@pytest.mark.parametrize(
    ("sc", "cause", "code"), [("agent_busy", "USER_BUSY", 486), ("agent_no_answer", "NO_ANSWER", None)]
)
def test_agent_busy_and_no_answer(sc: str, cause: str, code: int | None) -> None:
    (job,) = of(sc, JobCompleted)
    assert job.body == f"-ERR {cause}\n" and not job.ok
    ends = hangups(sc)
    agent = ends[agent_uuid(job)]
    assert agent.cause == cause and agent.sip_code == code and agent.answered_at is None
    assert agent.variables["ctilink_role"] == "agent"
    (park,) = of(sc, ChannelParked)
    assert ends[park.uuid].cause == "NORMAL_CLEARING"
    assert len(of(sc, ChannelAnswered)) == 1


def test_outbound_preview() -> None:
    sc = "outbound_preview"
    customer_job, agent_job = of(sc, JobCompleted)
    customer, agent = agent_uuid(customer_job), agent_uuid(agent_job)
    answers = of(sc, ChannelAnswered)
    assert [a.uuid for a in answers] == [customer, agent]
    assert answers[0].variables["ctilink_role"] == "customer"
    assert answers[0].caller_number == "15550100" and answers[0].caller_name == "ACME"
    assert answers[0].direction == "outbound"
    (bridge,) = of(sc, ChannelBridged)
    assert (bridge.uuid, bridge.other_uuid) == (customer, agent)
    assert {e.cause for e in hangups(sc).values()} == {"NORMAL_CLEARING"}


def test_register_unregister() -> None:
    sc = "register_unregister"
    registered = of(sc, EndpointRegistered)
    (unregistered,) = of(sc, EndpointUnregistered)
    (expired,) = of(sc, EndpointExpired)
    assert [(r.endpoint, r.network_port, r.expires) for r in registered] == [
        ("1001@127.0.0.1", 5072, 300),
        ("1001@127.0.0.1", 5073, 5),
    ]
    assert registered[0].user_agent == "fixture-softphone/1.0" and registered[0].profile == "internal"
    assert (unregistered.endpoint, unregistered.expires, unregistered.call_id) == (
        "1001@127.0.0.1",
        0,
        registered[0].call_id,
    )
    assert (expired.endpoint, expired.call_id) == ("1001@127.0.0.1", registered[1].call_id)
    assert len(of(sc, Heartbeat)) == 5
    assert decoded(sc, "json")[2]["sofia::register_attempt"] == 3


def test_dtmf() -> None:
    sc = "dtmf"
    digits = of(sc, DtmfReceived)
    assert [d.digit for d in digits] == ["1", "2", "#", "5", "9"]
    assert [d.source for d in digits] == ["APP"] * 3 + ["ENDPOINT"] * 2
    assert [d.duration_ms for d in digits] == [250.0] * 3 + [160.0] * 2
    (park,) = of(sc, ChannelParked)
    assert {d.uuid for d in digits} == {park.uuid}
    infos = [e for e in events(sc) if isinstance(e, RawEvent) and e.event_name == "RECV_INFO"]
    assert [(i.uuid, i.body) for i in infos] == [
        (park.uuid, "Signal=5\r\nDuration=160\r\n"),
        (park.uuid, "Signal=9\r\nDuration=160\r\n"),
    ]


def test_hold_transfer() -> None:
    sc = "hold_transfer"
    (job,) = of(sc, JobCompleted)
    agent = agent_uuid(job)
    (held,) = of(sc, ChannelHeld)
    (unheld,) = of(sc, ChannelUnheld)
    assert held.uuid == agent == unheld.uuid
    assert held.timestamp < unheld.timestamp
    parks = of(sc, ChannelParked)
    assert len(parks) == 3
    assert parks[-1].uuid == parks[0].uuid and parks[-1].destination_number == "9999"
    assert {e.cause for e in hangups(sc).values()} == {"NORMAL_CLEARING"}


def test_api_responses_background_jobs() -> None:
    bodies = Counter(j.body.split(" ")[0] if j.ok else j.body for j in of("api_responses", JobCompleted))
    assert bodies == {"+OK": 2, "-ERR NORMAL_TEMPORARY_FAILURE\n": 1, "-ERR No such channel!\n": 1}
    assert len(of("api_responses", ChannelBridged)) == 2


def test_callcenter_info_events_are_counted_raw() -> None:
    raw = decoded("callcenter", "json")[2]
    assert raw["callcenter::info"] == 18
    assert len(of("callcenter", ChannelBridged)) == 1


def test_avmd_beep() -> None:
    sc = "avmd_beep"
    (job,) = of(sc, JobCompleted)
    customer = agent_uuid(job)
    beeps = of(sc, MachineDetected)
    assert len(beeps) == 2 and beeps[0].sequence == beeps[1].sequence
    assert {(b.uuid, b.result, b.source, b.beep) for b in beeps} == {(customer, "machine", "avmd", True)}
    assert beeps[1].variables["ctilink_role"] == "customer"
    raw = decoded(sc, "json")[2]
    assert (raw["avmd::start"], raw["avmd::stop"]) == (2, 2)


def test_heartbeat_shutdown() -> None:
    sc = "heartbeat_shutdown"
    frames, _evs, raw = decoded(sc, "json")
    (beat,) = of(sc, Heartbeat)
    (down,) = of(sc, SwitchShutdown)
    assert beat.session_count == 0 and beat.up_time_s == pytest.approx(219.561)
    assert beat.timestamp < down.timestamp
    assert raw["MODULE_UNLOAD"] == 260
    assert frames[-1].body == b"The system is being shut down.\n"


def test_load_burst() -> None:
    sc = "load_burst"
    assert len(of(sc, ChannelCreated)) == len(of(sc, ChannelParked)) == 100
    ends = of(sc, ChannelHungUp)
    assert len(ends) == 100 and {e.cause for e in ends} == {"NORMAL_CLEARING"}
    assert {e.caller_number for e in ends} == {f"155512{40001 + i}" for i in range(100)}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scenario=st.sampled_from(["dtmf", "register_unregister", "agent_busy"]),
    kind=st.sampled_from(["json", "plain"]),
    sizes=st.lists(st.integers(min_value=1, max_value=9000), min_size=1, max_size=40),
)
def test_random_chunking_gives_identical_frames(scenario: str, kind: str, sizes: list[int]) -> None:
    data = RECORDINGS.json_stream(scenario) if kind == "json" else RECORDINGS.plain_stream(scenario)
    reader = FrameReader()
    frames: list[Frame] = []
    pos = 0
    i = 0
    while pos < len(data):
        size = sizes[i % len(sizes)]
        frames.extend(reader.feed(data[pos : pos + size]))
        pos += size
        i += 1
    assert tuple(frames) == decoded(scenario, kind)[0]
    assert reader.buffered == 0
