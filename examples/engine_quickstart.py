"""The engine as a library: a parked caller, an available agent, and the commands ctilink sends.

Run: python examples/engine_quickstart.py
"""

from __future__ import annotations

from ctilink.core import AgentProfile, Engine, EngineConfig, QueueConfig
from ctilink.core import requests as rq
from ctilink.esl.render import render
from ctilink.events import ChannelParked


def main() -> list[str]:
    engine = Engine(
        EngineConfig(
            queues=[QueueConfig(name="support", required_skills={"support": 3})],
            agents=[AgentProfile(id="1001", endpoints=["user/1001"], skills={"support": 5})],
        )
    )
    engine.handle(rq.AgentLogin("1001"), now=0.0)
    engine.handle(rq.AgentReady("1001"), now=0.0)
    effects = engine.handle(
        ChannelParked(
            uuid="4b7c7e0e-8e7a-4c55-9d7b-1f2e3a4b5c6d",
            caller_number="15551230001",
            caller_name='Alice, "VIP"',
            destination_number="7000",
            direction="inbound",
            variables={"ctilink_queue": "support"},
        ),
        now=1.0,
    )
    # What would go on the event socket, rendered (and validated) in one place:
    lines = [render(command).text for command in effects.commands]
    for line in lines:
        print(line)
    return lines


if __name__ == "__main__":
    main()
