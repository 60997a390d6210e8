"""Test helper (imported by the core tests) that plays the switch's part for the core engine: typed events in, effects out.

Every input is followed by ``check_invariants(engine)``; a broken invariant fails the test at
the step that broke it.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import TypeVar

from ctilink import commands as cmd
from ctilink.core import AgentProfile, Effects, Engine, EngineConfig, QueueConfig
from ctilink.core import notifications as nt
from ctilink.core import requests as rq
from ctilink.events import (
    ChannelAnswered,
    ChannelCreated,
    ChannelHungUp,
    ChannelParked,
    ChannelProgress,
    JobCompleted,
)
from ctilink.testing.invariants import check_invariants

T = TypeVar("T")


class Ids:
    """Deterministic id factory: id-1, id-2, ..."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"id-{self.n}"


class Switch:
    """Drives an Engine with explicit times and remembers everything it returned."""

    def __init__(self, config: EngineConfig, **engine_kwargs: object) -> None:
        engine_kwargs.setdefault("rng", random.Random(7))
        engine_kwargs.setdefault("id_factory", Ids())
        self.engine = Engine(config, **engine_kwargs)  # type: ignore[arg-type]
        self.now = 0.0
        self.commands: list[cmd.Command] = []
        self.notes: list[nt.Notification] = []
        self._cid = 0

    # -- driving -------------------------------------------------------------
    def _record(self, effects: Effects) -> Effects:
        self.commands.extend(effects.commands)
        self.notes.extend(effects.notifications)
        problems = check_invariants(self.engine)
        assert problems == [], problems
        return effects

    def send(self, item: object, at: float | None = None) -> Effects:
        if at is not None:
            self.advance(at)
        return self._record(self.engine.handle(item, self.now))

    def advance(self, to: float) -> Effects:
        """Move the clock to ``to``, ticking at every deadline on the way (as the service does)."""
        total = Effects()
        while True:
            deadline = self.engine.next_deadline()
            if deadline is None or deadline > to:
                break
            self.now = max(self.now, deadline)
            total.extend(self._record(self.engine.tick(self.now)))
        self.now = max(self.now, to)
        return total

    # -- events ---------------------------------------------------------------
    def park(
        self,
        uuid: str,
        queue: str | None = "support",
        caller: str = "15551230001",
        at: float | None = None,
        **variables: str,
    ) -> Effects:
        if queue is not None:
            variables["ctilink_queue"] = queue
        return self.send(
            ChannelParked(
                uuid=uuid,
                caller_number=caller,
                destination_number="7000",
                channel_name=f"sofia/external/{caller}@127.0.0.1:5070",
                variables=variables,
            ),
            at=at,
        )

    def agent_vars(self, leg: str) -> dict[str, str]:
        for c in self.commands:
            if isinstance(c, cmd.Originate) and c.uuid == leg:
                return dict(c.variables)
        return {}

    def ring(self, leg: str) -> Effects:
        self.send(ChannelCreated(uuid=leg, variables=self.agent_vars(leg)))
        return self.send(ChannelProgress(uuid=leg, variables=self.agent_vars(leg)))

    def answer(self, leg: str, at: float | None = None) -> Effects:
        return self.send(ChannelAnswered(uuid=leg, variables=self.agent_vars(leg)), at=at)

    def answer_and_return(self, leg: str, at: float | None = None) -> Effects:
        """The agent leg answers, then its originate returns +OK: FreeSWITCH's order, in which the
        bridge waits for the job (the originate owns the leg until then)."""
        effects = self.answer(leg, at=at)
        assert not any(isinstance(c, cmd.Bridge) for c in effects.commands), "bridged before the originate returned"
        effects.extend(self.job(leg, f"+OK {leg}"))
        return effects

    def hangup(
        self, uuid: str, cause: str = "NORMAL_CLEARING", sip_code: int | None = None, at: float | None = None
    ) -> Effects:
        return self.send(
            ChannelHungUp(uuid=uuid, cause=cause, sip_code=sip_code, variables=self.agent_vars(uuid)), at=at
        )

    def job(self, leg: str, body: str) -> Effects:
        job_uuid = next(c.job_uuid for c in self.commands if isinstance(c, cmd.Originate) and c.uuid == leg)
        return self.send(JobCompleted(job_uuid=job_uuid, body=body))

    def fail_leg(self, leg: str, cause: str, sip_code: int | None = None) -> Effects:
        """What FreeSWITCH sends when an originate fails: the hangup, then the job's -ERR."""
        effects = self.hangup(leg, cause, sip_code)
        effects.extend(self.job(leg, f"-ERR {cause}\n"))
        return effects

    def request(self, req: rq.Request) -> Effects:
        return self.send(req)

    # -- looking --------------------------------------------------------------
    def of(self, kind: type[T], items: Iterable[object] | None = None) -> list[T]:
        source = self.notes if items is None else items
        return [x for x in source if isinstance(x, kind)]

    def cmds(self, kind: type[T], effects: Effects | None = None) -> list[T]:
        return [c for c in (self.commands if effects is None else effects.commands) if isinstance(c, kind)]

    def offers(self, effects: Effects | None = None) -> list[cmd.Originate]:
        return self.cmds(cmd.Originate, effects)

    def leg_of(self, agent_id: str, effects: Effects | None = None) -> str:
        found = [o.uuid for o in self.offers(effects) if o.variables["ctilink_agent_id"] == agent_id]
        assert found, f"no offer to {agent_id}"
        return found[-1]

    def state(self, agent_id: str) -> str:
        return self.engine.agent_view(agent_id).state.value

    def call_id(self, uuid: str) -> str:
        """The call id the engine tagged a customer leg with (SetVariables), live or ended."""
        found = [c.variables["ctilink_call_id"] for c in self.cmds(cmd.SetVariables) if c.uuid == uuid]
        assert found, f"no call for {uuid}"
        return found[-1]

    def record(self, call_id: str) -> nt.CallEnded:
        ended = [n for n in self.of(nt.CallEnded) if n.record.call_id == call_id]
        assert len(ended) == 1, f"{len(ended)} CallEnded for {call_id}"
        return ended[0]

    def login(self, *agent_ids: str) -> None:
        for agent_id in agent_ids:
            effects = self.request(rq.AgentLogin(agent_id))
            assert effects.error is None, effects.error


def agent(agent_id: str, skills: dict[str, int] | None = None, **kw: object) -> AgentProfile:
    kw.setdefault("endpoints", [f"user/{agent_id}"])
    return AgentProfile(id=agent_id, skills=skills or {}, **kw)  # type: ignore[arg-type]


def make_switch(
    agents: list[AgentProfile] | None = None,
    queues: list[QueueConfig] | None = None,
    **config: object,
) -> Switch:
    engine_kwargs = {k: config.pop(k) for k in ("screen", "strategies", "rng", "id_factory") if k in config}
    cfg = EngineConfig(
        queues=queues if queues is not None else [QueueConfig(name="support", wrap_up_s=5)],
        agents=agents if agents is not None else [agent("1001")],
        **config,  # type: ignore[arg-type]
    )
    return Switch(cfg, **engine_kwargs)
