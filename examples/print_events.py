"""Library-only: connect to a FreeSWITCH node and print its typed events.

Run against a real node:  python examples/print_events.py HOST:PORT:PASSWORD
Without FreeSWITCH:       python examples/print_events.py --fake   (a fake switch replays a recording)
"""

from __future__ import annotations

import sys
from pathlib import Path

from ctilink.esl.connection import EslConnection
from ctilink.events import ChannelEvent, Event, RawEvent


def describe(event: Event) -> str:
    if isinstance(event, RawEvent):
        return f"raw {event.event_name}{'/' + event.subclass if event.subclass else ''}"
    if isinstance(event, ChannelEvent):
        return f"{type(event).__name__} uuid={event.uuid} caller={event.caller_number} vars={event.variables}"
    return type(event).__name__


def main(argv: list[str], limit: int | None = None) -> list[Event]:
    fake = None
    if argv and argv[0] == "--fake":
        from ctilink.testing.fake_switch import FakeSwitch

        fake = FakeSwitch(password="ClueCon", heartbeat_interval=3600)
        fake.start()
        host, port, password = fake.host, fake.port, "ClueCon"
    else:
        host, port_s, password = argv[0].split(":", 2)
        port = int(port_s)
    conn = EslConnection("example", host, port, password)
    conn.start()
    seen: list[Event] = []
    try:
        if fake is not None:
            conn.wait_connected(10)
            from ctilink.testing.recordings import Recordings

            # A recording shipped with the project's tests: one inbound call, queued and answered.
            recorded = Recordings(Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "esl")
            expected = fake.replay(recorded.json_stream("inbound_queue_answered"))
            limit = expected if limit is None else limit
        for event in conn.events():
            if event.resync:
                continue
            print(describe(event))
            seen.append(event)
            if limit is not None and len(seen) >= limit:
                break
    except KeyboardInterrupt:
        pass
    finally:
        conn.stop()
        if fake is not None:
            fake.stop()
    return seen


if __name__ == "__main__":
    main(sys.argv[1:])
