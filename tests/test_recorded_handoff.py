"""ctilink's engine replayed on ctilink's own recorded connection to a real FreeSWITCH 1.10.12.

``answer_bridge_race`` holds 19 calls at 5 calls/s to 20 agents, recorded while the daemon still
bridged on the agent leg's CHANNEL_ANSWER. The engine is fed FreeSWITCH's frames in order, with the
ids the daemon used then (so its commands name the same channels), and is held to FreeSWITCH's
rules at every step: an agent leg is bridged only once its originate has returned; a job result
never hangs up a caller; a channel FreeSWITCH reported hanging up is never hung up again.
"""

from __future__ import annotations

from recorded import daemon_ids

from ctilink import commands as cmd
from ctilink.core import AgentProfile, Engine, EngineConfig, QueueConfig
from ctilink.core import requests as rq
from ctilink.esl.framing import FrameReader
from ctilink.esl.normalize import Normalizer
from ctilink.events import ChannelHungUp, JobCompleted, RawEvent
from ctilink.testing.recordings import Recordings


def test_the_recorded_race_replays_without_a_bridge_before_the_job_or_a_dropped_caller(
    ctilink_recordings: Recordings,
) -> None:
    scenario = "answer_bridge_race"
    ids = daemon_ids(ctilink_recordings, scenario)
    agents = [AgentProfile(id=f"a{i:02d}", endpoints=[f"sofia/external/a{i:02d}@127.0.0.1:5090"]) for i in range(1, 21)]
    engine = Engine(
        EngineConfig(queues=[QueueConfig(name="support", ring_timeout_s=5, wrap_up_s=0)], agents=agents),
        id_factory=lambda: next(ids),
    )
    for profile in agents:
        engine.handle(rq.AgentLogin(profile.id), now=0.0)
        engine.handle(rq.AgentReady(profile.id), now=0.0)
    normalizer, reader = Normalizer("vm"), FrameReader()
    leg_of_job: dict[str, str] = {}
    returned: set[str] = set()  # agent legs whose originate job has come back
    gone: set[str] = set()
    customers: set[str] = set()
    bridged: list[str] = []
    for record in ctilink_recordings.controller_records(scenario):
        if record.dir != "recv":
            continue
        for frame in reader.feed(record.data):
            event = normalizer.from_frame(frame)
            if event is None:
                continue
            if isinstance(event, JobCompleted) and event.job_uuid in leg_of_job:
                returned.add(leg_of_job[event.job_uuid])
            if isinstance(event, ChannelHungUp) or (
                isinstance(event, RawEvent) and event.event_name == "CHANNEL_HANGUP" and event.uuid
            ):
                gone.add(str(event.uuid))  # CHANNEL_HANGUP: FreeSWITCH is already ending the channel
            for command in engine.handle(event, now=record.t).commands:
                if isinstance(command, cmd.Originate):
                    leg_of_job[command.job_uuid] = command.uuid
                elif isinstance(command, cmd.SetVariables):
                    customers.add(command.uuid)
                elif isinstance(command, cmd.Bridge):
                    assert command.other_uuid in returned, f"bridged {command.other_uuid} before its originate returned"
                    bridged.append(command.other_uuid)
                elif isinstance(command, cmd.Hangup):
                    assert command.uuid not in gone, f"hung up {command.uuid}, which FreeSWITCH said was gone"
                    assert not (isinstance(event, JobCompleted) and command.uuid in customers), (
                        "a job result hung up a caller"
                    )
    assert len(leg_of_job) == 19 and len(customers) == 19
    # Every agent leg whose originate came back in the recording was bridged, once.
    assert sorted(bridged) == sorted(set(bridged)) and set(bridged) == returned
