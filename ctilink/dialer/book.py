"""The dialer's working memory: per campaign, its contacts, their heap, the dials in flight.

Rules:
- Mutable, and owned by one :class:`~ctilink.dialer.dialer.Dialer` (the engine greenlet's): no
  other code holds these objects. What leaves the dialer is immutable: :meth:`ContactEntry.value`
  and :meth:`CampaignBook.attempt` make the :mod:`ctilink.dialer.types` values it announces.
- The heap holds ``(due, -priority, order, contact_id, token)``; a contact rescheduled gets a new
  token, so its older entries are skipped when popped instead of being searched for and removed.

Theory: nothing here decides. The dialer pops, dials, settles and reschedules; these records
only keep what it needs between inputs (for a dial: its leg and job uuids, phase, the agent it is
for, deadlines, and whether the engine holds that agent).
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ctilink.dialer.campaign import AttemptOutcome, CampaignConfig
from ctilink.dialer.campaign_state import CampaignState
from ctilink.dialer.pacer import DialPhase, DialStats, Pacer
from ctilink.dialer.types import Attempt, Contact


@dataclass
class ContactEntry:
    contact_id: str
    number: str
    zones: tuple[str, ...]
    priority: int
    attempts: int
    status: str
    next_at: float | None
    data: dict[str, Any]
    callback_agent: str | None = None
    token: int = 0  # bumped on every reschedule: stale heap entries are skipped

    def value(self, campaign: str) -> Contact:
        """The contact as the dialer announces it (``ContactUpdated``), its data copied."""
        return Contact(
            campaign=campaign,
            contact_id=self.contact_id,
            number=self.number,
            status=self.status,
            priority=self.priority,
            next_attempt_at=self.next_at,
            attempts=self.attempts,
            data=dict(self.data),
        )


@dataclass
class Dial:
    uuid: str
    job_uuid: str
    attempt_id: str
    contact_id: str
    started_at: float
    agent_id: str | None = None  # preview / callback agent
    phase: DialPhase = DialPhase.RINGING
    answered_at: float | None = None
    live: bool = False
    machine: bool = False
    adopted: bool = False
    call_id: str | None = None
    connected_agent: str | None = None
    deadline: float | None = None
    settled: AttemptOutcome | None = None
    amd_until: float | None = None
    hangup_at: float | None = None
    reserved: bool = False  # the engine holds agent_id for this dial until the leg is adopted


@dataclass
class CampaignBook:
    config: CampaignConfig
    pacer: Pacer
    state: CampaignState = CampaignState.STOPPED
    contacts: dict[str, ContactEntry] = field(default_factory=dict)
    heap: list[tuple[float, int, int, str, int]] = field(default_factory=list)
    dials: dict[str, Dial] = field(default_factory=dict)
    held: deque[str] = field(default_factory=deque)
    previews: dict[str, tuple[str, float]] = field(default_factory=dict)  # agent -> (contact, expires)
    stats: DialStats = field(default_factory=DialStats)
    connected: int = 0
    refused: int = 0
    dialed: int = 0
    next_pace: float = 0.0

    def in_flight(self) -> list[Dial]:
        """Dials still on their way to an agent: ringing, answered, or live and waiting. A dial
        connected to an agent is a conversation (the engine's), and one settled is closing."""
        return [d for d in self.dials.values() if d.settled is None and d.connected_agent is None]

    def closing(self) -> int:
        """Settled dials whose leg is still up (an announcement, a hang-up on its way): each still
        holds a line, but will never need an agent."""
        return sum(1 for d in self.dials.values() if d.settled is not None)

    def push(self, contact: ContactEntry, order: int) -> None:
        """(Re)schedule ``contact`` at its ``next_at``; ``order`` breaks ties first come, first served."""
        contact.token += 1
        heapq.heappush(self.heap, (contact.next_at or 0.0, -contact.priority, order, contact.contact_id, contact.token))

    def attempt(
        self,
        contact: ContactEntry,
        attempt_id: str,
        started: float,
        ended: float | None,
        outcome: AttemptOutcome | None,
        data: dict[str, Any],
    ) -> Attempt:
        """The attempt as the dialer announces it (``AttemptRecorded``); the number is always in its data."""
        return Attempt(
            attempt_id=attempt_id,
            campaign=self.config.name,
            contact_id=contact.contact_id,
            started_at=started,
            ended_at=ended,
            outcome=outcome.value if outcome else None,
            data={"number": contact.number, **data},
        )


__all__ = ["CampaignBook", "ContactEntry", "Dial"]
