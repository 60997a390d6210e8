"""The pieces behind desync detection, without sockets: body shapes, reply matching, the watchdog.

The body-shape properties run on the recorded FreeSWITCH 1.10.12 events: a body cut short by a
Content-Length too small, or stretched over the next frame by one too large, never has the shape
of its Content-Type, in either event format.
"""

from __future__ import annotations

from pathlib import Path

import gevent.event
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctilink.esl.desync import StreamDesync, event_body_problem
from ctilink.esl.framing import Frame, FrameReader
from ctilink.esl.replies import ReplyQueue
from ctilink.esl.watchdog import SilenceWatchdog
from ctilink.testing import esl_wire
from ctilink.testing.recordings import Recordings

RECORDINGS = Recordings(Path(__file__).resolve().parent / "fixtures" / "esl")


def event_frames(fmt: str) -> list[Frame]:
    data = RECORDINGS.json_stream("dtmf") if fmt == "json" else RECORDINGS.plain_stream("dtmf")
    return [f for f in FrameReader().feed(data) if f.content_type == f"text/event-{fmt}"]


JSON_EVENTS = event_frames("json")
PLAIN_EVENTS = event_frames("plain")


# -- body shapes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ctype", "body", "problem"),
    [
        ("text/event-json", b'{"Event-Name":"HEARTBEAT"}', None),
        ("text/event-json", b"{}", None),  # the normalizer refuses it, but its length was right
        ("text/event-json", b"", "is not JSON"),
        ("text/event-json", b'{"Event-Name":"HEART', "is not JSON"),
        ("text/event-json", b'{"a":"b"}Content-Length: 5\nContent-Type: text/event-json\n\n', "is not JSON"),
        ("text/event-json", b'["Event-Name"]', "not a JSON object"),
        ("text/event-plain", b"Event-Name: HEARTBEAT\nCore-UUID: x\n\n", None),
        ("text/event-plain", b"Event-Name: BACKGROUND_JOB\nContent-Length: 4\n\n+OK\n", None),
        ("text/event-plain", b"", "no blank line"),
        ("text/event-plain", b"Event-Name: HEARTBEAT\nCore-UU", "no blank line"),
        ("text/event-plain", b"Event-Name: HEARTBEAT\ngarbage\n\n", "not a header"),
        ("text/event-plain", b"Event-Name: HEARTBEAT\n\nContent-Length: 9", "without an inner Content-Length"),
        ("text/event-plain", b"Event-Name: BACKGROUND_JOB\nContent-Length: 4\n\n+O", "inner Content-Length"),
        ("text/event-plain", b"Event-Name: BACKGROUND_JOB\nContent-Length: x\n\n+OK\n", "inner Content-Length"),
        ("text/event-xml", b"<not checked/>", None),
    ],
)
def test_event_body_shapes(ctype: str, body: bytes, problem: str | None) -> None:
    found = event_body_problem(ctype, body)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


@pytest.mark.parametrize("fmt", ["json", "plain"])
def test_every_recorded_event_body_has_its_shape(fmt: str) -> None:
    frames = JSON_EVENTS if fmt == "json" else PLAIN_EVENTS
    assert len(frames) > 40
    assert [event_body_problem(f.content_type, f.body) for f in frames] == [None] * len(frames)


@settings(max_examples=150, deadline=None)
@given(fmt=st.sampled_from(["json", "plain"]), index=st.integers(min_value=0), data=st.data())
def test_a_recorded_body_cut_short_or_stretched_loses_its_shape(fmt: str, index: int, data: st.DataObject) -> None:
    frames = JSON_EVENTS if fmt == "json" else PLAIN_EVENTS
    frame = frames[index % len(frames)]
    following = esl_wire.event_frame(fmt, {"Event-Name": "HEARTBEAT", "Session-Count": "1"})
    cut = data.draw(st.integers(min_value=0, max_value=len(frame.body) - 1), label="cut")
    extra = data.draw(st.integers(min_value=1, max_value=len(following)), label="extra")
    assert event_body_problem(frame.content_type, frame.body[:cut]) is not None
    assert event_body_problem(frame.content_type, frame.body + following[:extra]) is not None


