"""Normalizer: header dicts and event bodies -> typed events, field by field, and its typed errors."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson
import pytest

from ctilink.esl.framing import Frame
from ctilink.esl.normalize import EventDecodeError, Normalizer, parse_json, parse_plain
from ctilink.events import (
    ChannelAnswered,
    ChannelBridged,
    ChannelCreated,
    ChannelHeld,
    ChannelHungUp,
    ChannelParked,
    ChannelProgress,
    ChannelUnbridged,
    ChannelUnheld,
    ChannelUnparked,
    DtmfReceived,
    EndpointExpired,
    EndpointRegistered,
    EndpointUnregistered,
    Event,
    ExecuteComplete,
    Heartbeat,
    JobCompleted,
    MachineDetected,
    RawEvent,
    SwitchShutdown,
)

UUID = "7952e3ad-604a-481d-8444-faab4f52733f"
OTHER = "fb7ceee2-7c9b-4407-b9f5-172452f8ce39"
CORE = "6e3f189d-0920-4734-a335-e58e977985b0"


def base(name: str, **extra: Any) -> dict[str, Any]:
    headers = {
        "Event-Name": name,
        "Core-UUID": CORE,
        "Event-Date-Timestamp": "1795372342866540",
        "Event-Sequence": "913",
    }
    headers.update(extra)
    return headers


def channel(name: str, **extra: Any) -> dict[str, Any]:
    return base(
        name,
        **{
            "Unique-ID": UUID,
            "Call-Direction": "inbound",
            "Channel-Name": "sofia/external/15551230007@127.0.0.1:5070",
            "Caller-Caller-ID-Number": "15551230007",
            "Caller-Caller-ID-Name": "Grace Example",
            "Caller-Destination-Number": "7001",
            "Channel-State": "CS_EXECUTE",
            "Answer-State": "answered",
            "variable_ctilink_queue": "support",
            "variable_ctilink_call_id": "c-1",
            "variable_sip_from_user": "15551230007",
            **extra,
        },
    )


def valid(event: Event) -> Event:
    """Events are built without a validation pass: hold them to what validation would give."""
    assert set(event.__dict__) == set(type(event).model_fields)
    assert type(event).model_validate(event.model_dump()) == event
    return event


def plain_body(headers: dict[str, Any], body: str | None = None) -> bytes:
    lines = []
    for key, value in headers.items():
        if isinstance(value, list):
            value = "ARRAY::" + "|:".join(value)
        lines.append(f"{key}: {quote(value, safe='')}\n")
    if body is not None:
        lines.append(f"Content-Length: {len(body.encode())}\n")
    return ("".join(lines) + "\n" + (body or "")).encode()


def json_body(headers: dict[str, Any], body: str | None = None) -> bytes:
    obj = dict(headers)
    if body is not None:
        obj["Content-Length"] = str(len(body.encode()))
        obj["_body"] = body
    return orjson.dumps(obj)


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("CHANNEL_CREATE", ChannelCreated),
        ("CHANNEL_ANSWER", ChannelAnswered),
        ("CHANNEL_PARK", ChannelParked),
        ("CHANNEL_UNPARK", ChannelUnparked),
        ("CHANNEL_BRIDGE", ChannelBridged),
        ("CHANNEL_UNBRIDGE", ChannelUnbridged),
        ("CHANNEL_HOLD", ChannelHeld),
        ("CHANNEL_UNHOLD", ChannelUnheld),
    ],
)
def test_channel_events_carry_identity_parties_and_ctilink_variables(name: str, cls: type) -> None:
    event = valid(Normalizer("fs1").from_headers(channel(name)))
    assert type(event) is cls
    assert event.node == "fs1" and event.core_uuid == CORE
    assert event.timestamp == pytest.approx(1795372342.866540)
    assert event.sequence == 913
    assert event.uuid == UUID
    assert event.direction == "inbound"
    assert event.caller_number == "15551230007"
    assert event.caller_name == "Grace Example"
    assert event.destination_number == "7001"
    assert event.channel_state == "CS_EXECUTE"
    assert event.answer_state == "answered"
    assert event.variables == {"ctilink_queue": "support", "ctilink_call_id": "c-1"}
    assert event.resync is False


def test_other_leg_from_other_leg_header_or_bridge_headers() -> None:
    norm = Normalizer("fs1")
    assert norm.from_headers(channel("CHANNEL_BRIDGE", **{"Other-Leg-Unique-ID": OTHER})).other_uuid == OTHER
    b_side = channel("CHANNEL_BRIDGE", **{"Bridge-A-Unique-ID": UUID, "Bridge-B-Unique-ID": OTHER})
    assert norm.from_headers(b_side).other_uuid == OTHER
    a_side = channel("CHANNEL_BRIDGE", **{"Unique-ID": OTHER, "Bridge-A-Unique-ID": UUID, "Bridge-B-Unique-ID": OTHER})
    assert norm.from_headers(a_side).other_uuid == UUID


def test_progress_and_progress_media() -> None:
    norm = Normalizer("fs1")
    ringing = valid(norm.from_headers(channel("CHANNEL_PROGRESS")))
    early = valid(norm.from_headers(channel("CHANNEL_PROGRESS_MEDIA")))
    assert isinstance(ringing, ChannelProgress) and ringing.media is False
    assert isinstance(early, ChannelProgress) and early.media is True


def test_unknown_direction_becomes_none() -> None:
    assert Normalizer("n").from_headers(channel("CHANNEL_PARK", **{"Call-Direction": "sideways"})).direction is None


def test_execute_complete() -> None:
    event = valid(
        Normalizer("n").from_headers(
            channel(
                "CHANNEL_EXECUTE_COMPLETE",
                Application="playback",
                **{"Application-Data": "local_stream://moh", "Application-Response": "FILE PLAYED"},
            )
        )
    )
    assert isinstance(event, ExecuteComplete)
    assert (event.application, event.application_data, event.response) == (
        "playback",
        "local_stream://moh",
        "FILE PLAYED",
    )


def test_dtmf_duration_is_converted_from_8khz_samples() -> None:
    event = valid(
        Normalizer("n").from_headers(
            channel("DTMF", **{"DTMF-Digit": "#", "DTMF-Duration": "2000", "DTMF-Source": "APP"})
        )
    )
    assert isinstance(event, DtmfReceived)
    assert (event.digit, event.duration_ms, event.source) == ("#", 250.0, "APP")


def test_hangup_cause_sip_code_epochs_and_durations() -> None:
    headers = channel(
        "CHANNEL_HANGUP_COMPLETE",
        **{
            "Hangup-Cause": "USER_BUSY",
            "variable_sip_term_status": "486",
            "Caller-Channel-Created-Time": "1795372215326530",
            "Caller-Channel-Answered-Time": "0",
            "Caller-Channel-Hangup-Time": "1795372215626527",
            "variable_billsec": "0",
            "variable_billmsec": "0",
            "variable_duration": "0",
            "variable_mduration": "300",
        },
    )
    event = valid(Normalizer("n").from_headers(headers))
    assert isinstance(event, ChannelHungUp)
    assert event.cause == "USER_BUSY" and event.sip_code == 486
    assert event.created_at == pytest.approx(1795372215.326530)
    assert event.answered_at is None
    assert event.hungup_at == pytest.approx(1795372215.626527)
    assert event.billsec == 0.0 and event.duration == pytest.approx(0.3)


def test_hangup_sip_code_from_proto_specific_cause_and_whole_seconds_fallback() -> None:
    headers = channel(
        "CHANNEL_HANGUP_COMPLETE",
        **{
            "Hangup-Cause": "NO_ANSWER",
            "variable_proto_specific_hangup_cause": "sip:487",
            "variable_billsec": "12",
            "variable_duration": "15",
        },
    )
    event = Normalizer("n").from_headers(headers)
    assert isinstance(event, ChannelHungUp)
    assert (event.sip_code, event.billsec, event.duration) == (487, 12.0, 15.0)
    headers["variable_proto_specific_hangup_cause"] = "q850:16"
    assert Normalizer("n").from_headers(headers).sip_code is None


def test_bad_optional_numbers_become_none_and_are_counted() -> None:
    norm = Normalizer("n")
    event = norm.from_headers(
        channel("CHANNEL_HANGUP_COMPLETE", **{"variable_billsec": "soon", "Caller-Channel-Created-Time": "9" * 400})
    )
    assert isinstance(event, ChannelHungUp)
    assert event.billsec is None and event.created_at is None
    assert norm.bad_fields == {"variable_billsec": 1, "Caller-Channel-Created-Time": 1}


def test_background_job() -> None:
    headers = base("BACKGROUND_JOB", **{"Job-UUID": "j-1", "Job-Command": "originate", "Job-Command-Arg": "x y"})
    event = valid(Normalizer("n").from_headers(headers, "-ERR USER_BUSY\n"))
    assert isinstance(event, JobCompleted)
    assert (event.job_uuid, event.command, event.command_args, event.body) == (
        "j-1",
        "originate",
        "x y",
        "-ERR USER_BUSY\n",
    )
    assert event.ok is False


def test_heartbeat_and_shutdown() -> None:
    norm = Normalizer("n")
    beat = valid(
        norm.from_headers(
            base("HEARTBEAT", **{"Uptime-msec": "199558", "Session-Count": "11", "Session-Peak-Max": "12"})
        )
    )
    assert isinstance(beat, Heartbeat)
    assert (beat.up_time_s, beat.session_count, beat.sessions_peak) == (199.558, 11, 12)
    assert isinstance(valid(norm.from_headers(base("SHUTDOWN"))), SwitchShutdown)


@pytest.mark.parametrize(
    ("subclass", "cls"),
    [
        ("sofia::register", EndpointRegistered),
        ("sofia::unregister", EndpointUnregistered),
        ("sofia::expire", EndpointExpired),
    ],
)
def test_sofia_registration_events(subclass: str, cls: type) -> None:
    headers = base(
        "CUSTOM",
        **{
            "Event-Subclass": subclass,
            "profile-name": "internal",
            "username": "1001",
            "realm": "127.0.0.1",
            "contact": '"" <sip:1001@127.0.0.1:5072>',
            "network-ip": "127.0.0.1",
            "network-port": "5072",
            "user-agent": "fixture-softphone/1.0",
            "expires": "300",
            "call-id": "1-13028@127.0.0.1",
        },
    )
    event = valid(Normalizer("n").from_headers(headers))
    assert type(event) is cls
    assert event.endpoint == "1001@127.0.0.1"
    assert (event.profile, event.network_port, event.expires, event.user_agent) == (
        "internal",
        5072,
        300,
        "fixture-softphone/1.0",
    )


def test_sofia_expire_with_only_user_and_host() -> None:
    headers = base("CUSTOM", **{"Event-Subclass": "sofia::expire", "user": "1001", "host": "example.org"})
    assert Normalizer("n").from_headers(headers).endpoint == "1001@example.org"


def test_avmd_beep_is_a_machine() -> None:
    headers = base(
        "CUSTOM",
        **{
            "Event-Subclass": "avmd::beep",
            "Unique-ID": UUID,
            "Beep-Status": "DETECTED",
            "variable_ctilink_role": "customer",
        },
    )
    event = valid(Normalizer("n").from_headers(headers))
    assert isinstance(event, MachineDetected)
    assert (event.uuid, event.result, event.source, event.beep) == (UUID, "machine", "avmd", True)
    assert event.variables == {"ctilink_role": "customer"}


@pytest.mark.parametrize(
    ("value", "result"), [("MACHINE", "machine"), ("HUMAN", "human"), ("NOTSURE", "notsure"), ("weird", "notsure")]
)
def test_mod_amd_result_on_execute_complete_of_amd(value: str, result: str) -> None:
    headers = channel("CHANNEL_EXECUTE_COMPLETE", Application="amd", variable_amd_result=value)
    event = valid(Normalizer("n").from_headers(headers))
    assert isinstance(event, MachineDetected)
    assert (event.result, event.source, event.beep, event.uuid) == (result, "amd", False, UUID)


def test_amd_result_on_other_events_does_not_change_their_type() -> None:
    norm = Normalizer("n")
    assert isinstance(norm.from_headers(channel("CHANNEL_PARK", variable_amd_result="MACHINE")), ChannelParked)
    plain_app = channel("CHANNEL_EXECUTE_COMPLETE", Application="amd")
    assert isinstance(norm.from_headers(plain_app), ExecuteComplete)


def test_custom_amd_event() -> None:
    norm = Normalizer("n")
    headers = base("CUSTOM", **{"Event-Subclass": "amd::info", "Unique-ID": UUID, "amd_result": "HUMAN"})
    event = valid(norm.from_headers(headers))
    assert isinstance(event, MachineDetected) and event.result == "human"
    no_result = base("CUSTOM", **{"Event-Subclass": "amd::info", "Unique-ID": UUID})
    assert isinstance(norm.from_headers(no_result), RawEvent)


def test_everything_else_is_a_counted_raw_event() -> None:
    norm = Normalizer("n")
    state = valid(norm.from_headers(channel("CHANNEL_STATE"), None))
    info = valid(norm.from_headers(base("CUSTOM", **{"Event-Subclass": "callcenter::info"})))
    norm.from_headers(channel("CHANNEL_STATE"))
    assert isinstance(state, RawEvent) and state.event_name == "CHANNEL_STATE" and state.uuid == UUID
    assert state.headers["variable_sip_from_user"] == "15551230007"
    assert isinstance(info, RawEvent) and info.subclass == "callcenter::info" and info.uuid is None
    assert norm.raw_counts == {"CHANNEL_STATE": 2, "callcenter::info": 1}


def test_from_headers_copies_what_it_keeps() -> None:
    headers = channel("CHANNEL_STATE")
    event = Normalizer("n").from_headers(headers)
    headers["Unique-ID"] = "changed"
    assert isinstance(event, RawEvent) and event.headers["Unique-ID"] == UUID


def test_resync_and_event_name_override() -> None:
    dump = channel("CHANNEL_DATA")
    norm = Normalizer("n")
    event = valid(norm.from_headers(dump, resync=True, event_name="CHANNEL_PARK"))
    assert isinstance(event, ChannelParked) and event.resync is True and event.uuid == UUID
    raw = norm.from_headers(dump, resync=True)
    assert isinstance(raw, RawEvent) and raw.event_name == "CHANNEL_DATA" and raw.resync is True


def test_array_values_are_lists_in_raw_headers_and_text_in_typed_fields() -> None:
    history = ["1795372354:a:uuid_br:b", "1795372359:c:bl_xfer:9999/public/XML"]
    norm = Normalizer("n")
    for event in (
        norm.from_plain(plain_body(channel("CHANNEL_EXECUTE", variable_transfer_history=history))),
        norm.from_json(json_body(channel("CHANNEL_EXECUTE", variable_transfer_history=history))),
    ):
        assert isinstance(event, RawEvent) and event.headers["variable_transfer_history"] == history
    odd = channel("CHANNEL_PARK", variable_ctilink_tags=["a", "b"], **{"Caller-Caller-ID-Name": ["x", "y"]})
    for event in (norm.from_plain(plain_body(odd)), norm.from_json(json_body(odd))):
        assert event.caller_name == "ARRAY::x|:y" and event.variables["ctilink_tags"] == "ARRAY::a|:b"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (base("CHANNEL_PARK"), "without a Unique-ID"),
        ({"Unique-ID": UUID}, "without Event-Name"),
        (base(""), "without Event-Name"),
        (channel("CHANNEL_PARK", **{"Event-Date-Timestamp": "yesterday"}), "Event-Date-Timestamp"),
        (channel("CHANNEL_PARK", **{"Event-Sequence": "x"}), "Event-Sequence"),
        (channel("DTMF"), "DTMF-Digit"),
        (base("BACKGROUND_JOB"), "Job-UUID"),
        (base("CUSTOM", **{"Event-Subclass": "sofia::register", "username": "1001"}), "user and realm"),
        (base("CUSTOM", **{"Event-Subclass": "avmd::beep"}), "Unique-ID"),
        (channel("CHANNEL_PARK", **{"Caller-Caller-ID-Name": {"a": 1}}), "not a string"),
        (channel("CHANNEL_PARK", **{"Unique-ID": ["a"]}), "Unique-ID"),
    ],
)
def test_identity_problems_raise_a_typed_error(headers: dict[str, Any], reason: str) -> None:
    with pytest.raises(EventDecodeError) as info:
        Normalizer("n").from_headers(headers)
    assert reason in info.value.reason
    assert isinstance(info.value, ValueError)


def test_from_headers_refuses_non_string_names_and_bodies() -> None:
    with pytest.raises(EventDecodeError):
        Normalizer("n").from_headers({1: "x", "Event-Name": "HEARTBEAT"})  # type: ignore[dict-item]
    with pytest.raises(EventDecodeError):
        Normalizer("n").from_headers(base("HEARTBEAT"), b"bytes")  # type: ignore[arg-type]


def test_plain_values_are_decoded_one_by_one_after_splitting_lines() -> None:
    headers, body = parse_plain(b"Event-Name: API\nA: 50%25%20off\nB: %E5%B1%B1\nC: %zz\n\n")
    assert headers == {"Event-Name": "API", "A": "50% off", "B": "\u5c71", "C": "%zz"}
    assert body is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"Event-Name: API\n", "blank line"),
        (b"Event-Name: API\nno separator\n\n", "without ': '"),
        (b"Event-Name: API\nA: %FF\n\n", "invalid UTF-8"),
        (b"Event-Name: API\xff\n\n", "invalid UTF-8"),
        (b"Event-Name: API\n\ntrailing", "without Content-Length"),
        (b"Event-Name: API\nContent-Length: x\n\nab", "bad inner Content-Length"),
        (b"Event-Name: API\nContent-Length: 3\n\nab", "inner Content-Length 3 but 2"),
        (b"Event-Name: API\nContent-Length: 2\n\nabc", "inner Content-Length 2 but 3"),
        (b"Event-Name: API\nContent-Length: 1\n\n\xff", "invalid UTF-8 in event body"),
    ],
)
def test_plain_body_errors(body: bytes, reason: str) -> None:
    with pytest.raises(EventDecodeError) as info:
        Normalizer("n").from_plain(body)
    assert reason in info.value.reason


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{", "invalid event JSON"),
        (b'{"a":"\xff"}', "invalid event JSON"),
        (b"[1]", "not an object"),
        (b'{"Event-Name":"API","_body":5}', "_body is not a string"),
        (b'{"Event-Name":"API","Content-Length":"9","_body":"ab"}', "does not match"),
    ],
)
def test_json_body_errors(body: bytes, reason: str) -> None:
    with pytest.raises(EventDecodeError) as info:
        parse_json(body)
    assert reason in info.value.reason


def test_json_body_length_counts_bytes() -> None:
    headers, body = parse_json('{"Event-Name":"API","Content-Length":"3","_body":"\u00e9!"}'.encode())
    assert body == "\u00e9!" and headers["Content-Length"] == "3"


def test_from_frame_routes_by_content_type() -> None:
    norm = Normalizer("n")
    body = json_body(base("HEARTBEAT"))
    assert isinstance(norm.from_frame(Frame("text/event-json", {}, body)), Heartbeat)
    assert isinstance(norm.from_frame(Frame("text/event-plain", {}, plain_body(base("HEARTBEAT")))), Heartbeat)
    assert norm.from_frame(Frame("command/reply", {"Reply-Text": "+OK"}, b"")) is None
    assert norm.from_frame(Frame("api/response", {}, b"+OK\n")) is None
    with pytest.raises(EventDecodeError, match="event-xml"):
        norm.from_frame(Frame("text/event-xml", {}, b"<event/>"))
