"""A custom routing strategy plugged into the engine, run for one simulated hour.

"Cheapest first": agents in a training programme (skill ``support`` below 5) take calls first so
experts stay free for escalations; ties go to the longest idle. A strategy is a pure function
from the eligible, available agents and the call to an order of agent ids.

Run: python examples/custom_strategy.py
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from ctilink.core import AgentProfile, CallInfo, CandidateAgent, Engine, EngineConfig, QueueConfig
from ctilink.sim import AgentBehaviour, CallerBehaviour, Exponential, LogNormal, SimulatedSwitch


def juniors_first(candidates: Sequence[CandidateAgent], call: CallInfo) -> list[str]:
    ranked = sorted(candidates, key=lambda a: (a.skills.get("support", 0) >= 5, a.idle_since))
    return [a.agent_id for a in ranked]


def main(hours: float = 1.0, seed: int = 7) -> dict[str, object]:
    agents = [
        AgentProfile(id=f"{1001 + i}", endpoints=[f"user/{1001 + i}"], skills={"support": 3 + i}) for i in range(6)
    ]
    config = EngineConfig(queues=[QueueConfig(name="support", strategy="juniors-first", wrap_up_s=5)], agents=agents)
    engine = Engine(config, rng=random.Random(seed), strategies={"juniors-first": juniors_first})
    sim = SimulatedSwitch(engine, seed=seed)
    sim.add_agents([a.id for a in agents], AgentBehaviour())
    sim.add_caller_stream("support", 1 / 60, CallerBehaviour(patience=Exponential(90), talk=LogNormal(180, 0.5)))
    sim.run_for(hours * 3600)
    answered_by: dict[str, int] = {}
    for note in sim.notifications:
        if type(note).__name__ == "CallAnswered":
            answered_by[note.agent_id] = answered_by.get(note.agent_id, 0) + 1
    summary = {
        "answered_by_agent": dict(sorted(answered_by.items())),
        **{k: sim.stats.summary()[k] for k in ("offered", "answered", "abandoned", "service_level")},
    }
    print(summary)
    return summary


if __name__ == "__main__":
    main()