# -- reply matching -----------------------------------------------------------------------------


def frame_of(data: bytes) -> Frame:
    (frame,) = FrameReader().feed(data)
    return frame


OK = frame_of(esl_wire.command_reply("+OK"))
ERR = frame_of(esl_wire.command_reply("-ERR permission denied"))
API = frame_of(esl_wire.api_response("UP 0 years\n"))


def bgapi_ok(job: str) -> Frame:
    return frame_of(esl_wire.command_reply(f"+OK Job-UUID: {job}", [("Job-UUID", job)]))


def test_replies_go_to_their_commands_in_order() -> None:
    queue = ReplyQueue()
    auth = queue.expect("auth ClueCon")
    api = queue.expect("api status")
    job = queue.expect("bgapi status\nJob-UUID: j1", "j1")
    for frame in (OK, API, bgapi_ok("j1")):
        queue.settle(frame)
    assert auth.get(timeout=0).text == "+OK"
    assert api.get(timeout=0).text == "UP 0 years\n"
    assert job.get(timeout=0).headers["Job-UUID"] == "j1"
    assert len(queue) == 0


@pytest.mark.parametrize(
    ("command", "job", "reply"),
    [
        ("api status", None, ERR),  # a userauth listener refused the api: still its reply
        ("bgapi status", "j1", ERR),  # a refusal names no job
        ("bgapi status", None, bgapi_ok("whatever")),  # no job chosen: nothing to compare
        ("bgapi status", "j1", frame_of(esl_wire.command_reply("+OK Job-UUID: j1"))),  # named in the text
    ],
)
def test_replies_that_fit(command: str, job: str | None, reply: Frame) -> None:
    queue = ReplyQueue()
    result = queue.expect(command, job)
    queue.settle(reply)
    assert result.ready() and result.successful()


@pytest.mark.parametrize(
    ("command", "job", "reply", "reason"),
    [
        ("api status", None, OK, "waits for its api/response"),
        ("event json ALL", None, API, "waits for a command/reply"),
        ("bgapi status", "j1", API, "waits for a command/reply"),
        ("bgapi status", "j1", bgapi_ok("j2"), "not for the pending job"),
        ("bgapi status", "j1", frame_of(esl_wire.command_reply("+OK Job-UUID: j2")), "not for the pending job"),
        ("bgapi status", "j1", OK, "names no job"),
    ],
)
def test_replies_that_belong_to_nothing_are_a_desync_and_settle_nothing(
    command: str, job: str | None, reply: Frame, reason: str
) -> None:
    queue = ReplyQueue()
    result = queue.expect(command, job)
    with pytest.raises(StreamDesync, match=reason) as info:
        queue.settle(reply)
    assert info.value.what == "reply"
    assert not result.ready() and len(queue) == 1


def test_a_reply_with_nothing_outstanding_is_a_desync() -> None:
    with pytest.raises(StreamDesync, match="no command outstanding"):
        ReplyQueue().settle(API)


def test_the_end_of_the_session_fails_every_waiting_command() -> None:
    queue = ReplyQueue()
    results: list[gevent.event.AsyncResult] = [queue.expect("api status"), queue.expect("exit")]
    error = ConnectionError("gone")
    queue.fail_all(error)
    assert [r.exception for r in results] == [error, error]
    assert len(queue) == 0


# -- the watchdog ------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_watchdog_counts_from_the_last_valid_input() -> None:
    clock = Clock()
    dog = SilenceWatchdog(5.0, clock)
    assert dog.remaining() == 5.0
    clock.now += 4.0
    assert dog.remaining() == 1.0
    dog.fed()
    assert dog.remaining() == 5.0
    clock.now += 5.0
    assert dog.remaining() <= 0


def test_the_watchdog_needs_a_positive_timeout() -> None:
    with pytest.raises(ValueError, match="timeout_s"):
        SilenceWatchdog(0)
