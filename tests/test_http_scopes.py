"""Who may do what, for every route of the table: roles x queue and team scopes, end to end.

The matrix is generated from ``routes()``: a route without an expectation here fails. Each route
gets a fresh world (FakeSwitch <-> daemon <-> API) holding a sales call answered by agent 1002, a
preview campaign of queue sales and list entries of several scopes. The principals that must be
refused go first, on the untouched world, and must change nothing (no agent, call, profile, list
or campaign changed, the engine refused nothing and sent the switch nothing); then the allowed
ones, least privileged first.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import gevent.event
import gevent.socket
import pytest

from ctilink.config import parse_config
from ctilink.core import notifications as nt
from ctilink.service.api.routes import routes
from ctilink.service.callbacks import Callbacks
from ctilink.service.daemon import Daemon
from ctilink.testing.fake_switch import FakeSwitch

TOKENS = {
    "admin": "admin-token-xxxxxxxxxxxxx",
    "sup_all": "supervisor-all-xxxxxxxxxxx",
    "sup_queue": "supervisor-support-xxxxxxx",  # queues = [support]
    "sup_team": "supervisor-team-1001-xxxxx",  # agents = [1001]
    "own": "agent-1002-token-xxxxxxxx",  # the target agent itself
    "other": "agent-1001-token-xxxxxxxx",
}
#: Least privileged first: the allowed ones run in this order, so the weakest act on the untouched world.
ORDER = ("other", "own", "sup_team", "sup_queue", "sup_all", "admin")
LETTER = {"A": "admin", "S": "sup_all", "Q": "sup_queue", "T": "sup_team", "O": "own"}


@dataclass(frozen=True)
class Case:
    allowed: str  # letters of LETTER: who may (everyone else is 403; no token is 401)
    body: Any = None
    query: str = ""


A = "/v1/agents/{agent_id}"
C = "/v1/calls/{call_id}"
K = "/v1/campaigns/{name}"
L = "/v1/lists/{list_name}"
AGENT = "ASQO"  # the agent itself; supervisors whose team holds it (sup_queue has no team limit)
CALL = "ASO"  # the agent on it; supervisors of its queue (sales) whose team holds its agent (1002)
VIEW = "ASQT"  # every supervisor, filtered
CAMPAIGN = "AST"  # spring's queue is sales: not sup_queue's

EXPECT: dict[tuple[str, str], list[Case]] = {
    ("GET", "/v1/agents"): [Case(VIEW)],
    ("GET", A): [Case(AGENT)],
    ("GET", A + "/history"): [Case(AGENT)],
    ("GET", A + "/events"): [Case(AGENT)],
    ("POST", A + "/login"): [Case(AGENT, {})],
    ("POST", A + "/logout"): [Case(AGENT)],
    ("POST", A + "/ready"): [Case(AGENT)],
    ("POST", A + "/not-ready"): [Case(AGENT, {"reason": "lunch"})],
    ("POST", A + "/end-wrap-up"): [Case(AGENT)],
    ("POST", A + "/dial"): [Case(AGENT, {"number": "5551239999"})],
    ("POST", A + "/force-state"): [Case("ASQ", {"state": "ready"})],
    # Monitoring 1002 is listening to its sales call: sup_queue's queue is support.
    ("POST", A + "/monitor"): [Case("AS", {"dial_string": "user/2001"})],
    ("GET", "/v1/calls"): [Case(VIEW)],
    ("GET", C): [Case(CALL)],
    ("POST", C + "/hold"): [Case(CALL)],
    ("POST", C + "/unhold"): [Case(CALL)],
    ("POST", C + "/transfer"): [Case(CALL, {"number": "5000"})],
    ("POST", C + "/hangup"): [Case(CALL, {})],
    ("POST", C + "/dtmf"): [Case(CALL, {"digits": "1"})],
    ("POST", C + "/recording/start"): [Case(CALL, {})],
    ("POST", C + "/recording/stop"): [Case(CALL, {})],
    ("GET", "/v1/queues"): [Case(VIEW)],
    ("GET", "/v1/queues/{name}"): [Case("AST")],
    ("GET", "/v1/abandoned"): [Case(VIEW)],
    ("GET", L): [Case(VIEW), Case("AS", query="scope=global"), Case("AST", query="scope=queue:sales")],
    ("POST", L + "/entries"): [
        Case("AS", {"number": "+15557770000"}),
        Case("AS", {"number": "+15557770000", "scope": "did:+15550001000"}),
        Case("AST", {"number": "+15557770000", "scope": "queue:sales"}),
        Case("AST", {"number": "+15557770000", "scope": " QUEUE:sales"}),  # the canonical form decides
        Case("AST", {"number": "+15557770000", "scope": "campaign:spring"}),
        Case(VIEW, {"number": "+15557770000", "scope": "queue:support"}),
    ],
    ("DELETE", L + "/entries/{number}"): [Case("AS"), Case("AST", query="scope=queue:sales")],
    ("POST", L + "/import"): [
        Case(
            "AST",
            {
                "entries": [
                    {"number": "+15557770001", "scope": "queue:support"},
                    {"number": "+15557770002", "scope": "queue:sales"},
                ]
            },
        ),
    ],
    ("GET", "/v1/campaigns"): [Case(VIEW)],
    ("GET", K): [Case(CAMPAIGN)],
    ("POST", K + "/start"): [Case(CAMPAIGN)],
    ("POST", K + "/pause"): [Case(CAMPAIGN)],
    ("POST", K + "/resume"): [Case(CAMPAIGN)],
    ("POST", K + "/stop"): [Case(CAMPAIGN)],
    # 1002's preview in spring: the agent itself; supervisors need both the campaign's queue and 1002.
    ("POST", K + "/preview/{agent_id}/accept"): [Case("ASO")],
    ("POST", K + "/preview/{agent_id}/skip"): [Case("ASO", {})],
    ("POST", K + "/contacts/{contact_id}/callback"): [
        Case("ASO", {"at": 2e9, "agent_id": "1002"}),
        Case("AST", {"at": 2e9}),
    ],
    ("POST", "/v1/admin/reload"): [Case("A")],
    ("GET", "/v1/webhooks/dead-letters"): [Case("A")],
    ("POST", "/v1/webhooks/dead-letters/{endpoint}/{event_id}/retry"): [Case("A")],
}


def _config(switch: FakeSwitch, store: Path) -> Any:
    return parse_config(
        {
            "nodes": [{"name": "fs-test", "host": switch.host, "port": switch.port, "password": "pw-test"}],
            "http": {"listen": "127.0.0.1:0"},
            "metrics": {"enabled": False},
            "store": {"path": str(store)},
            "api": {
                "tokens": [
                    {"name": "admin", "token": TOKENS["admin"], "role": "admin"},
                    {"name": "sup_all", "token": TOKENS["sup_all"], "role": "supervisor"},
                    {"name": "sup_queue", "token": TOKENS["sup_queue"], "role": "supervisor", "queues": ["support"]},
                    {"name": "sup_team", "token": TOKENS["sup_team"], "role": "supervisor", "agents": ["1001"]},
                    {"name": "own", "token": TOKENS["own"], "role": "agent", "agent_id": "1002"},
                    {"name": "other", "token": TOKENS["other"], "role": "agent", "agent_id": "1001"},
                ]
            },
            "calls": {"dial_template": "sofia/gateway/carrier/{number}", "caller_id_number": "+15550001111"},
            "queues": [
                {"name": "support", "required_skills": {"support": 3}, "wrap_up_s": 0},
                {"name": "sales", "required_skills": {"sales": 3}, "wrap_up_s": 0},
            ],
            "agents": [
                {"id": "1001", "endpoints": ["user/1001"], "skills": {"support": 5}},
                {"id": "1002", "endpoints": ["user/1002"], "skills": {"sales": 5}},
            ],
            "campaigns": [
                {"name": "spring", "queue": "sales", "mode": "preview", "agents": ["1002"], "autostart": False}
            ],
        }
    )


@dataclass
class World:
    daemon: Daemon
    switch: FakeSwitch
    calls: dict[str, str]  # queue -> call id of the call answered there
    rejected: list[object]  # every InputRejected the engine announced
    barriers: int = 0

    def request(self, method: str, path: str, who: str | None, body: Any = None) -> tuple[int, Any]:
        """(status, JSON body or None for an event stream); the stream is not read."""
        assert self.daemon.http_address is not None
        conn = _Conn(*self.daemon.http_address, timeout=10)
        headers = {"Authorization": f"Bearer {TOKENS[who]}"} if who else {}
        data = json.dumps(body).encode() if body is not None else None
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            if resp.getheader("Content-Type", "").startswith("text/event-stream"):
                return resp.status, None
            return resp.status, json.loads(resp.read() or b"null")
        finally:
            conn.close()

    def commands_until_barrier(self, since: int) -> list[str]:
        """The switch commands sent after ``since``, up to a marker command sent now.

        The marker goes through the engine and the same switch connection as anything a request
        before it produced, so whatever that produced has arrived once the marker has.
        """
        self.barriers += 1
        digits = f"*#{self.barriers}"
        status, _ = self.request("POST", f"/v1/calls/{self.calls['sales']}/dtmf", "admin", {"digits": digits})
        assert status == 200
        self.switch.wait_for_command(lambda t: "uuid_send_dtmf" in t and t.endswith(" " + digits), timeout=5)
        sent = self.switch.commands[since:]
        return sent[: next(i for i, t in enumerate(sent) if t.endswith(" " + digits))]

    def fingerprint(self) -> Any:
        """What a request could change: agents, calls, profiles, lists, campaigns, engine refusals."""
        d = self.daemon
        snap = d.engine.snapshot(time.time())
        return (
            len(self.rejected),
            [
                (
                    a.agent_id,
                    a.state,
                    a.reason,
                    a.pending_not_ready,
                    a.pending_logout,
                    a.calls,
                    a.on_hold,
                    a.reserved_for,
                )
                for a in snap.agents
            ],
            [(c.call_id, c.state, c.queue, c.agent_id, c.ringing_agents) for c in snap.calls],
            [d.engine.agent_profile(i) for i in ("1001", "1002")],
            [d.engine.query_list(name) for name in ("blacklist", "whitelist", "dnc")],
            [(s.campaign, s.state, s.pending) for s in d.campaign_stats()],
        )


class _Conn(http.client.HTTPConnection):
    def connect(self) -> None:
        self.sock = gevent.socket.create_connection((self.host, self.port), self.timeout)


def _answer(world: World, agent: str, queue: str, caller: str) -> None:
    answered = gevent.event.AsyncResult()
    world.daemon.callbacks.on(nt.CallAnswered, answered.set)
    assert world.request("POST", f"/v1/agents/{agent}/login", "admin", {})[0] == 200
    assert world.request("POST", f"/v1/agents/{agent}/ready", "admin")[0] == 200
    uuid = world.switch.inbound_call(caller, "Caller", "7000", {"ctilink_queue": queue})
    world.calls[queue] = answered.get(timeout=5).call_id
    # The hand-off ends with the bridge; then the call is quiet (what follows is the switch's news).
    world.switch.wait_for_command(lambda t: t.startswith("api uuid_bridge") and uuid in t, timeout=5)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    switch = FakeSwitch(password="pw-test", time_scale=0, heartbeat_interval=3600)
    switch.start()
    d = Daemon.live(_config(switch, tmp_path / "ctilink.db"))
    d.callbacks = Callbacks()
    d.start()
    try:
        assert d.links[0].conn.wait_connected(5)
        w = World(d, switch, {}, [])
        d.callbacks.on(nt.InputRejected, w.rejected.append)
        _answer(w, "1002", "sales", "15551230001")
        for number, scope in (
            ("+15557779001", "global"),
            ("+15557779002", "queue:support"),
            ("+15557779003", "queue:sales"),
        ):
            status, _ = w.request("POST", "/v1/lists/dnc/entries", "admin", {"number": number, "scope": scope})
            assert status == 201
        assert d.loop is not None
        d.loop.refresh_snapshot(time.time())
        yield w
    finally:
        d.stop()
        switch.stop()


def _path(world: World, template: str) -> str:
    values = {
        "agent_id": "1002",
        "call_id": world.calls["sales"],
        "name": "sales" if template.startswith("/v1/queues") else "spring",
        "list_name": "dnc",
        "number": quote("+15557779003"),
        "contact_id": "c1",
        "endpoint": "crm",
        "event_id": "e1",
    }
    return template.format(**values)


def _key(route: Any) -> tuple[str, str]:
    return (route.method, route.path)


def test_every_route_has_an_expectation() -> None:
    keys = [_key(r) for r in routes()]
    assert sorted(set(keys) - set(EXPECT)) == [], "add the route's expected scope to EXPECT"
    assert sorted(set(EXPECT) - set(keys)) == []
    for route in routes():
        assert route.scope.name, route.template


@pytest.mark.parametrize("key", [_key(r) for r in routes()], ids=lambda k: f"{k[0]} {k[1]}")
def test_route_scope_matrix(world: World, key: tuple[str, str]) -> None:
    cases = EXPECT.get(key)
    assert cases, f"no scope expectation for {key}: add one to EXPECT"
    method, template = key
    path = _path(world, template)
    for case in cases:
        target = path + ("?" + case.query if case.query else "")
        allowed = {LETTER[c] for c in case.allowed}
        before = world.fingerprint()
        mark = len(world.switch.commands)
        status, _ = world.request(method, target, None, case.body)
        assert status == 401, f"{method} {target} without a token"
        for who in ORDER:
            if who in allowed:
                continue
            status, body = world.request(method, target, who, case.body)
            assert status == 403, f"{method} {target} as {who}: {status} {body}"
        assert world.fingerprint() == before, f"a refused {method} {target} changed something"
        assert world.commands_until_barrier(mark) == [], f"a refused {method} {target} reached the switch"
    for case in cases:
        target = path + ("?" + case.query if case.query else "")
        for who in ORDER:
            if who in {LETTER[c] for c in case.allowed}:
                status, body = world.request(method, target, who, case.body)
                assert status not in (401, 403), f"{method} {target} as {who}: {status} {body}"


# -- what scoped supervisors see and the probe's findings, by example --------------------------------


def test_views_show_only_what_is_in_scope(world: World) -> None:
    _answer(world, "1001", "support", "15551230002")
    d = world.daemon
    assert d.loop is not None
    d.loop.refresh_snapshot(time.time())
    agents = {
        who: [a["agent_id"] for a in world.request("GET", "/v1/agents", who)[1]["agents"]]
        for who in ("sup_team", "sup_queue")
    }
    assert agents == {"sup_team": ["1001"], "sup_queue": ["1001", "1002"]}
    calls = {
        who: sorted(c["queue"] for c in world.request("GET", "/v1/calls", who)[1]["calls"])
        for who in ("sup_team", "sup_queue", "sup_all")
    }
    assert calls == {"sup_team": ["support"], "sup_queue": ["support"], "sup_all": ["sales", "support"]}
    assert world.request("GET", "/v1/campaigns", "sup_queue")[1] == {"campaigns": []}
    assert [c["campaign"] for c in world.request("GET", "/v1/campaigns", "sup_team")[1]["campaigns"]] == ["spring"]
    # The DNC list: a queue-scoped supervisor sees its queue's entries, never the global ones.
    dnc = {
        who: [(e["scope"], e["number"]) for e in world.request("GET", "/v1/lists/dnc", who)[1]["entries"]]
        for who in ("sup_queue", "sup_team", "sup_all")
    }
    assert dnc["sup_queue"] == [("queue:support", "+15557779002")]
    assert dnc["sup_team"] == [("queue:sales", "+15557779003"), ("queue:support", "+15557779002")]
    assert ("global", "+15557779001") in dnc["sup_all"] and len(dnc["sup_all"]) == 3
    assert world.request("GET", "/v1/lists/dnc?limit=1", "sup_team")[1]["entries"][0]["scope"] == "queue:sales"


def test_a_supervisor_may_not_send_a_call_out_of_its_scope(world: World) -> None:
    _answer(world, "1001", "support", "15551230002")
    d = world.daemon
    assert d.loop is not None
    d.loop.refresh_snapshot(time.time())
    support_call = f"/v1/calls/{world.calls['support']}"
    before = world.fingerprint()
    mark = len(world.switch.commands)
    assert world.request("POST", support_call + "/transfer", "sup_queue", {"queue": "sales"})[0] == 403
    assert world.request("POST", support_call + "/transfer", "sup_team", {"agent_id": "1002"})[0] == 403
    # Team [1001]: 1002's call is not theirs to hold, whatever its queue.
    sales_call = f"/v1/calls/{world.calls['sales']}"
    assert world.request("POST", sales_call + "/hold", "sup_team")[0] == 403
    assert world.request("POST", sales_call + "/unhold", "sup_team")[0] == 403
    assert world.request("POST", "/v1/agents/1001/monitor", "sup_queue", {"dial_string": "user/2001"})[0] == 200
    # An import with one entry out of scope adds none of them.
    entries = [{"number": "+15557770011", "scope": "queue:support"}, {"number": "+15557770012"}]
    status, body = world.request("POST", "/v1/lists/blacklist/import", "sup_queue", {"entries": entries})
    assert status == 403 and [e["path"] for e in body["errors"]] == ["entries[1].scope"]
    assert world.fingerprint() == before
    assert [t.split()[1] for t in world.commands_until_barrier(mark)] == ["originate"]  # the eavesdrop only
    assert world.request("POST", support_call + "/transfer", "sup_queue", {"queue": "support"})[0] == 200
