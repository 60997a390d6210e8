"""Call-centre figures of a simulation, computed only from the engine's notifications.

Rules:
- Figures come from what the engine said (``CallEnded`` records, ``CallAnswered``, agent state
  changes), never from the simulator's own knowledge, so they test the engine's bookkeeping too.
- Definitions (the usual contact-centre ones, stated so nobody has to guess):
  *offered* = calls that ended after entering a queue; *service level* = answered within
  ``service_level_s`` of waiting / offered; *ASA* = mean wait of answered calls; *abandon rate* =
  abandoned / offered; *occupancy* = agent time on calls (ringing, talking, wrap-up) / staffed time
  (those plus available), over completed agent states.
- A figure with no calls behind it is ``None``, never a made-up 0 or 100 %.

Theory of operation: :meth:`SimStats.observe` folds one notification in; the properties read the
folded counters. It knows nothing about channels, the switch or the sim's models.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from ctilink.core.agent import AgentState
from ctilink.core.call import Disposition
from ctilink.core.notifications import (
    AgentStateChanged,
    CallAnswered,
    CallArrived,
    CallEnded,
    CallOffered,
    CallQueued,
    InputRejected,
    OfferResult,
)

_BUSY = frozenset({AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP})


@dataclass(slots=True)
class QueueFigures:
    """Per-queue counters (a call counts in the queue it ended in)."""

    offered: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    wait_answered_s: float = 0.0
    dispositions: Counter[str] = field(default_factory=Counter)

    @property
    def service_level(self) -> float | None:
        return self.answered_in_sl / self.offered if self.offered else None

    @property
    def asa_s(self) -> float | None:
        return self.wait_answered_s / self.answered if self.answered else None


class SimStats:
    """Running figures of one simulation."""

    def __init__(self, service_level_s: float = 20.0) -> None:
        self.service_level_s = service_level_s
        self.arrived = 0
        self.queued = 0
        self.offers = 0
        self.offer_results: Counter[str] = Counter()
        self.answered_now = 0  # CallAnswered notifications (calls answered so far, ended or not)
        self.ended = 0
        self.dispositions: Counter[str] = Counter()
        self.queues: dict[str, QueueFigures] = defaultdict(QueueFigures)
        self.total = QueueFigures()
        self.rejected_inputs: Counter[str] = Counter()
        self.state_seconds: Counter[str] = Counter()
        self.waits_answered: list[float] = []

    def observe(self, note: Any, now: float) -> None:
        kind = type(note)
        if kind is AgentStateChanged:
            self.state_seconds[note.old.value] += note.duration_s
        elif kind is CallEnded:
            self._ended(note.record)
        elif kind is CallArrived:
            self.arrived += 1
        elif kind is CallQueued:
            self.queued += 1
        elif kind is CallOffered:
            self.offers += 1
        elif kind is OfferResult:
            self.offer_results[note.result.value] += 1
        elif kind is CallAnswered:
            self.answered_now += 1
        elif kind is InputRejected:
            self.rejected_inputs[getattr(note.error, "code", "error")] += 1

    def _ended(self, record: Any) -> None:
        self.ended += 1
        disposition = record.disposition.value
        self.dispositions[disposition] += 1
        if record.first_queue is None:
            return
        for fig in (self.queues[record.queue or record.first_queue], self.total):
            fig.offered += 1
            fig.dispositions[disposition] += 1
            if record.answered_at is not None:
                fig.answered += 1
                fig.wait_answered_s += record.wait_s
                if record.wait_s <= self.service_level_s:
                    fig.answered_in_sl += 1
            elif record.disposition is Disposition.ABANDONED:
                fig.abandoned += 1
        if record.answered_at is not None:
            self.waits_answered.append(record.wait_s)

    # -- headline figures ---------------------------------------------------------------------------

    @property
    def offered(self) -> int:
        return self.total.offered

    @property
    def answered(self) -> int:
        return self.total.answered

    @property
    def abandoned(self) -> int:
        return self.total.abandoned

    @property
    def service_level(self) -> float | None:
        return self.total.service_level

    @property
    def asa_s(self) -> float | None:
        return self.total.asa_s

    @property
    def abandon_rate(self) -> float | None:
        return self.total.abandoned / self.total.offered if self.total.offered else None

    @property
    def occupancy(self) -> float | None:
        busy = sum(self.state_seconds[s.value] for s in _BUSY)
        staffed = busy + self.state_seconds[AgentState.AVAILABLE.value]
        return busy / staffed if staffed > 0 else None

    def summary(self) -> dict[str, Any]:
        """The headline figures as plain data (for logs, docs and ``ctilink demo``)."""
        return {
            "arrived": self.arrived,
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "ended": self.ended,
            "dispositions": dict(self.dispositions),
            "service_level": self.service_level,
            "service_level_s": self.service_level_s,
            "asa_s": self.asa_s,
            "abandon_rate": self.abandon_rate,
            "occupancy": self.occupancy,
            "offers": self.offers,
            "offer_results": dict(self.offer_results),
            "rejected_inputs": dict(self.rejected_inputs),
        }


__all__ = ["QueueFigures", "SimStats"]
