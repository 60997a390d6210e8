"""Fuzz the decode path: random and mutated bytes may only ever raise our typed errors."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctilink.esl.framing import Frame, FrameError, FrameReader
from ctilink.esl.normalize import EventDecodeError, Normalizer
from ctilink.events import Event
from ctilink.testing.recordings import Recordings

# Read lazily: constructing the reader opens no file.
RECORDINGS = Recordings(Path(__file__).resolve().parent / "fixtures" / "esl")


FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run(data: bytes, chunk: int, max_frame_size: int = 1 << 20) -> tuple[list[Frame], list[Event], int]:
    """Feed ``data`` in ``chunk``-sized pieces the way a connection would; return what came out.

    Anything other than FrameError / EventDecodeError escaping fails the test.
    """
    reader = FrameReader(max_frame_size=max_frame_size, max_header_size=4096)
    norm = Normalizer("fuzz")
    frames: list[Frame] = []
    events: list[Event] = []
    errors = 0
    pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)] + [b""]
    for piece in pieces:
        while True:
            try:
                got = reader.feed(piece)
            except FrameError as err:
                assert isinstance(err, ValueError) and err.reason
                got = err.frames
                errors += 1
                # Every error consumes input: the reader cannot loop forever on the same bytes.
                assert errors <= len(data) + 1
                frames.extend(got)
                piece = b""
                continue
            frames.extend(got)
            break
    for frame in frames:
        try:
            event = norm.from_frame(frame)
        except EventDecodeError as err:
            assert err.reason
            continue
        if event is not None:
            events.append(event)
    consumed = sum(len(f.body) for f in frames)
    assert consumed <= len(data)
    return frames, events, errors


@FUZZ
@given(data=st.binary(max_size=3000), chunk=st.integers(min_value=1, max_value=4096))
def test_random_bytes(data: bytes, chunk: int) -> None:
    run(data, chunk)


FRAMEISH = st.lists(
    st.sampled_from(
        [
            b"Content-Type: text/event-json\n",
            b"Content-Type: text/event-plain\n",
            b"Content-Length: 5\n",
            b"Content-Length: 40\n",
            b"Content-Length: -1\n",
            b"\n",
            b"\n\n",
            b'{"Event-Name":"CHANNEL_PARK","Unique-ID":"u"}',
            b"Event-Name: DTMF\nUnique-ID: u\nDTMF-Digit: 5\n\n",
            b"Event-Name: CUSTOM\nEvent-Subclass: sofia%3A%3Aregister\n",
            b"%0A",
            b"\xff\xfe",
            b": ",
        ]
    ),
    max_size=40,
).map(b"".join)


@FUZZ
@given(data=FRAMEISH, chunk=st.integers(min_value=1, max_value=64))
def test_frame_shaped_noise(data: bytes, chunk: int) -> None:
    run(data, chunk)


def sample(kind: str) -> bytes:
    data = RECORDINGS.json_stream("dtmf") if kind == "json" else RECORDINGS.plain_stream("dtmf")
    return data[:30000]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(sample(draw(st.sampled_from(["json", "plain"]))))
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        op = draw(st.sampled_from(["flip", "truncate", "splice", "delete", "duplicate", "insert"]))
        pos = draw(st.integers(min_value=0, max_value=max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(min_value=0, max_value=7))
        elif op == "truncate":
            del data[pos:]
        elif op == "splice":
            other = sample(draw(st.sampled_from(["json", "plain"])))
            start = draw(st.integers(min_value=0, max_value=len(other) - 1))
            data[pos:pos] = other[start : start + draw(st.integers(min_value=1, max_value=2000))]
        elif op == "delete":
            del data[pos : pos + draw(st.integers(min_value=1, max_value=200))]
        elif op == "duplicate":
            data[pos:pos] = data[pos : pos + draw(st.integers(min_value=1, max_value=500))]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=20))
    return bytes(data)


@FUZZ
@given(data=mutated(), chunk=st.sampled_from([1, 13, 512, 4096, 65536]))
def test_mutated_recordings(data: bytes, chunk: int) -> None:
    run(data, chunk)


@settings(max_examples=20, deadline=None)
@given(chunk=st.integers(min_value=1, max_value=20000))
def test_unmutated_recordings_decode_without_errors(chunk: int) -> None:
    for kind in ("json", "plain"):
        data = RECORDINGS.json_stream("dtmf") if kind == "json" else RECORDINGS.plain_stream("dtmf")
        _frames, events, errors = run(data, chunk)
        assert errors == 0 and len(events) == 46


def test_a_broken_frame_costs_only_itself() -> None:
    data = RECORDINGS.json_stream("dtmf")
    frames = FrameReader().feed(data)
    # Corrupt one event's Content-Type line (its Content-Length stays valid): exactly one frame lost.
    target = next(i for i, f in enumerate(frames) if f.content_type == "text/event-json")
    offset = sum(len(encoded(f)) for f in frames[:target])
    line = data.index(b"Content-Type: text/event-json", offset)
    broken = data[:line] + b"Content-Type text/event-json" + data[line + 29 :]
    got, events, errors = run(broken, 4096)
    assert errors == 1
    assert len(got) == len(frames) - 1 and len(events) == 45


def encoded(frame: Frame) -> bytes:
    head = "".join(f"{k}: {v}\n" for k, v in frame.headers.items())
    return head.encode() + b"\n" + frame.body
