"""The hand-off from a ringing agent leg to the waiting caller, as FreeSWITCH really behaves.

FreeSWITCH's originate thread owns the leg it creates until the originate returns: bridging the
leg away before then makes the originate fail with ORIGINATOR_CANCEL although the leg lives on
(recorded in tests/fixtures/esl-ctilink/answer_bridge_race). The fake switch models that; these
tests drive the daemon over real sockets through the hand-off and hold it to FreeSWITCH's rules:
no caller dropped, the originate never cancelled by our own bridge, records that say what happened.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import gevent.event
import pytest
from daemon_rig import daemon_config, running_switch

from ctilink.config import Config
from ctilink.core import CallRecord
from ctilink.core import notifications as nt
from ctilink.core import requests as rq
from ctilink.service.callbacks import Callbacks
from ctilink.service.daemon import Daemon
from ctilink.testing.fake_switch import FakeSwitch

_ORIGINATE_UUID = re.compile(r"origination_uuid=([0-9a-f-]{36})")


@pytest.fixture
def switch() -> Iterator[FakeSwitch]:
    yield from running_switch()


def _config(srv: FakeSwitch, tmp_path: Path, agents: int) -> Config:
    return daemon_config(srv, tmp_path, [f"a{i:02d}" for i in range(agents)])


def test_every_caller_is_bridged_and_no_originate_is_cancelled_by_our_bridge(
    switch: FakeSwitch, tmp_path: Path
) -> None:
    calls = 6
    callbacks = Callbacks()
    ended: list[CallRecord] = []
    all_ended = gevent.event.Event()

    def on_ended(note: nt.CallEnded) -> None:
        ended.append(note.record)
        if len(ended) == calls:
            all_ended.set()

    callbacks.on(nt.CallEnded, on_ended)
    daemon = Daemon.live(_config(switch, tmp_path, calls))
    daemon.callbacks = callbacks
    daemon.start()
    try:
        for link in daemon.links:
            assert link.conn.wait_connected(5)
        for i in range(calls):
            for request in (rq.AgentLogin(f"a{i:02d}"), rq.AgentReady(f"a{i:02d}")):
                assert daemon.submit(request).get(timeout=5).error is None
        callers = [
            switch.inbound_call(f"1555123000{i}", f"caller{i}", "7000", {"ctilink_queue": "support"})
            for i in range(calls)
        ]
        switch.wait_for_command(lambda t: t.startswith("bgapi originate") and f"a{calls - 1:02d}" in t)
        originates = [t for t in switch.commands if t.startswith("bgapi originate")]
        assert len(originates) == calls
        for result in switch.wait_for_jobs(calls):
            assert result.startswith("+OK"), f"our bridge cancelled the originate: {result!r}"
        for caller in callers:
            switch.wait_for_command(lambda t, c=caller: t.startswith(f"api uuid_bridge {c} "))
        # Every caller is still there, bridged to the agent leg its originate created.
        for caller in callers:
            assert caller in switch.channels, "a caller was dropped at the hand-off"
            assert not any(t.startswith(f"api uuid_kill {caller}") for t in switch.commands)
        agent_legs = {m.group(1) for t in originates if (m := _ORIGINATE_UUID.search(t))}
        bridged = {t.split()[3] for t in switch.commands if t.startswith("api uuid_bridge")}
        assert bridged == agent_legs and all(leg in switch.channels for leg in agent_legs)
        for caller in callers:
            assert switch.hangup(caller)
        assert all_ended.wait(5), f"{len(ended)} of {calls} calls ended"
        assert sorted(r.disposition.value for r in ended) == ["answered"] * calls
        # FreeSWITCH ended both legs itself: nothing it says is gone is killed again.
        kills = [t for t in switch.commands if t.startswith("api uuid_kill")]
        assert kills == [], kills
    finally:
        daemon.stop()


@pytest.mark.parametrize(
    ("number", "shown_number", "shown_name"),
    [
        ("anonymous", None, "anonymous"),
        ("caller1", None, "caller1"),
        ("1555-123-0001", "15551230001", None),
        ("restricted", None, "restricted"),
    ],
)
def test_a_caller_whose_number_is_not_digits_reaches_an_agent(
    switch: FakeSwitch, tmp_path: Path, number: str, shown_number: str | None, shown_name: str | None
) -> None:
    ended: list[CallRecord] = []
    done = gevent.event.Event()
    callbacks = Callbacks()
    callbacks.on(nt.CallEnded, lambda note: (ended.append(note.record), done.set()))
    daemon = Daemon.live(_config(switch, tmp_path, 1))
    daemon.callbacks = callbacks
    daemon.start()
    try:
        assert daemon.links[0].conn.wait_connected(5)
        for request in (rq.AgentLogin("a00"), rq.AgentReady("a00")):
            assert daemon.submit(request).get(timeout=5).error is None
        caller = switch.inbound_call(number, number, "7000", {"ctilink_queue": "support"})
        originate = switch.wait_for_command(lambda t: t.startswith("bgapi originate"))
        if shown_number is None:
            assert "origination_caller_id_number" not in originate
        else:
            assert f"origination_caller_id_number={shown_number}," in originate
        if shown_name is not None:
            assert f"origination_caller_id_name={shown_name}," in originate
        assert switch.wait_for_jobs(1)[0].startswith("+OK")
        switch.wait_for_command(lambda t: t.startswith(f"api uuid_bridge {caller} "))
        assert switch.hangup(caller)
        assert done.wait(5)
        # The record keeps what the caller really sent.
        assert [(r.disposition.value, r.caller_number) for r in ended] == [("answered", number)]
    finally:
        daemon.stop()
