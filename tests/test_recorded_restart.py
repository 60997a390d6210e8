"""Restarts, replayed on ctilink's own recorded connections to a real FreeSWITCH 1.10.12.

``daemon_restart_live_calls.2`` is the connection of a daemon restarted after a SIGKILL while five
callers talked to agents a01..a05: its resync found the ten channels (customers and agent legs,
with their ``ctilink_*`` variables), then the callers hung up one by one. The engine, with the
agents' sessions restored, is fed the recorded resync replies through the real resync code and
then every recorded event, and must: take the five calls back as the calls they are (same call
ids, each agent on their own call), offer no agent a second call, write one "answered" record per
call when it ends, and never hang up a channel FreeSWITCH already reported gone.

``freeswitch_restart`` (and ``.2``) is FreeSWITCH itself stopped with three calls bridged, and the
daemon's connection to the restarted node, which has no channels and then serves one new call:
the three calls end once, their agents are free, no ghost call is left, and nothing FreeSWITCH
reported gone is hung up again.
"""

from __future__ import annotations

from recorded import connection, daemon_ids

from ctilink import commands as cmd
from ctilink.core import AgentProfile, Disposition, Engine, EngineConfig, QueueConfig
from ctilink.core import notifications as nt
from ctilink.core import requests as rq
from ctilink.esl.normalize import Normalizer
from ctilink.esl.resync import run_resync
from ctilink.events import ChannelHungUp, Event, RawEvent
from ctilink.testing.recordings import Recordings


def test_a_restarted_engine_takes_back_the_recorded_live_calls_and_records_them(
    ctilink_recordings: Recordings,
) -> None:
    replies, events = connection(ctilink_recordings, "daemon_restart_live_calls.2")
    core_uuid, bodies = replies[0], iter(replies[1:])
    agents = [AgentProfile(id=f"a{i:02d}", endpoints=[f"sofia/external/a{i:02d}@127.0.0.1:5090"]) for i in range(1, 6)]
    engine = Engine(EngineConfig(queues=[QueueConfig(name="support", ring_timeout_s=5, wrap_up_s=0)], agents=agents))
    for profile in agents:  # the sessions the store kept
        engine.handle(rq.AgentLogin(profile.id), now=0.0)

    resync = run_resync(lambda commands: [next(bodies) for _ in commands], Normalizer("vm"), "vm", core_uuid)
    notes: list[object] = []
    commands: list[cmd.Command] = []
    for event in resync:
        effects = engine.handle(event, now=0.0)
        notes += effects.notifications
        commands += effects.commands
    snap = engine.snapshot(0.0)
    assert sorted((a.agent_id, a.state.value) for a in snap.agents) == [(a.id, "on-call") for a in agents]
    assert len(snap.calls) == 5
    # Nothing to do on the switch: every call is bridged already; no originate, no hang-up.
    assert commands == [], commands
    answered = [n for n in notes if isinstance(n, nt.CallAnswered)]
    customers = {
        ev.uuid: ev.variables["ctilink_call_id"] for ev in resync if getattr(ev, "variables", {}).get("ctilink_queue")
    }
    assert {n.call_id for n in answered} == set(customers.values())

    gone: set[str] = set()
    for t, event in events:
        if isinstance(event, ChannelHungUp) or (isinstance(event, RawEvent) and event.event_name == "CHANNEL_HANGUP"):
            gone.add(str(getattr(event, "uuid", "")))
        effects = engine.handle(event, now=t)
        notes += effects.notifications
        for command in effects.commands:
            assert not isinstance(command, cmd.Originate), "an agent on an adopted call was offered another"
            if isinstance(command, cmd.Hangup):
                assert command.uuid not in gone, f"hung up {command.uuid}, which FreeSWITCH said was gone"
    engine.tick(60.0)
    records = [n.record for n in notes if isinstance(n, nt.CallEnded)]
    assert sorted(r.call_id for r in records) == sorted(customers.values())
    assert {r.disposition for r in records} == {Disposition.ANSWERED}
    assert sorted(r.offers[0].agent_id for r in records) == [a.id for a in agents]
    assert all(a.state.value == "available" for a in engine.snapshot(60.0).agents)


def _is_gone(event: Event) -> bool:
    return isinstance(event, ChannelHungUp) or (isinstance(event, RawEvent) and event.event_name == "CHANNEL_HANGUP")


def test_a_freeswitch_restart_with_calls_up_leaves_no_ghost_and_kills_nothing_gone(
    ctilink_recordings: Recordings,
) -> None:
    first, second = "freeswitch_restart", "freeswitch_restart.2"
    ids = daemon_ids(ctilink_recordings, first, second)
    agents = [AgentProfile(id=f"a{i:02d}", endpoints=[f"sofia/external/a{i:02d}@127.0.0.1:5090"]) for i in range(1, 5)]
    engine = Engine(
        EngineConfig(queues=[QueueConfig(name="support", ring_timeout_s=5, wrap_up_s=0)], agents=agents),
        id_factory=lambda: next(ids),
    )
    for profile in agents:
        engine.handle(rq.AgentLogin(profile.id), now=0.0)
    notes: list[object] = []
    gone: set[str] = set()

    def feed(event: Event, t: float) -> None:
        if _is_gone(event):
            gone.add(str(getattr(event, "uuid", "")))
        effects = engine.handle(event, now=t)
        notes.extend(effects.notifications)
        for command in effects.commands:
            if isinstance(command, cmd.Hangup):
                assert command.uuid not in gone, f"hung up {command.uuid}, which FreeSWITCH said was gone"

    _, events = connection(ctilink_recordings, first)
    for t, event in events:
        feed(event, t)
    before = [n.record for n in notes if isinstance(n, nt.CallEnded)]
    assert len(before) == 3 and not engine.snapshot(10.0).calls
    assert all(a.state.value == "available" for a in engine.snapshot(10.0).agents)

    replies, events = connection(ctilink_recordings, second)
    core_uuid, bodies = replies[0], iter(replies[1:])
    for event in run_resync(lambda commands: [next(bodies) for _ in commands], Normalizer("vm"), "vm", core_uuid):
        feed(event, 30.0)
    assert not engine.snapshot(30.0).calls  # the new node has no channels: no ghost of the old calls
    for t, event in events:
        feed(event, 30.0 + t)
    engine.tick(60.0)
    records = [n.record for n in notes if isinstance(n, nt.CallEnded)]
    assert len(records) == 4 and records[-1].disposition is Disposition.ANSWERED
    assert not engine.snapshot(60.0).calls
