"""Plays the switch for a CampaignEngine (engine + dialer) with explicit times."""

from __future__ import annotations

import random

from ctilink import commands as cmd
from ctilink.core import AgentProfile, Effects, Engine, EngineConfig, QueueConfig
from ctilink.core import requests as rq
from ctilink.dialer.campaign import CampaignConfig
from ctilink.dialer.dialer import AttemptRecorded, ContactUpdated, Dialer
from ctilink.dialer.runtime import CampaignEngine
from ctilink.dialer.types import Contact
from ctilink.events import ChannelAnswered, ChannelHungUp, ChannelParked, JobCompleted, MachineDetected
from ctilink.testing.invariants import check_invariants

MONDAY_NOON_UTC = 1_700_481_600.0  # 2023-11-20 12:00 UTC, a Monday


class Ids:
    def __init__(self, prefix: str = "id") -> None:
        self.n, self.prefix = 0, prefix

    def __call__(self) -> str:
        self.n += 1
        return f"{self.prefix}-{self.n}"


class Rig:
    def __init__(
        self,
        campaign: CampaignConfig,
        agents: list[str],
        dnc: set[str] | None = None,
        now: float = MONDAY_NOON_UTC,
        prefix: str = "d",
        disposition_codes: tuple[str, ...] = (),
    ) -> None:
        config = EngineConfig(
            queues=[QueueConfig(name=campaign.queue, wrap_up_s=5.0)],
            agents=[AgentProfile(id=a, endpoints=[f"user/{a}"]) for a in agents],
            disposition_codes=list(disposition_codes),
        )
        self.engine = Engine(config, rng=random.Random(3), id_factory=Ids("e"))
        blocked = dnc or set()
        self.dialer = Dialer(
            dnc=lambda number, campaign, now: "dnc" if number in blocked else None, id_factory=Ids(prefix)
        )
        self.dialer.add_campaign(campaign)
        self.rt = CampaignEngine(self.engine, self.dialer, now)
        self.name = campaign.name
        self.now = now
        self.commands: list[cmd.Command] = []
        self.notes: list[object] = []

    def _rec(self, eff: Effects) -> Effects:
        self.commands.extend(eff.commands)
        self.notes.extend(eff.notifications)
        assert check_invariants(self.engine) == []
        return eff

    def send(self, item: object) -> Effects:
        return self._rec(self.rt.handle(item, self.now))

    def advance(self, to: float) -> None:
        while True:
            deadline = self.rt.next_deadline()
            if deadline is None or deadline > to:
                break
            self.now = max(self.now, deadline)
            self._rec(self.rt.tick(self.now))
        self.now = max(self.now, to)

    def load(self, contacts: list[Contact]) -> None:
        out = self.dialer.load_contacts(self.name, contacts, self.now)
        self.notes.extend(out.notifications)
        self.commands.extend(out.commands)

    def login(self, agent: str) -> None:
        self.send(rq.AgentLogin(agent))

    # switch side
    def dials(self) -> list[cmd.Originate]:
        return [
            c for c in self.commands if isinstance(c, cmd.Originate) and c.variables.get("ctilink_role") == "customer"
        ]

    def agent_legs(self) -> list[cmd.Originate]:
        return [c for c in self.commands if isinstance(c, cmd.Originate) and c.variables.get("ctilink_role") == "agent"]

    def vars(self, uuid: str) -> dict[str, str]:
        return next(dict(c.variables) for c in self.commands if isinstance(c, cmd.Originate) and c.uuid == uuid)

    def answer(self, uuid: str) -> None:
        self.send(ChannelAnswered(uuid=uuid, variables=self.vars(uuid)))
        self.send(ChannelParked(uuid=uuid, variables=self.vars(uuid)))

    def hangup(self, uuid: str, cause: str = "NORMAL_CLEARING", sip_code: int | None = None) -> None:
        self.send(ChannelHungUp(uuid=uuid, cause=cause, sip_code=sip_code, variables=self.vars(uuid)))

    def fail(self, uuid: str, cause: str, sip_code: int | None = None) -> None:
        self.hangup(uuid, cause, sip_code)
        job = next(c.job_uuid for c in self.commands if isinstance(c, cmd.Originate) and c.uuid == uuid)
        self.send(JobCompleted(job_uuid=job, body=f"-ERR {cause}\n"))

    def amd(self, uuid: str, result: str) -> None:
        self.send(MachineDetected(uuid=uuid, result=result, source="amd"))

    def connect_agent(self) -> str:
        """Answer the newest agent leg, then return its originate with +OK (FreeSWITCH's order):
        the engine bridges it to the customer once the originate no longer owns the leg."""
        originate = self.agent_legs()[-1]
        leg = originate.uuid
        self.send(ChannelAnswered(uuid=leg, variables=self.vars(leg)))
        self.send(JobCompleted(job_uuid=originate.job_uuid, body=f"+OK {leg}\n"))
        return leg

    # looking
    def attempts(self, ended: bool = True) -> list:
        return [
            n.attempt
            for n in self.notes
            if isinstance(n, AttemptRecorded) and (n.attempt.ended_at is not None) == ended
        ]

    def contact(self, contact_id: str) -> Contact:
        return [n.contact for n in self.notes if isinstance(n, ContactUpdated) and n.contact.contact_id == contact_id][
            -1
        ]


def contacts(campaign: str, numbers: list[str]) -> list[Contact]:
    return [
        Contact(campaign=campaign, contact_id=f"c{i}", number=n, data={"name": f"Customer {i}"})
        for i, n in enumerate(numbers, 1)
    ]
