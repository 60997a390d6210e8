"""The fake ESL server, driven by a minimal raw-socket client (not greenswitch, not ctilink's
connection): wire format, auth, subscriptions, api/bgapi, the channel model and failure injection."""

from __future__ import annotations

import json
from collections.abc import Iterator

import gevent.socket
import pytest

from ctilink.commands import Bridge, Hangup, Originate, SetVariables
from ctilink.esl.render import render
from ctilink.testing.esl_wire import FrameReader, parse_event
from ctilink.testing.fake_switch import Endpoint, FakeSwitch
from ctilink.testing.recordings import Recordings

AGENT = "fb7ceee2-7c9b-4407-b9f5-172452f8ce39"
JOB = "ac7edb4a-28ff-4bbe-9621-1ca268b494c5"


class Client:
    def __init__(self, srv: FakeSwitch) -> None:
        self.sock = gevent.socket.create_connection((srv.host, srv.port))
        self.sock.settimeout(10)  # a safety net against hangs, never a pass/fail criterion
        self.reader = FrameReader(self.sock)
        self.pending: list[dict[str, str]] = []

    def send(self, data: str | bytes) -> None:
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def frame(self) -> tuple[dict[str, str], bytes]:
        return self.reader.read()

    def reply(self) -> tuple[dict[str, str], bytes]:
        """Next non-event frame; events met on the way are kept for :meth:`event`."""
        while True:
            h, b = self.frame()
            if h.get("Content-Type", "").startswith("text/event-"):
                self.pending.append(parse_event(h, b))
                continue
            return h, b

    def event(self, name: str, **match: str) -> dict[str, str]:
        while True:
            for i, e in enumerate(self.pending):
                if e.get("Event-Name") == name and all(e.get(k) == v for k, v in match.items()):
                    return self.pending.pop(i)
            h, b = self.frame()
            assert h["Content-Type"].startswith("text/event-"), (h, b)
            self.pending.append(parse_event(h, b))

    def login(self, fmt: str = "json", events: str = "ALL") -> None:
        assert self.frame()[0] == {"Content-Type": "auth/request"}
        self.send("auth ClueCon\n\n")
        assert self.reply()[0]["Reply-Text"] == "+OK accepted"
        self.send(f"event {fmt} {events}\n\n")
        assert self.reply()[0]["Reply-Text"] == f"+OK event listener enabled {fmt}"

    def api(self, text: str) -> str:
        self.send(f"api {text}\n\n")
        h, b = self.reply()
        assert h["Content-Type"] == "api/response" and int(h["Content-Length"]) == len(b)
        return b.decode()


@pytest.fixture
def srv() -> Iterator[FakeSwitch]:
    s = FakeSwitch(heartbeat_interval=None, time_scale=0)
    s.start()
    yield s
    s.stop()


@pytest.fixture
def client(srv: FakeSwitch) -> Iterator[Client]:
    c = Client(srv)
    c.login()
    yield c
    c.sock.close()


def test_bad_password_is_refused_and_disconnected(srv: FakeSwitch) -> None:
    c = Client(srv)
    c.frame()
    c.send("auth nope\n\n")
    assert c.frame()[0] == {"Content-Type": "command/reply", "Reply-Text": "-ERR invalid"}
    with pytest.raises(ConnectionError):
        c.frame()


def test_api_status_unknown_command_and_exit(client: Client, srv: FakeSwitch) -> None:
    assert "is ready" in client.api("status")
    assert client.api("ctilink_no_such_command") == "-ERR ctilink_no_such_command Command not found!\n"
    assert client.api(f"uuid_kill {AGENT}") == "-ERR No such channel!\n"
    assert client.api("show channels as json") == '{"row_count": 0}\n'
    client.send("exit\n\n")
    assert client.reply()[0]["Reply-Text"] == "+OK bye"
    h, body = client.reply()
    assert h["Content-Type"] == "text/disconnect-notice" and body.startswith(b"Disconnected, goodbye.")
    assert srv.commands[:2] == ["auth ClueCon", "event json ALL"] and srv.commands[-1] == "exit"


