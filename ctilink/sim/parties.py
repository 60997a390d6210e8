"""Remote parties: the people on the far end of customer legs (inbound callers, dialled customers).

Rules:
- A party only acts through the fabric, as a phone would: it hangs up (BYE/CANCEL). It never talks
  to the engine and never reads engine state.
- Patience runs while the party's leg is parked and unbridged; it is sampled afresh at each park
  (a transferred caller waits again) and stops at the bridge. Talk time starts at each bridge and
  stops if the bridge ends first (a transfer).
- When the talk time is up, the party hangs up with probability ``hangs_up_first``; otherwise the
  agent's phone hangs up. Either way the fabric takes the other leg down.

Theory of operation: the driver shows every event the fabric emits to :meth:`Parties.observe`
before the engine sees it; a party reacts by arming or cancelling a timer on the shared scheduler.
This module owns those timers and counts what parties did (abandons as seen from the street, which
tests compare with the engine's own figures). It knows nothing about queues or agents' states.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ctilink.events import ChannelBridged, ChannelParked, ChannelUnbridged, Event
from ctilink.sim.fabric import SimChannel, SwitchFabric
from ctilink.sim.models import CallerBehaviour
from ctilink.sim.scheduler import Scheduler, Timer


@dataclass(slots=True)
class Party:
    """One remote party and its live timers."""

    uuid: str
    behaviour: CallerBehaviour
    patience: Timer | None = None
    talk: Timer | None = None
    talked: bool = False
    gave_up: bool = False


@dataclass(slots=True)
class PartyCounts:
    """What the far ends did, counted at the phones (not by the engine)."""

    arrived: int = 0
    gave_up_waiting: int = 0
    talked: int = 0
    ended_by_party: int = 0
    ended_by_agent: int = 0
    waits: list[float] = field(default_factory=list)


class Parties:
    """The behaviour of every remote party leg, keyed by channel uuid."""

    def __init__(self, scheduler: Scheduler, fabric: SwitchFabric, rng: random.Random) -> None:
        self.scheduler = scheduler
        self.fabric = fabric
        self.rng = rng
        self.parties: dict[str, Party] = {}
        self.counts = PartyCounts()
        fabric.on_gone.append(self._gone)

    def attach(self, uuid: str, behaviour: CallerBehaviour) -> None:
        """From now on the leg ``uuid`` behaves like ``behaviour``."""
        self.parties[uuid] = Party(uuid, behaviour)
        self.counts.arrived += 1

    def observe(self, event: Event) -> None:
        """React to one event of the fabric (called before the engine sees it)."""
        kind = type(event)
        if kind is ChannelParked:
            party = self.parties.get(event.uuid)  # type: ignore[attr-defined]
            if party is not None and party.patience is None:
                wait = party.behaviour.patience.sample(self.rng)
                party.patience = self.scheduler.after(wait, self._give_up, party)
        elif kind is ChannelBridged:
            for uuid, other in ((event.uuid, event.other_uuid), (event.other_uuid, event.uuid)):  # type: ignore[attr-defined]
                party = self.parties.get(uuid or "")
                if party is not None:
                    self._start_talk(party, other or "")
        elif kind is ChannelUnbridged:
            for uuid in (event.uuid, event.other_uuid):  # type: ignore[attr-defined]
                party = self.parties.get(uuid or "")
                if party is not None and party.talk is not None:
                    party.talk.cancel()
                    party.talk = None

    def _start_talk(self, party: Party, other: str) -> None:
        if party.patience is not None:
            party.patience.cancel()
            party.patience = None
        if party.talk is not None:
            party.talk.cancel()
        if not party.talked:
            party.talked = True
            self.counts.talked += 1
        talk = party.behaviour.talk.sample(self.rng)
        party.talk = self.scheduler.after(talk, self._end_talk, party, other)

    def _give_up(self, party: Party) -> None:
        party.patience = None
        party.gave_up = True
        self.counts.gave_up_waiting += 1
        self.fabric.remote_hangup(party.uuid)

    def _end_talk(self, party: Party, other: str) -> None:
        party.talk = None
        if self.rng.random() < party.behaviour.hangs_up_first or other not in self.fabric.channels:
            self.counts.ended_by_party += 1
            self.fabric.remote_hangup(party.uuid)
        else:
            self.counts.ended_by_agent += 1
            self.fabric.remote_hangup(other)

    def _gone(self, ch: SimChannel) -> None:
        party = self.parties.pop(ch.uuid, None)
        if party is None:
            return
        for timer in (party.patience, party.talk):
            if timer is not None:
                timer.cancel()


__all__ = ["Parties", "Party", "PartyCounts"]
