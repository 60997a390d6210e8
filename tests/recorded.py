"""Reading ctilink's own recorded connections to a real FreeSWITCH the way the daemon read them."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ctilink.esl.framing import FrameReader
from ctilink.esl.normalize import Normalizer
from ctilink.events import Event
from ctilink.testing.recordings import Recordings


def daemon_ids(recordings: Recordings, *scenarios: str) -> Iterator[str]:
    """The ids the recorded daemon generated, in the order its engine asked for them."""
    for scenario in scenarios:
        for record in recordings.controller_records(scenario):
            if record.dir != "send":
                continue
            text = record.data.decode()
            if m := re.match(r"api uuid_setvar \S+ ctilink_call_id (\S+)", text):
                yield m.group(1)
            elif (leg := re.search(r"origination_uuid=([0-9a-f-]{36})", text)) and (
                job := re.search(r"Job-UUID: (\S+)", text)
            ):
                yield leg.group(1)
                yield job.group(1)


def connection(recordings: Recordings, scenario: str) -> tuple[list[str], list[tuple[float, Event]]]:
    """(api reply bodies in order, (t, event) of every event frame) of one recorded connection."""
    normalizer, reader = Normalizer("vm"), FrameReader()
    replies: list[str] = []
    events: list[tuple[float, Event]] = []
    for record in recordings.controller_records(scenario):
        if record.dir != "recv":
            continue
        for frame in reader.feed(record.data):
            if frame.content_type == "api/response":
                replies.append(frame.body.decode())
                continue
            event = normalizer.from_frame(frame)
            if event is not None:
                events.append((record.t, event))
    return replies, events
