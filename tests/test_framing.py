"""FrameReader / encode_frame: exact framing, chunking independence, typed errors and resync."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctilink.esl.framing import (
    DEFAULT_MAX_FRAME_SIZE,
    DEFAULT_MAX_HEADER_SIZE,
    Frame,
    FrameDesyncError,
    FrameError,
    FrameReader,
    FrameSkippedError,
    encode_frame,
)

AUTH = b"Content-Type: auth/request\n\n"
REPLY = b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n"


def event(body: bytes) -> bytes:
    return b"Content-Length: %d\nContent-Type: text/event-json\n\n" % len(body) + body


def drain(reader: FrameReader, data: bytes) -> tuple[list[Frame], list[FrameError]]:
    """Feed ``data``, keep going after every error the way a connection would."""
    frames: list[Frame] = []
    errors: list[FrameError] = []
    while True:
        try:
            frames.extend(reader.feed(data))
            return frames, errors
        except FrameError as err:
            frames.extend(err.frames)
            errors.append(err)
            data = b""
            assert len(errors) < 1000, "reader made no progress"


def test_frames_without_and_with_body() -> None:
    body = b'{"Event-Name":"HEARTBEAT"}'
    frames = FrameReader().feed(AUTH + REPLY + event(body))
    assert [f.content_type for f in frames] == ["auth/request", "command/reply", "text/event-json"]
    assert frames[0].body == b""
    assert frames[1].headers == {"Content-Type": "command/reply", "Reply-Text": "+OK accepted"}
    assert frames[2].body == body
    assert frames[2].headers["Content-Length"] == str(len(body))


def test_partial_tail_is_kept_until_complete() -> None:
    reader = FrameReader()
    data = event(b"x" * 100)
    assert reader.feed(data[:30]) == []
    assert reader.buffered == 30
    assert reader.feed(data[30:-1]) == []
    (frame,) = reader.feed(data[-1:])
    assert frame.body == b"x" * 100
    assert reader.buffered == 0


def test_body_is_counted_in_bytes_and_may_hold_blank_lines() -> None:
    body = "Zoë\n\nContent-Type: text/event-json\n\n".encode()
    frames = FrameReader().feed(event(body) + REPLY)
    assert frames[0].body == body
    assert frames[1].content_type == "command/reply"


def test_large_body_arriving_in_small_pieces() -> None:
    body = bytes(range(256)) * 4096  # 1 MiB
    data = event(body) + AUTH
    reader = FrameReader()
    frames: list[Frame] = []
    for i in range(0, len(data), 4096):
        frames.extend(reader.feed(data[i : i + 4096]))
    assert [f.content_type for f in frames] == ["text/event-json", "auth/request"]
    assert frames[0].body == body


@settings(max_examples=60, deadline=None)
@given(
    bodies=st.lists(st.binary(max_size=300), min_size=1, max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=5000), max_size=20),
)
def test_any_chunking_gives_the_same_frames(bodies: list[bytes], cuts: list[int]) -> None:
    data = b"".join(event(b) + REPLY for b in bodies)
    whole = FrameReader().feed(data)
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    reader = FrameReader()
    pieces: list[Frame] = []
    for a, b in itertools.pairwise(points):
        pieces.extend(reader.feed(data[a:b]))
    assert pieces == whole
    assert [f.body for f in whole if f.content_type == "text/event-json"] == bodies


def test_repeated_header_last_wins_and_equal_content_lengths_are_fine() -> None:
    data = b"Content-Type: a\nX: 1\nX: 2\nContent-Length: 2\nContent-Length: 2\n\nok" + AUTH
    frames = FrameReader().feed(data)
    assert frames[0].headers["X"] == "2"
    assert frames[0].body == b"ok"
    assert frames[1].content_type == "auth/request"


@pytest.mark.parametrize(
    "length",
    [b"abc", b"-5", b"+5", b" 5", b"5 ", b"", b"1_0", "\uff15".encode(), b"1234567890123"],
)
def test_bad_content_length_is_a_desync(length: bytes) -> None:
    reader = FrameReader()
    with pytest.raises(FrameDesyncError) as info:
        reader.feed(b"Content-Type: text/event-json\nContent-Length: " + length + b"\n\n")
    assert info.value.stream_ok is False
    assert "Content-Length" in info.value.reason
    assert isinstance(info.value, ValueError)
    # The bad header block is gone; the reader goes on with what follows.
    assert reader.feed(AUTH)[0].content_type == "auth/request"


def test_conflicting_content_lengths_are_a_desync() -> None:
    with pytest.raises(FrameDesyncError, match="conflicting"):
        FrameReader().feed(b"Content-Type: a\nContent-Length: 2\nContent-Length: 3\n\nabc")


@pytest.mark.parametrize(
    ("head", "reason"),
    [
        (b"Content-Type: text/event-json\ngarbage line\nContent-Length: 4", "without ': '"),
        (b"Content-Type: text/event-json\nX-Name:no-space\nContent-Length: 4", "without ': '"),
        (b"Content-Type: text/ev\xffent-json\nContent-Length: 4", "invalid UTF-8"),
        (b"Content-Length: 4", "without Content-Type"),
    ],
)
def test_bad_header_block_with_known_length_skips_exactly_that_frame(head: bytes, reason: str) -> None:
    good = event(b"{}")
    data = good + head + b"\n\nbody" + good
    frames, errors = drain(FrameReader(), data)
    assert [e.reason for e in errors if reason in e.reason], errors
    assert len(errors) == 1 and isinstance(errors[0], FrameSkippedError) and errors[0].stream_ok
    assert errors[0].sample.startswith(head[:20])
    assert [f.body for f in frames] == [b"{}", b"{}"]


def test_frames_before_an_error_travel_on_the_error_and_the_rest_stays_buffered() -> None:
    reader = FrameReader()
    with pytest.raises(FrameSkippedError) as info:
        reader.feed(AUTH + b"Content-Type: text/event-json\njunk\n\n" + REPLY)
    assert [f.content_type for f in info.value.frames] == ["auth/request"]
    assert reader.feed(b"")[0].content_type == "command/reply"


def test_blank_lines_between_frames_are_skipped_and_reported() -> None:
    frames, errors = drain(FrameReader(), AUTH + b"\n\n\n" + REPLY)
    assert [f.content_type for f in frames] == ["auth/request", "command/reply"]
    assert [e.reason for e in errors] == ["blank line between frames"]


@pytest.mark.parametrize("length", [b"5000", b"1000000000", b"999999999999"])
def test_a_frame_larger_than_max_frame_size_is_a_desync(length: bytes) -> None:
    # Skipping it by counting would trust the number most likely to be wrong, and blind the
    # reader while that many bytes go by.
    reader = FrameReader(max_frame_size=1000)
    with pytest.raises(FrameDesyncError, match="exceeds max_frame_size"):
        reader.feed(b"Content-Length: " + length + b"\nContent-Type: text/event-json\n\n{}")
    assert reader.buffered == 2  # the header block is gone, the rest is for the caller to drop


def test_the_default_bounds() -> None:
    reader = FrameReader()
    assert reader.max_frame_size == DEFAULT_MAX_FRAME_SIZE == 16 * 1024 * 1024
    assert reader.max_header_size == DEFAULT_MAX_HEADER_SIZE == 8 * 1024
    body = b"x" * (DEFAULT_MAX_FRAME_SIZE - 100)
    (frame,) = reader.feed(b"Content-Type: api/response\nContent-Length: %d\n\n" % len(body) + body)
    assert len(frame.body) == len(body)


@pytest.mark.parametrize(
    "start",
    [
        b"garbage",
        b"\x16\x03\x01",
        b"Event-Name: HEARTBEAT\n",
        b"Content-type: text/event-json\n",  # FreeSWITCH's casing is exact
        b'{"Event-Name":"HEARTBEAT"}Content-Length: 2\nContent-Type: text/event-json\n\n',
        b"Reply-Text: +OK\nContent-Type: command/reply\n\n",
    ],
)
def test_a_header_block_that_does_not_start_like_a_frame_is_a_desync(start: bytes) -> None:
    reader = FrameReader()
    with pytest.raises(FrameDesyncError, match="does not start with"):
        reader.feed(start)


def test_the_start_is_judged_as_soon_as_its_first_bytes_arrive() -> None:
    reader = FrameReader()
    assert reader.feed(b"Content-") == []  # could still be either header
    assert reader.feed(b"L") == []
    with pytest.raises(FrameDesyncError):
        reader.feed(b"x: no blank line yet")  # "Content-Lx" is neither: no need to wait for one


def test_after_a_bad_start_the_reader_resumes_after_the_next_blank_line() -> None:
    reader = FrameReader()
    with pytest.raises(FrameDesyncError) as info:
        reader.feed(AUTH + b"Body tail of a frame\nContent-Length: 2\nContent-Type: text/event-json")
    assert [f.content_type for f in info.value.frames] == ["auth/request"]
    assert reader.feed(b"\n") == []  # the blank line may straddle two reads
    (frame,) = reader.feed(b"\n" + REPLY)
    assert frame.headers == {"Content-Type": "command/reply", "Reply-Text": "+OK accepted"}


def test_header_block_without_end_is_a_desync_then_skips_to_next_blank_line() -> None:
    reader = FrameReader(max_header_size=64)
    with pytest.raises(FrameDesyncError, match="without a blank line"):
        reader.feed(b"Content-Type: x\n" + b"A" * 100)
    assert reader.feed(b"B" * 50 + b"\n") == []
    # The blank line straddles two feeds; everything after it is a fresh frame.
    assert reader.feed(b"\n" + AUTH)[0].content_type == "auth/request"


def test_reset_forgets_a_partial_frame() -> None:
    reader = FrameReader()
    reader.feed(event(b"abcdef")[:25])
    reader.reset()
    assert reader.buffered == 0
    assert reader.feed(AUTH)[0].content_type == "auth/request"


def test_encode_frame_round_trips_and_adds_content_length() -> None:
    data = encode_frame({"Content-Type": "api/response"}, b"+OK\n")
    assert data == b"Content-Type: api/response\nContent-Length: 4\n\n+OK\n"
    (frame,) = FrameReader().feed(data)
    assert frame == Frame("api/response", {"Content-Type": "api/response", "Content-Length": "4"}, b"+OK\n")
    assert encode_frame({"Content-Type": "auth/request"}) == AUTH


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "a\nContent-Length: 5"},
        {"Content-Type": "a\r"},
        {"Bad\nName": "x"},
        {"Bad: Name": "x"},
        {"": "x"},
        {"Content-Type": "a", "Content-Length": "99"},
        {},
    ],
)
def test_encode_frame_refuses_what_would_reframe(headers: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        encode_frame(headers, b"body")