def test_bgapi_originate_answers_with_job_and_channel_events(client: Client, srv: FakeSwitch) -> None:
    cmd = Originate(
        uuid=AGENT,
        dial_string="sofia/external/agent1001@127.0.0.1:5090",
        job_uuid=JOB,
        variables={"ctilink_call_id": "c1", "ctilink_role": "agent"},
        caller_id_number="15551230001",
        caller_id_name='Zoë, "Z"',
        timeout_s=15,
    )
    client.send(render(cmd).wire())
    h, _ = client.reply()
    assert h == {"Content-Type": "command/reply", "Reply-Text": f"+OK Job-UUID: {JOB}", "Job-UUID": JOB}
    create = client.event("CHANNEL_CREATE", **{"Unique-ID": AGENT})
    assert create["Call-Direction"] == "outbound" and create["variable_ctilink_call_id"] == "c1"
    assert create["Caller-Caller-ID-Name"] == 'Zoë, "Z"'
    client.event("CHANNEL_PROGRESS", **{"Unique-ID": AGENT})
    client.event("CHANNEL_ANSWER", **{"Unique-ID": AGENT})
    job = client.event("BACKGROUND_JOB", **{"Job-UUID": JOB})
    assert job["_body"] == f"+OK {AGENT}\n" and job["Job-Command"] == "originate"
    client.event("CHANNEL_PARK", **{"Unique-ID": AGENT})
    assert int(job["Event-Sequence"]) > int(create["Event-Sequence"])
    assert AGENT in srv.channels


def test_busy_agent_ends_with_user_busy(client: Client, srv: FakeSwitch) -> None:
    srv.set_endpoint("sofia/external/agent1002@", Endpoint("busy"))
    cmd = Originate(uuid=AGENT, dial_string="sofia/external/agent1002@127.0.0.1:5092", job_uuid=JOB)
    client.send(render(cmd).wire())
    client.reply()
    done = client.event("CHANNEL_HANGUP_COMPLETE", **{"Unique-ID": AGENT})
    assert done["Hangup-Cause"] == "USER_BUSY" and done["variable_sip_term_status"] == "486"
    assert client.event("BACKGROUND_JOB")["_body"] == "-ERR USER_BUSY\n"
    assert AGENT not in srv.channels


@pytest.mark.parametrize(
    ("kind", "body"), [("no_answer", "-ERR NO_ANSWER\n"), ("fail", "-ERR NORMAL_TEMPORARY_FAILURE\n")]
)
def test_api_originate_blocks_until_the_outcome(client: Client, srv: FakeSwitch, kind: str, body: str) -> None:
    srv.set_endpoint("sofia/external/nobody@", Endpoint(kind))  # type: ignore[arg-type]
    assert client.api("originate {originate_timeout=3}sofia/external/nobody@127.0.0.1:5999 &park()") == body


def test_inbound_call_bridge_and_kill(client: Client, srv: FakeSwitch, recordings: Recordings) -> None:
    caller = srv.inbound_call("15551230001", "Alice Example", "7000", {"ctilink_queue": "support"})
    park = client.event("CHANNEL_PARK", **{"Unique-ID": caller})
    assert park["variable_ctilink_queue"] == "support" and park["Caller-Destination-Number"] == "7000"
    assert client.api(render(SetVariables(uuid=caller, variables={"ctilink_call_id": "c 1;x"})).text) == "+OK\n"
    assert srv.channels[caller].variables["ctilink_call_id"] == "c 1;x"
    client.send(render(Originate(uuid=AGENT, dial_string="user/1001", job_uuid=JOB)).wire())
    assert client.reply()[0]["Job-UUID"] == JOB
    client.event("BACKGROUND_JOB")
    assert client.api(render(Bridge(uuid=caller, other_uuid=AGENT)).text) == f"+OK {AGENT}\n"
    client.event("CHANNEL_UNPARK", **{"Unique-ID": caller})
    bridge = client.event("CHANNEL_BRIDGE")
    assert (bridge["Bridge-A-Unique-ID"], bridge["Bridge-B-Unique-ID"]) == (caller, AGENT)
    rows = json.loads(client.api("show channels as json"))
    assert rows["row_count"] == 2 and {r["uuid"] for r in rows["rows"]} == {caller, AGENT}
    recorded = next(
        r.data.decode() for r in recordings.controller_records("api_responses") if b'"row_count":4' in r.data
    )
    recorded_row = json.loads(recorded.split("\n\n", 1)[1])["rows"][0]
    assert list(rows["rows"][0]) == list(recorded_row)
    dump = json.loads(client.api(f"uuid_dump {caller} json"))
    assert dump["Event-Name"] == "CHANNEL_DATA" and dump["variable_ctilink_call_id"] == "c 1;x"
    assert client.api(render(Hangup(uuid=caller)).text) == "+OK\n"
    assert client.event("CHANNEL_HANGUP_COMPLETE", **{"Unique-ID": caller})["Hangup-Cause"] == "NORMAL_CLEARING"
    client.event("CHANNEL_UNBRIDGE")
    assert client.event("CHANNEL_HANGUP_COMPLETE", **{"Unique-ID": AGENT})["Hangup-Cause"] == "NORMAL_CLEARING"
    assert srv.channels == {}


