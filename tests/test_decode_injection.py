"""Caller-controlled text cannot forge headers, events or uuids on the decode path.

Each case takes a real event recorded from FreeSWITCH 1.10.12 (the dtmf scenario), puts a hostile
value where an outside party controls it (caller name/number, SIP headers, SDP, channel variables,
an INFO body), frames it exactly as FreeSWITCH would (values URL-encoded in event-plain, JSON
strings in event-json, Content-Length in bytes) and checks that the value stays one value of one
header of one event, in both formats. One test shows that greenswitch's own parser is fooled by
the same bytes: that is why ctilink decodes frames itself.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest

from ctilink.esl.framing import Frame, FrameReader, encode_frame
from ctilink.esl.normalize import Normalizer, parse_plain
from ctilink.events import ChannelParked, DtmfReceived, Event, RawEvent
from ctilink.testing.recordings import Recordings

# Read lazily: constructing the reader opens no file.
RECORDINGS = Recordings(Path(__file__).resolve().parent / "fixtures" / "esl")


EVIL_UUID = "00000000-dead-beef-0000-000000000000"


def recorded(kind: str, name: str) -> tuple[dict[str, Any], str | None, Frame]:
    """The first ``name`` event of the dtmf scenario as (headers, body, its frame)."""
    data = RECORDINGS.json_stream("dtmf") if kind == "json" else RECORDINGS.plain_stream("dtmf")
    for frame in FrameReader().feed(data):
        if kind == "json" and frame.content_type == "text/event-json":
            headers = orjson.loads(frame.body)
            body = headers.pop("_body", None)
        elif kind == "plain" and frame.content_type == "text/event-plain":
            headers, body = parse_plain(frame.body)
        else:
            continue
        if headers["Event-Name"] == name:
            return headers, body, frame
    raise AssertionError(f"no {name} in dtmf")


def frame_plain(headers: dict[str, Any], body: str | None) -> bytes:
    """Serialise like FreeSWITCH's event-plain: every value URL-encoded, body raw after the blank line."""
    lines = []
    for key, value in headers.items():
        if key == "Content-Length":
            continue
        if isinstance(value, list):
            value = "ARRAY::" + "|:".join(value)
        lines.append(f"{key}: {quote(value, safe='')}\n")
    raw_body = (body or "").encode()
    if body is not None:
        lines.append(f"Content-Length: {len(raw_body)}\n")
    event = ("".join(lines) + "\n").encode() + raw_body
    return encode_frame({"Content-Type": "text/event-plain"}, event)


def frame_json(headers: dict[str, Any], body: str | None) -> bytes:
    obj = {k: v for k, v in headers.items() if k != "Content-Length"}
    if body is not None:
        obj["Content-Length"] = str(len(body.encode()))
        obj["_body"] = body
    return encode_frame({"Content-Type": "text/event-json"}, orjson.dumps(obj))


FRAMERS: dict[str, Callable[[dict[str, Any], str | None], bytes]] = {"plain": frame_plain, "json": frame_json}


def decode_all(data: bytes) -> list[Event]:
    norm = Normalizer("fs-node-1")
    return [e for e in (norm.from_frame(f) for f in FrameReader().feed(data)) if e is not None]


INJECTIONS = [
    ("Caller-Caller-ID-Name", "Bob\nEvent-Name: CHANNEL_HANGUP"),
    ("Caller-Caller-ID-Number", "15551230007\nUnique-ID: " + EVIL_UUID + "\nEvent-Name: CHANNEL_HANGUP_COMPLETE"),
    ("variable_sip_h_X-Note", "hi\r\nEvent-Name: CHANNEL_HANGUP_COMPLETE\r\nUnique-ID: " + EVIL_UUID),
    (
        "variable_switch_r_sdp",
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\nEvent-Name: CHANNEL_HANGUP_COMPLETE\r\n\r\n"
        "Content-Length: 12\r\n\r\nUnique-ID: " + EVIL_UUID + "\r\n",
    ),
    ("variable_ctilink_note", "x\nvariable_ctilink_role: supervisor\nvariable_ctilink_agent_id: 666"),
    ("variable_ctilink_note", "ARRAY::x|:Event-Name: CHANNEL_HANGUP"),
]


def test_the_plain_encoder_url_encodes_a_newline_in_a_value_as_freeswitch_does() -> None:
    headers, body, _ = recorded("plain", "CHANNEL_PARK")
    headers["Caller-Caller-ID-Name"] = "Bob\nEvent-Name: CHANNEL_HANGUP"
    assert b"\nCaller-Caller-ID-Name: Bob%0AEvent-Name%3A%20CHANNEL_HANGUP\n" in frame_plain(headers, body)


