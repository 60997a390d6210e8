"""A preview campaign on the simulated switch: the agent sees each contact first, then dials or skips.

Run: ``.venv/bin/python examples/preview_campaign.py``. The engine and the dialer run together
(``CampaignEngine``); the simulated switch plays FreeSWITCH and the customers. Each time the agent
is free the dialer offers a contact (``PreviewOffered``: the screen pop); this "agent" skips
contacts without a name and accepts the others; accepted ones are dialed for that agent only.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from ctilink.core import AgentProfile, Engine, EngineConfig, QueueConfig
from ctilink.dialer.campaign import CampaignConfig, Mode
from ctilink.dialer.dialer import AttemptRecorded, Dialer, PreviewAccept, PreviewOffered, PreviewSkip, StartCampaign
from ctilink.dialer.runtime import CampaignEngine
from ctilink.dialer.windows import CallingWindow
from ctilink.sim import AgentBehaviour, CallerBehaviour, Fixed, SimulatedSwitch
from ctilink.sim.models import OutboundAnswer
from ctilink.store.records import CampaignContact

MONDAY_10_UTC = 1_700_474_400.0  # 2023-11-20 10:00 in London


def main(contacts: int = 6) -> dict[str, Any]:
    campaign = CampaignConfig(
        name="renewals",
        mode=Mode.PREVIEW,
        queue="outbound",
        region="GB",
        caller_id_number="442070000000",
        preview_timeout_s=60,
        windows=(CallingWindow(start=dt.time(9), end=dt.time(20)),),
    )
    engine = Engine(
        EngineConfig(
            queues=[QueueConfig(name="outbound", wrap_up_s=5)],
            agents=[AgentProfile(id="1001", endpoints=["user/1001"])],
        ),
        rng=random.Random(1),
    )
    dialer = Dialer(dnc=engine.check_dnc)
    dialer.add_campaign(campaign)
    sim = SimulatedSwitch(
        CampaignEngine(engine, dialer, MONDAY_10_UTC),
        seed=1,
        start=MONDAY_10_UTC,
        outbound=OutboundAnswer(
            ring_delay=Fixed(5.0),
            p_answer=0.8,
            p_busy=0.2,
            behaviour=CallerBehaviour(talk=Fixed(60.0), hangs_up_first=1.0),
        ),
    )
    dialer.load_contacts(
        "renewals",
        [
            CampaignContact(
                campaign="renewals",
                contact_id=f"r{i}",
                number=f"+4420712300{i:02d}",
                data={"name": f"Customer {i}"} if i % 3 else {},
            )
            for i in range(1, contacts + 1)
        ],
        sim.now,
    )
    decisions: list[str] = []

    def agent_desktop(note: Any) -> None:
        # the agent's screen: a pop per preview; decide a moment later, as a person would
        if isinstance(note, PreviewOffered):
            if note.fields.get("name"):
                decisions.append(f"accept {note.contact_id} ({note.fields['name']})")
                sim.request(PreviewAccept("renewals", note.agent_id), at=sim.now + 3)
            else:
                decisions.append(f"skip {note.contact_id} (no name)")
                sim.request(PreviewSkip("renewals", note.agent_id, "no-name"), at=sim.now + 3)

    sim.on_notification.append(agent_desktop)
    sim.add_agents(["1001"], AgentBehaviour(ring_delay=Fixed(1.0), wrap_up_time=Fixed(2.0)))
    sim.run_for(1)
    sim.request(StartCampaign("renewals"))
    sim.run_for(3600)
    outcomes = {
        n.attempt.contact_id: n.attempt.outcome
        for n in sim.notifications
        if isinstance(n, AttemptRecorded) and n.attempt.ended_at is not None
    }
    stats = dialer.stats("renewals", sim.now)
    return {"decisions": decisions, "outcomes": outcomes, "connected": stats.connected, "pending": stats.pending}


if __name__ == "__main__":
    result = main()
    for line in result["decisions"]:
        print(line)
    for contact_id, outcome in sorted(result["outcomes"].items()):
        print(f"{contact_id}: {outcome}")