def test_plain_format_is_url_encoded_with_byte_lengths(srv: FakeSwitch) -> None:
    c = Client(srv)
    c.login(fmt="plain", events="CHANNEL_PARK HEARTBEAT")
    srv.inbound_call("15551230001", "Zoë Example", "7000")
    h, body = c.frame()
    assert h["Content-Type"] == "text/event-plain" and int(h["Content-Length"]) == len(body)
    assert b"Caller-Caller-ID-Name: Zo%C3%AB%20Example\n" in body
    assert b"FreeSWITCH-IPv6: %3A%3A1\n" in body
    srv.emit({"Event-Name": "BACKGROUND_JOB", "Job-UUID": JOB}, "-ERR é\n")  # not subscribed: filtered out
    srv.emit({"Event-Name": "HEARTBEAT"})
    assert parse_event(*c.frame())["Event-Name"] == "HEARTBEAT"


def test_wait_for_command_and_api_handler(client: Client, srv: FakeSwitch) -> None:
    srv.set_api_handler("sofia status", lambda args: "custom\n")
    g = gevent.spawn(srv.wait_for_command, lambda t: t.startswith("api sofia"))
    assert client.api("sofia status") == "custom\n"
    assert g.get(timeout=10) == "api sofia status"


def test_heartbeats_and_go_silent() -> None:
    with FakeSwitch(heartbeat_interval=0.01, time_scale=0) as srv:
        c = Client(srv)
        c.login(events="HEARTBEAT")
        hb = c.event("HEARTBEAT")
        assert hb["Core-UUID"] == srv.core_uuid and hb["Event-Info"] == "System Ready"
        srv.go_silent()
        c.send("api status\n\n")
        srv.wait_for_command(lambda t: t == "api status")
        c.sock.settimeout(0.2)
        with pytest.raises(TimeoutError):  # silence is the behaviour under test
            while True:
                c.frame()


def test_disconnect_rude_rejection_and_raw_bytes(srv: FakeSwitch) -> None:
    c = Client(srv)
    c.login()
    srv.send_raw(b"Content-Type: text/event-json\nContent-Length: 3\n\n{x}")
    h, body = c.frame()
    assert body == b"{x}"
    srv.disconnect(notice=True)
    h, body = c.frame()
    assert h["Content-Type"] == "text/disconnect-notice" and body == b"The system is being shut down.\n"
    srv.rude_rejection()
    d = Client(srv)
    h, body = d.frame()
    assert h["Content-Type"] == "text/rude-rejection" and body == b"Access Denied, go away.\n"


def test_replay_sends_every_fixture_event_in_order(client: Client, srv: FakeSwitch, recordings: Recordings) -> None:
    n = srv.replay(recordings.json_stream("agent_busy"))
    assert n == 56
    seqs = [int(client.event(name)["Event-Sequence"]) for name in ["CHANNEL_CREATE", "CHANNEL_PARK", "BACKGROUND_JOB"]]
    assert seqs == sorted(seqs)


def test_bridging_a_leg_its_originate_still_owns_cancels_the_originate_not_the_leg(
    client: Client, srv: FakeSwitch
) -> None:
    """As recorded from FreeSWITCH 1.10.12 (tests/fixtures/esl-ctilink/answer_bridge_race): a
    uuid_bridge after the agent leg's CHANNEL_ANSWER but before its originate returned makes the
    job -ERR ORIGINATOR_CANCEL, while the leg lives on, bridged."""
    caller = srv.inbound_call("15551230001", "Caller", "7000", {"ctilink_queue": "support"})
    client.event("CHANNEL_PARK", **{"Unique-ID": caller})
    cmd = Originate(
        uuid=AGENT,
        dial_string="sofia/external/agent1001@127.0.0.1:5090",
        job_uuid=JOB,
        variables={"ctilink_call_id": "c1", "ctilink_role": "agent"},
        timeout_s=15,
        application="park",
    )
    client.send(render(cmd).wire())
    client.reply()
    client.event("CHANNEL_ANSWER", **{"Unique-ID": AGENT})
    assert client.api(render(Bridge(uuid=caller, other_uuid=AGENT)).text) == f"+OK {AGENT}\n"
    job = client.event("BACKGROUND_JOB", **{"Job-UUID": JOB})
    assert job["_body"] == "-ERR ORIGINATOR_CANCEL\n"
    assert AGENT in srv.channels and caller in srv.channels
    bridge = client.event("CHANNEL_BRIDGE")
    assert (bridge["Bridge-A-Unique-ID"], bridge["Bridge-B-Unique-ID"]) == (caller, AGENT)