@pytest.mark.parametrize("kind", ["plain", "json"])
@pytest.mark.parametrize(("header", "value"), INJECTIONS)
def test_hostile_value_stays_one_value_of_one_header(kind: str, header: str, value: str) -> None:
    headers, body, _ = recorded(kind, "CHANNEL_PARK")
    truth = dict(headers)
    headers[header] = value
    _, _, following = recorded(kind, "DTMF")
    data = FRAMERS[kind](headers, body) + encode_frame(following.headers, following.body)

    park, dtmf = decode_all(data)
    assert isinstance(park, ChannelParked)
    assert park.uuid == truth["Unique-ID"] and park.sequence == int(truth["Event-Sequence"])
    assert park.caller_name == (value if header == "Caller-Caller-ID-Name" else truth["Caller-Caller-ID-Name"])
    assert park.caller_number == (value if header == "Caller-Caller-ID-Number" else truth["Caller-Caller-ID-Number"])
    expected_vars = {k[9:]: v for k, v in truth.items() if k.startswith("variable_ctilink_")}
    if header.startswith("variable_ctilink_"):
        expected_vars[header[9:]] = value
    assert park.variables == expected_vars
    assert isinstance(dtmf, DtmfReceived) and dtmf.digit == "1"

    # The same bytes as an event the core has no type for: every header is kept, so the
    # whole header set is visible. It must be the original set with exactly one value changed.
    headers["Event-Name"] = "CHANNEL_EXECUTE"
    (raw,) = decode_all(FRAMERS[kind](headers, body))
    assert isinstance(raw, RawEvent) and raw.event_name == "CHANNEL_EXECUTE"
    expected = {**truth, header: value, "Event-Name": "CHANNEL_EXECUTE"}
    if kind == "plain" and value.startswith("ARRAY::"):
        expected[header] = value[7:].split("|:")  # plain cannot tell a string from an array
    assert raw.headers == expected
    assert raw.uuid == truth["Unique-ID"]


def recv_info_with_forged_body(kind: str) -> tuple[bytes, str, str]:
    headers, _, _ = recorded(kind, "RECV_INFO")
    forged = (
        "Event-Name: CHANNEL_HANGUP_COMPLETE\n"
        f"Unique-ID: {EVIL_UUID}\n"
        "Hangup-Cause: NORMAL_CLEARING\n"
        "Content-Length: 3\n\nabc\n\n"
    )
    return FRAMERS[kind](headers, forged), headers["Unique-ID"], forged


@pytest.mark.parametrize("kind", ["plain", "json"])
def test_event_body_that_looks_like_headers_is_data(kind: str) -> None:
    data, true_uuid, forged = recv_info_with_forged_body(kind)
    _, _, following = recorded(kind, "DTMF")
    info, dtmf = decode_all(data + encode_frame(following.headers, following.body))
    assert isinstance(info, RawEvent)
    assert (info.event_name, info.uuid, info.body) == ("RECV_INFO", true_uuid, forged)
    assert "Hangup-Cause" not in info.headers
    assert isinstance(dtmf, DtmfReceived)


NAMES = ["Zo\u00eb \u00c5ngstr\u00f6m", "\u5c71\u7530 \u592a\u90ce", "\U0001f3a7 Caf\u00e9\u200b", "\u00e9" * 300]


@pytest.mark.parametrize("kind", ["plain", "json"])
@pytest.mark.parametrize("name", NAMES)
def test_non_ascii_names_with_lengths_in_bytes_keep_the_next_event_intact(kind: str, name: str) -> None:
    headers, body, _ = recorded(kind, "CHANNEL_PARK")
    headers["Caller-Caller-ID-Name"] = name
    headers["variable_ctilink_customer_name"] = name
    _, _, following = recorded(kind, "DTMF")
    # An event body is never URL-encoded, in either format: its inner length counts bytes too.
    info_headers, _, _ = recorded(kind, "RECV_INFO")
    info_body = f"Signal=5\r\nDisplay={name}\r\n"
    data = (
        FRAMERS[kind](headers, body)
        + FRAMERS[kind](info_headers, info_body)
        + encode_frame(following.headers, following.body)
    )
    assert len(data) > len(data.decode())  # multi-byte: a character count would be wrong
    if kind == "plain":
        assert quote(name, safe="").encode() in data
    for chunk in (len(data), 1, 7):
        reader = FrameReader()
        norm = Normalizer("n")
        frames = [f for i in range(0, len(data), chunk) for f in reader.feed(data[i : i + chunk])]
        park, info, dtmf = (norm.from_frame(f) for f in frames)
        assert isinstance(park, ChannelParked) and park.caller_name == name
        assert park.variables["ctilink_customer_name"] == name
        assert isinstance(info, RawEvent) and info.body == info_body
        assert isinstance(dtmf, DtmfReceived) and dtmf.digit == "1"


def greenswitch_parse(frame_bytes: bytes) -> dict[str, str]:
    """What greenswitch's ESLProtocol.handle_event makes of one event-plain frame."""
    from greenswitch.esl import ESLEvent

    head, _, body = frame_bytes.partition(b"\n\n")
    event = ESLEvent(head.decode() + "\n")
    event.parse_data(body.decode())
    return event.headers


def test_greenswitch_is_fooled_by_the_same_bytes() -> None:
    headers, body, _ = recorded("plain", "CHANNEL_PARK")
    true_uuid = headers["Unique-ID"]
    headers["Caller-Caller-ID-Name"] = "Bob\nEvent-Name: CHANNEL_HANGUP"
    headers["Caller-Caller-ID-Number"] = "1555\nUnique-ID: " + EVIL_UUID
    parked = frame_plain(headers, body)
    info, info_uuid, _ = recv_info_with_forged_body("plain")

    # greenswitch URL-decodes the whole block before splitting lines: the caller wins.
    fooled = greenswitch_parse(parked)
    assert fooled["Event-Name"] == "CHANNEL_HANGUP"
    assert fooled["Unique-ID"] == EVIL_UUID
    # ...and it reads the event's own body as more headers.
    fooled_info = greenswitch_parse(info)
    assert fooled_info["Event-Name"] == "CHANNEL_HANGUP_COMPLETE"
    assert fooled_info["Unique-ID"] == EVIL_UUID

    # ctilink, same bytes.
    park, recv_info = decode_all(parked + info)
    assert isinstance(park, ChannelParked) and park.uuid == true_uuid
    assert isinstance(recv_info, RawEvent) and recv_info.event_name == "RECV_INFO"
    assert recv_info.uuid == info_uuid
