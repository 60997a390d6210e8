"""A progressive campaign through the FAKE ESL SERVER and the live daemon, over real sockets, with a restart.

The daemon dials with ``bgapi originate`` carrying the ctilink_* variables; the fake switch
answers, rings busy or holds a leg ringing; outcomes map back; the contact's ``dialing`` state
is committed before its Originate reaches the switch; a second daemon on the same SQLite file
closes the in-flight attempt as ``interrupted`` and never dials that contact again at once.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest

from ctilink import commands as cmd
from ctilink.config import Config, parse_config
from ctilink.core import requests as rq
from ctilink.service.daemon import Daemon
from ctilink.store import SqliteStore
from ctilink.store.records import CampaignContact
from ctilink.testing.fake_switch import Endpoint, FakeSwitch

NUMBERS = {"c1": "+442071230001", "c2": "+442071230002", "c3": "+442071230003", "c4": "+442071230004"}
GATEWAY = "sofia/gateway/default/"


@pytest.fixture
def switch() -> Iterator[FakeSwitch]:
    srv = FakeSwitch(password="pw-test", time_scale=1.0, heartbeat_interval=3600)
    srv.start()
    yield srv
    srv.stop()


def _config(srv: FakeSwitch, db: Path) -> Config:
    return parse_config(
        {
            "nodes": [{"name": "fs-test", "host": srv.host, "port": srv.port, "password": "pw-test"}],
            "http": {"enabled": False},
            "metrics": {"enabled": False},
            "store": {"path": str(db)},
            "queues": [{"name": "outbound", "wrap_up_s": 0}],
            "agents": [{"id": "1001", "endpoints": ["user/1001"]}],
            "campaigns": [
                {
                    "name": "spring",
                    "mode": "progressive",
                    "queue": "outbound",
                    "agents": ["1001"],
                    "region": "GB",
                    "caller_id_number": "442070000000",
                    "dial_string": GATEWAY + "{number}",
                    "windows": [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "23:59:59"}],
                    "retry": {"busy": {"delay_s": 3600}, "interrupted": {"delay_s": 600}},
                }
            ],
        }
    )


def _put(db: Path, *ids: str) -> None:
    store = SqliteStore(str(db))
    store.put_contacts([CampaignContact(campaign="spring", contact_id=i, number=NUMBERS[i]) for i in ids])
    store.close()


def _dial_of(srv: FakeSwitch, contact_id: str, timeout: float = 5.0) -> str:
    pattern = re.compile(rf"ctilink_contact_id={contact_id}[,}}]")
    return srv.wait_for_command(lambda t: t.startswith("bgapi originate") and bool(pattern.search(t)), timeout=timeout)


def _dials(srv: FakeSwitch) -> list[str]:
    return re.findall(r"ctilink_contact_id=(c\d)", " ".join(t for t in srv.commands if t.startswith("bgapi originate")))


def _running(config: Config, *, restarted: bool = False) -> Daemon:
    daemon = Daemon.live(config)
    daemon.start()
    for link in daemon.links:
        assert link.conn.wait_connected(5)
    if restarted:  # the store kept the agent's session: logged in and ready again, with no request
        daemon.submit(rq.AgentReady("nobody")).get(timeout=5)  # handled after the restored login
        assert daemon.engine.agent_view("1001").state.value == "available"
        return daemon
    for request in (rq.AgentLogin("1001"), rq.AgentReady("1001")):
        assert daemon.submit(request).get(timeout=5).error is None
    return daemon


def _wait(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    with gevent.Timeout(timeout, AssertionError("condition not reached")):
        while not predicate():
            gevent.sleep(0.01)


def test_contact_updates_keep_the_contacts_attempts(tmp_path: Path) -> None:
    """Regression: put_contacts was INSERT OR REPLACE, whose delete cascaded to the attempts."""
    from ctilink.store.records import CampaignAttempt

    db = tmp_path / "s.db"
    _put(db, "c1")
    store = SqliteStore(str(db))
    store.put_attempt(CampaignAttempt(attempt_id="a1", campaign="spring", contact_id="c1", started_at=1.0))
    store.put_contacts(
        [CampaignContact(campaign="spring", contact_id="c1", number=NUMBERS["c1"], status="dialing", attempts=1)]
    )
    assert [a.attempt_id for a in store.attempts_for("spring", "c1")] == ["a1"]
    assert store.get_contacts("spring")[0].status == "dialing"
    store.close()


def test_progressive_campaign_over_esl_with_a_restart_mid_campaign(switch: FakeSwitch, tmp_path: Path) -> None:
    db = tmp_path / "ctilink.db"
    _put(db, "c1", "c2", "c3")
    switch.set_endpoint(GATEWAY + NUMBERS["c2"], Endpoint("busy"))
    switch.set_endpoint(GATEWAY + NUMBERS["c3"], Endpoint("answer", delay_s=30.0))  # still ringing at the restart
    config = _config(switch, db)
    reader = SqliteStore(str(db))
    daemon = _running(config)
    try:
        first = _dial_of(switch, "c1")
        # persisted before it went out: the switch had the Originate only after the commit
        (c1,) = [c for c in reader.get_contacts("spring") if c.contact_id == "c1"]
        assert c1.status == "dialing" and c1.attempts == 1
        (started,) = reader.attempts_for("spring", "c1")
        assert started.ended_at is None
        for var in (
            "ctilink_role=customer",
            "ctilink_campaign=spring",
            f"ctilink_call_id={started.attempt_id}",
            "origination_caller_id_number=442070000000",
            "originate_timeout=20",
        ):
            assert var in first, var
        assert f"{GATEWAY}{NUMBERS['c1']} &park()" in first
        leg = re.search(r"origination_uuid=([0-9a-f-]{36})", first).group(1)  # type: ignore[union-attr]
        # answered: parked, offered to the agent, bridged
        bridge = switch.wait_for_command(lambda t: t.startswith("api uuid_bridge") and leg in t)
        assert leg in bridge
        assert switch.hangup(leg)
        _wait(lambda: [a.outcome for a in reader.attempts_for("spring", "c1")] == ["connected"])
        # the agent is free again: c2 rings busy, then c3 is dialed and keeps ringing
        _dial_of(switch, "c2")
        _wait(lambda: [a.outcome for a in reader.attempts_for("spring", "c2")] == ["busy"])
        (busy,) = reader.attempts_for("spring", "c2")
        assert busy.data["cause"] == "USER_BUSY"
        _dial_of(switch, "c3")
        _wait(lambda: any(c.contact_id == "c3" and c.status == "dialing" for c in reader.get_contacts("spring")))
    finally:
        daemon.stop()
    statuses = {c.contact_id: (c.status, c.attempts) for c in reader.get_contacts("spring")}
    assert statuses == {"c1": ("done", 1), "c2": ("pending", 1), "c3": ("dialing", 1)}
    (in_flight,) = reader.attempts_for("spring", "c3")
    assert in_flight.ended_at is None

    # a new contact arrives while the daemon is down; a new daemon on the same file. c4 rings busy,
    # which frees the only line again: a wrong redial of c3 would be dialled right then.
    _put(db, "c4")
    switch.set_endpoint(GATEWAY + NUMBERS["c4"], Endpoint("busy"))
    before = len(switch.commands)
    daemon = _running(config, restarted=True)
    try:
        _dial_of(switch, "c4")
        (closed,) = reader.attempts_for("spring", "c3")
        assert closed.attempt_id == in_flight.attempt_id and closed.outcome == "interrupted"
        (c3,) = [c for c in reader.get_contacts("spring") if c.contact_id == "c3"]
        assert c3.status == "pending" and c3.next_attempt_at is not None and c3.next_attempt_at > closed.ended_at + 500
        _wait(lambda: [a.outcome for a in reader.attempts_for("spring", "c4")] == ["busy"])
        # Every command the engine decided on until now reaches the switch before this probe: one
        # request through the engine loop, then one command through the same link, in order.
        daemon.submit(rq.AgentReady("nobody")).get(timeout=5)
        probe = "00000000-0000-4000-8000-00000000c0de"
        daemon.links[0].send(cmd.Hangup(probe, "NORMAL_CLEARING"))
        switch.wait_for_command(lambda t: t.startswith(f"api uuid_kill {probe}"))
    finally:
        daemon.stop()
    new = re.findall(
        r"ctilink_contact_id=(c\d)", " ".join(t for t in switch.commands[before:] if t.startswith("bgapi originate"))
    )
    assert new == ["c4"]
    assert sorted(_dials(switch)) == ["c1", "c2", "c3", "c4"]  # no contact dialed twice
    outcomes = {i: [a.outcome for a in reader.attempts_for("spring", i)] for i in NUMBERS}
    assert outcomes["c1"] == ["connected"] and outcomes["c2"] == ["busy"] and outcomes["c3"] == ["interrupted"]
    assert outcomes["c4"] == ["busy"]  # recorded and not lost across the stop
    reader.close()


def test_a_paused_or_stopped_campaign_stays_so_across_restarts(switch: FakeSwitch, tmp_path: Path) -> None:
    from ctilink.dialer.dialer import CampaignState, PauseCampaign, ResumeCampaign, StopCampaign

    db = tmp_path / "ctilink.db"
    _put(db, "c1", "c2")
    switch.set_endpoint(GATEWAY + NUMBERS["c1"], Endpoint("answer", delay_s=30.0))  # rings on: one line busy
    config = _config(switch, db)
    reader = SqliteStore(str(db))

    def stats(daemon: Daemon):  # type: ignore[no-untyped-def]
        return daemon.dialer.stats("spring", time.time())

    # autostart would dial at once; the agent logs in only after the pause is recorded
    daemon = Daemon.live(config)
    daemon.start()
    try:
        assert daemon.submit_campaign(PauseCampaign("spring")).error is None  # type: ignore[attr-defined]
        assert daemon.writer is not None
        daemon.writer.flush()
        assert reader.get_config("campaign", "spring") == {"run_state": "paused"}
    finally:
        daemon.stop()

    # restarted: still paused (autostart does not resume it), agent ready, nothing dialed
    daemon = _running(config)  # its login/ready are handled after the start-up requests, in order
    try:
        assert stats(daemon).state is CampaignState.PAUSED and stats(daemon).dials == 0
        assert daemon.dialer.contact_status("spring", "c1") == "pending"
        assert daemon.submit_campaign(ResumeCampaign("spring")).error is None  # type: ignore[attr-defined]
        _dial_of(switch, "c1")  # resuming works as usual
        assert daemon.submit_campaign(StopCampaign("spring")).error is None  # type: ignore[attr-defined]
    finally:
        daemon.stop()
    assert reader.get_config("campaign", "spring") == {"run_state": "stopped"}

    # restarted again: stopped stays stopped, though c2 is due and the agent is ready
    daemon = _running(config, restarted=True)
    try:
        assert stats(daemon).state is CampaignState.STOPPED and stats(daemon).dials == 0
        assert daemon.dialer.contact_status("spring", "c2") == "pending"
    finally:
        daemon.stop()
    assert sorted(_dials(switch)) == ["c1"]
    reader.close()
