"""Resync: FreeSWITCH's channel snapshot -> the events a live listener would have seen.

Pure tests use the recorded ``api_responses`` replies (``show channels as json`` with four
channels, one ``uuid_dump ... json`` and one plain ``uuid_dump``); the last tests run a resync
through a real connection against the fake switch.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctilink.esl.normalize import Normalizer
from ctilink.esl.resync import (
    SHOW_CHANNELS,
    ResyncError,
    build_resync_events,
    dump_command,
    parse_channel_rows,
    parse_uuid_dump,
    run_resync,
    snapshot,
)
from ctilink.events import (
    ChannelAnswered,
    ChannelBridged,
    ChannelCreated,
    ChannelHeld,
    ChannelParked,
    ChannelProgress,
    Resynced,
)
from ctilink.testing.recordings import Recordings

CALLER1 = "3baf444b-35b0-4933-974b-4fce85e3ff7c"
AGENT1 = "30a9810d-c59e-4206-bcca-b560e8f7dd89"
CALLER2 = "5417094b-6547-4e55-941b-53a61270432d"
AGENT2 = "1dcb81ec-be0a-4b8e-814f-11c2f661d470"
CORE = "6e3f189d-0920-4734-a335-e58e977985b0"


class _Recorded:
    """What FreeSWITCH answered in the api_responses recording, filled in by the fixture below."""

    replies: dict[str, list[str]]
    rows_body: str
    dump_json: str
    dump_plain: str


R = _Recorded()


@pytest.fixture(autouse=True, scope="module")
def _recorded_replies(recordings: Recordings) -> None:
    """api command -> the bodies FreeSWITCH answered, in order, from the controller recording."""
    records = recordings.controller_records("api_responses")
    replies: dict[str, list[str]] = {}
    for sent, got in itertools.pairwise(records):
        if sent.dir == "send" and sent.data.startswith(b"api ") and got.dir == "recv":
            body = got.data.decode().split("\n\n", 1)[1]
            replies.setdefault(sent.data.decode()[4:].strip(), []).append(body)
    R.replies = replies
    R.rows_body = replies[SHOW_CHANNELS][1]
    R.dump_json = replies[f"uuid_dump {CALLER1} json"][0]
    R.dump_plain = replies[f"uuid_dump {AGENT1}"][0]


def _events(dumps: dict[str, str | None], rows_body: str | None = None, bad: list | None = None) -> list[Any]:
    rows_body = R.rows_body if rows_body is None else rows_body
    rows = parse_channel_rows(rows_body)
    report = (lambda u, why: bad.append((u, why))) if bad is not None else None
    channels = snapshot(rows, dumps, CORE, report)
    return build_resync_events(Normalizer("fs1"), channels, "fs1", CORE, report)


def _json_dump(**changes: str | None) -> str:
    doc = json.loads(R.dump_json)
    for key, value in changes.items():
        key = key.replace("__", "-")
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return json.dumps(doc)


# -- parsing ------------------------------------------------------------------------------


def test_channel_rows_from_recorded_replies() -> None:
    assert parse_channel_rows(R.replies[SHOW_CHANNELS][0]) == []
    rows = parse_channel_rows(R.rows_body)
    assert [r["uuid"] for r in rows] == [CALLER1, AGENT1, CALLER2, AGENT2]
    assert rows[0]["cid_name"] == "Ivan Example"


@pytest.mark.parametrize(
    "body, message",
    [
        ("-ERR no reply\n", "did not return JSON"),
        ("{not json", "malformed JSON"),
        ('{"row_count": 1, "rows": {"uuid": "x"}}', "expected a list"),
        ('{"row_count": 1, "rows": [{"name": "no uuid"}]}', "row 0 has no uuid"),
        ('{"row_count": 1, "rows": [{"uuid": ""}]}', "row 0 has no uuid"),
    ],
)
def test_unusable_channel_list_is_a_resync_error(body: str, message: str) -> None:
    with pytest.raises(ResyncError, match=message):
        parse_channel_rows(body)


def test_uuid_dump_json_plain_and_gone() -> None:
    doc = parse_uuid_dump(R.dump_json)
    assert doc is not None and doc["Unique-ID"] == CALLER1 and doc["variable_ctilink_queue"] == "support"
    plain = parse_uuid_dump(R.dump_plain)
    assert plain is not None
    assert plain["Channel-Name"] == "sofia/external/agent1004@127.0.0.1:5090"  # per-value URL decoding
    assert plain["variable_ctilink_agent_id"] == "1004"
    assert parse_uuid_dump("-ERR No such channel!\n") is None


def test_plain_dump_cannot_forge_a_header_with_an_encoded_newline() -> None:
    body = "Unique-ID: u1\nCaller-Caller-ID-Name: Eve%0Avariable_ctilink_role: supervisor\n"
    doc = parse_uuid_dump(body)
    assert doc == {"Unique-ID": "u1", "Caller-Caller-ID-Name": "Eve\nvariable_ctilink_role: supervisor"}


def test_dump_command_refuses_uuids_that_could_break_the_line() -> None:
    assert dump_command(CALLER1) == f"uuid_dump {CALLER1} json"
    for hostile in ("a b", "a\nb", "a\rb", "", "-x", "a;b", "x" * 200):
        assert dump_command(hostile) is None


# -- building events ----------------------------------------------------------------------


def test_bridged_pair_from_recorded_dumps() -> None:
    gone = "-ERR No such channel!\n"
    events = _events({CALLER1: R.dump_json, AGENT1: R.dump_plain, CALLER2: gone, AGENT2: gone})
    assert [(type(e), getattr(e, "uuid", None)) for e in events] == [
        (ChannelCreated, CALLER1),
        (ChannelCreated, AGENT1),
        (ChannelAnswered, CALLER1),
        (ChannelAnswered, AGENT1),
        (ChannelBridged, CALLER1),
        (Resynced, None),
    ]
    assert all(e.resync and e.node == "fs1" and e.core_uuid == CORE for e in events)
    bridged = events[4]
    assert bridged.other_uuid == AGENT1
    agent = events[1]
    assert agent.variables == {
        "ctilink_call_id": "6af636c1-a390-4e9c-9624-582a9f441aba",
        "ctilink_role": "agent",
        "ctilink_agent_id": "1004",
    }
    assert events[0].variables["ctilink_queue"] == "support"
    assert events[0].caller_number == "15551230009"
    assert events[-1].uuids == [CALLER1, AGENT1]  # the vanished pair is not claimed alive
    assert all(e.sequence is None for e in events)


def test_parked_early_and_held_channels() -> None:
    parked = _json_dump(variable_bridge_to=None, **{"Other-Leg-Unique-ID": None})
    early = _json_dump(
        **{"Unique-ID": AGENT1, "Answer-State": "early", "variable_bridge_to": None, "Other-Leg-Unique-ID": None}
    )
    events = _events({CALLER1: parked, AGENT1: early, CALLER2: "-ERR No such channel!", AGENT2: "-ERR gone"})
    kinds = [(type(e).__name__, e.uuid if hasattr(e, "uuid") else None) for e in events]
    assert kinds == [
        ("ChannelCreated", CALLER1),
        ("ChannelCreated", AGENT1),
        ("ChannelAnswered", CALLER1),
        ("ChannelParked", CALLER1),
        ("ChannelProgress", AGENT1),
        ("ChannelParked", AGENT1),  # parked with early media (hold music before answer)
        ("Resynced", None),
    ]
    assert isinstance(events[4], ChannelProgress) and events[4].media is True

    held = _json_dump(**{"Channel-Call-State": "HELD"})
    agent = _json_dump(**{"Unique-ID": AGENT1, "variable_bridge_to": CALLER1, "Other-Type": "originator"})
    events = _events({CALLER1: held, AGENT1: agent, CALLER2: "-ERR", AGENT2: "-ERR"})
    assert [type(e) for e in events][-3:] == [ChannelBridged, ChannelHeld, Resynced]
    assert events[-3].uuid == CALLER1 and events[-3].other_uuid == AGENT1
    assert events[-2].uuid == CALLER1
    assert not any(isinstance(e, ChannelParked) for e in events)  # bridged channels are not parked


def test_stale_other_leg_without_bridge_to_is_not_a_bridge() -> None:
    # The caller's dump still names its former other leg, but bridge_to is gone (unbridged)
    # and the other leg does not point back: no bridge may be invented.
    caller = _json_dump(variable_bridge_to=None)
    agent = _json_dump(**{"Unique-ID": AGENT1, "variable_bridge_to": None, "Other-Leg-Unique-ID": None})
    events = _events({CALLER1: caller, AGENT1: agent, CALLER2: "-ERR", AGENT2: "-ERR"})
    assert not any(isinstance(e, ChannelBridged) for e in events)


def test_undecodable_dump_falls_back_to_the_list_row() -> None:
    bad: list = []
    events = _events(
        {CALLER1: "garbage\x00", AGENT1: _json_dump(**{"Unique-ID": CALLER2}), CALLER2: None, AGENT2: "-ERR"}, bad=bad
    )
    created = {e.uuid: e for e in events if isinstance(e, ChannelCreated)}
    assert set(created) == {CALLER1, AGENT1, CALLER2}
    assert created[CALLER1].caller_name == "Ivan Example"  # from the row
    assert created[CALLER1].variables == {}  # the row has no variables
    assert created[AGENT1].channel_name == "sofia/external/agent1004@127.0.0.1:5090"  # not CALLER2's dump
    assert {u for u, _ in bad} == {CALLER1, AGENT1}
    assert events[-1].uuids == [CALLER1, AGENT1, CALLER2]


def test_dump_the_normalizer_refuses_falls_back_to_the_row() -> None:
    bad: list = []
    events = _events(
        {CALLER1: _json_dump(**{"Event-Date-Timestamp": "yesterday"}), AGENT1: "-ERR", CALLER2: "-ERR", AGENT2: "-ERR"},
        bad=bad,
    )
    assert [type(e) for e in events] == [ChannelCreated, ChannelAnswered, Resynced]
    assert bad and bad[0][0] == CALLER1


def test_run_resync_queries_only_safe_uuids_and_reports_hostile_rows() -> None:
    hostile = "evil\napi fsctl shutdown"
    rows = json.loads(R.rows_body)
    rows["rows"] = [*rows["rows"][:2], dict(rows["rows"][2], uuid=hostile)]
    sent: list[str] = []

    def query(commands: list[str]) -> list[str]:
        sent.extend(commands)
        answers = {SHOW_CHANNELS: json.dumps(rows), f"uuid_dump {CALLER1} json": R.dump_json}
        return [answers.get(c, "-ERR No such channel!\n") for c in commands]

    bad: list = []
    events = run_resync(query, Normalizer("fs1"), "fs1", CORE, lambda u, why: bad.append(u))
    assert sent == [SHOW_CHANNELS, f"uuid_dump {CALLER1} json", f"uuid_dump {AGENT1} json"]
    assert all("\n" not in c for c in sent)
    assert events[-1].uuids == [CALLER1, hostile]  # described from its row, never sent anywhere
    assert bad == [hostile[:80]]


def test_run_resync_with_no_channels_is_just_the_marker() -> None:
    events = run_resync(lambda cmds: ['{"row_count": 0}\n' for _ in cmds], Normalizer("n"), "n", CORE)
    assert events == [Resynced(node="n", core_uuid=CORE, uuids=[])]


# -- invariants over arbitrary snapshots ------------------------------------------------------

_STATE = st.fixed_dictionaries(
    {
        "answer": st.sampled_from(["answered", "early", "ringing", None]),
        "callstate": st.sampled_from(["ACTIVE", "HELD", "RINGING", "EARLY", "DOWN"]),
        "app": st.sampled_from(["park", "playback", "", None]),
        "dump": st.sampled_from(["json", "gone", "garbage", "none"]),
    }
)


@settings(max_examples=60, deadline=None)
@given(states=st.lists(_STATE, min_size=0, max_size=6), pairs=st.data())
def test_resync_invariants(states: list[dict], pairs: st.DataObject) -> None:
    uuids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(len(states))]
    partner: dict[str, str] = {}
    free = list(uuids)
    while len(free) >= 2 and pairs.draw(st.booleans()):
        a, b = free.pop(0), free.pop(0)
        partner[a], partner[b] = b, a
    rows, dumps = [], {}
    for u, s in zip(uuids, states, strict=False):
        rows.append(
            {
                "uuid": u,
                "direction": "inbound",
                "callstate": s["callstate"],
                "application": s["app"] or "",
                "created_epoch": "1",
            }
        )
        doc = json.loads(R.dump_json)
        doc.update({"Unique-ID": u, "Channel-Call-State": s["callstate"]})
        for k in ("Answer-State", "variable_bridge_to", "Other-Leg-Unique-ID", "Other-Type"):
            doc.pop(k, None)
        if s["answer"]:
            doc["Answer-State"] = s["answer"]
        if u in partner:
            doc["variable_bridge_to"] = partner[u]
        dumps[u] = {"json": json.dumps(doc), "gone": "-ERR No such channel!", "garbage": "}{", "none": None}[s["dump"]]
    events = _events(dumps, json.dumps({"row_count": len(rows), "rows": rows}))
    marker = events[-1]
    assert isinstance(marker, Resynced) and not any(isinstance(e, Resynced) for e in events[:-1])
    alive = [u for u, s in zip(uuids, states, strict=False) if s["dump"] != "gone"]
    assert marker.uuids == alive
    created = [e.uuid for e in events if isinstance(e, ChannelCreated)]
    assert created == alive
    first_other = next((i for i, e in enumerate(events) if not isinstance(e, ChannelCreated)), len(events))
    assert all(isinstance(e, ChannelCreated) for e in events[:first_other])
    assert all(e.resync and e.node == "fs1" for e in events)
    for e in events:
        if hasattr(e, "uuid"):
            assert e.uuid in alive
    bridged = [e for e in events if isinstance(e, ChannelBridged)]
    for e in bridged:
        assert partner[e.uuid] == e.other_uuid
        # bridge_to from one fresh dump is authority enough; a bridge is never made up from rows
        assert "json" in (states[uuids.index(e.uuid)]["dump"], states[uuids.index(e.other_uuid)]["dump"])
    legs = [leg for e in bridged for leg in (e.uuid, e.other_uuid)]
    assert len(legs) == len(set(legs))  # one ChannelBridged per pair
    for e in events:
        if isinstance(e, ChannelParked):
            assert e.uuid not in {leg for leg in legs}


# -- through a connection ---------------------------------------------------------------------

import uuid as uuidlib  # noqa: E402

from prometheus_client import CollectorRegistry  # noqa: E402

from ctilink.commands import Bridge, Hold, Originate  # noqa: E402
from ctilink.esl.backoff import Backoff  # noqa: E402
from ctilink.esl.connection import EslConnection  # noqa: E402
from ctilink.events import Heartbeat, JobCompleted  # noqa: E402
from ctilink.testing.fake_switch import FakeSwitch  # noqa: E402

WAIT = 10.0


def _next(conn: EslConnection) -> Any:
    event = conn.get(timeout=WAIT)
    assert event is not None, "no event arrived"
    return event


def _until(conn: EslConnection, kind: type, pred: Any = lambda e: True) -> Any:
    while True:
        event = _next(conn)
        if isinstance(event, kind) and pred(event):
            return event


def test_resync_on_connect_and_after_reconnect_rebuilds_every_live_channel() -> None:
    switch = FakeSwitch(heartbeat_interval=None, time_scale=0)
    switch.start()
    registry = CollectorRegistry()
    conn = EslConnection(
        "fs1", switch.host, switch.port, "ClueCon", registry=registry, backoff=Backoff(initial=0.02, cap=0.05)
    )
    try:
        parked = switch.inbound_call("15551230001", "Alice Example", "7000", {"ctilink_queue": "support"})
        conn.start()
        first = [_next(conn), _next(conn), _next(conn)]
        assert [type(e) for e in first] == [ChannelCreated, ChannelParked, Resynced]
        assert first[0].uuid == parked and first[0].variables == {"ctilink_queue": "support"}
        assert first[2].uuids == [parked] and first[2].core_uuid == switch.core_uuid

        # Build a bridged call with the agent on hold, watching it live.
        caller = switch.inbound_call("15551230002", "Bob Example", "7001", {"ctilink_queue": "sales"}, answered=True)
        agent, call_id = str(uuidlib.uuid4()), str(uuidlib.uuid4())
        conn.bgapi(
            Originate(
                uuid=agent,
                job_uuid=str(uuidlib.uuid4()),
                dial_string="sofia/external/agent1001@127.0.0.1:5090",
                variables={"ctilink_call_id": call_id, "ctilink_role": "agent", "ctilink_agent_id": "1001"},
            ),
            timeout=WAIT,
        ).wait(WAIT)
        assert conn.api(Bridge(uuid=caller, other_uuid=agent), timeout=WAIT).ok
        live_bridge = _until(conn, ChannelBridged)
        assert conn.api(Hold(uuid=agent), timeout=WAIT).ok
        _until(conn, ChannelHeld)

        switch.disconnect(notice=False)
        events = []
        while not events or not isinstance(events[-1], Resynced):
            event = _next(conn)
            if event.resync:
                events.append(event)
        kinds = [(type(e), getattr(e, "uuid", None)) for e in events]
        assert kinds == [
            (ChannelCreated, parked),
            (ChannelCreated, caller),
            (ChannelCreated, agent),
            (ChannelParked, parked),
            (ChannelAnswered, caller),
            (ChannelAnswered, agent),
            (ChannelBridged, caller),
            (ChannelHeld, agent),
            (Resynced, None),
        ]
        by_kind = {(type(e), getattr(e, "uuid", None)): e for e in events}
        agent_created = by_kind[(ChannelCreated, agent)]
        assert agent_created.variables == {
            "ctilink_call_id": call_id,
            "ctilink_role": "agent",
            "ctilink_agent_id": "1001",
        }
        assert by_kind[(ChannelCreated, caller)].variables == {"ctilink_queue": "sales"}
        bridged = by_kind[(ChannelBridged, caller)]
        assert bridged.other_uuid == agent == live_bridge.other_uuid
        assert events[-1].uuids == [parked, caller, agent]
        assert all(e.node == "fs1" and e.core_uuid == switch.core_uuid for e in events)

        # Live events of the new session come after the marker, unmarked.
        switch.emit({"Event-Name": "HEARTBEAT"})
        after = _until(conn, Heartbeat)
        assert not after.resync
        assert registry.get_sample_value("ctilink_esl_resyncs_total", {"node": "fs1"}) == 2
    finally:
        conn.stop()
        switch.stop()


def test_channels_gone_while_disconnected_are_absent_from_the_marker() -> None:
    switch = FakeSwitch(heartbeat_interval=None, time_scale=0)
    switch.start()
    conn = EslConnection(
        "fs1",
        switch.host,
        switch.port,
        "ClueCon",
        registry=CollectorRegistry(),
        backoff=Backoff(initial=0.02, cap=0.05),
    )
    try:
        a = switch.inbound_call("15551230001", "Alice Example", "7000")
        b = switch.inbound_call("15551230002", "Bob Example", "7000")
        conn.start()
        assert _until(conn, Resynced).uuids == [a, b]
        switch.go_silent()  # nothing of what follows reaches us...
        switch._hangup(switch.channels[a], "NORMAL_CLEARING")
        switch.resume()
        switch.disconnect(notice=False)  # ...and the next session's snapshot tells the truth
        marker = _until(conn, Resynced)
        assert marker.uuids == [b]
        job = conn.bgapi("status", timeout=WAIT).wait(WAIT)
        assert isinstance(job, JobCompleted)
    finally:
        conn.stop()
        switch.stop()


def test_live_events_during_the_resync_come_after_the_marker() -> None:
    switch = FakeSwitch(heartbeat_interval=None, time_scale=0)
    switch.start()
    conn = EslConnection(
        "fs1",
        switch.host,
        switch.port,
        "ClueCon",
        registry=CollectorRegistry(),
        backoff=Backoff(initial=0.02, cap=0.05),
    )

    def show_channels(args: str) -> str:
        # FreeSWITCH keeps sending events while it answers our snapshot queries.
        switch.emit({"Event-Name": "HEARTBEAT", "Session-Count": "41"})
        return '{"row_count": 0}\n'

    switch.set_api_handler("show channels as json", show_channels)
    try:
        conn.start()
        first, second = _next(conn), _next(conn)
        assert isinstance(first, Resynced)
        assert isinstance(second, Heartbeat) and second.session_count == 41 and not second.resync
    finally:
        conn.stop()
        switch.stop()
