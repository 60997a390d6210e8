"""Recent activity the API serves that the snapshot does not hold: agent state history, abandoned calls.

Rules: fed from the engine's notifications (engine greenlet), bounded in size, read by API
greenlets as frozen copies. Nothing here decides anything.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from ctilink.core import notifications as nt
from ctilink.core.call import Disposition


class Activity:
    """Per-agent state history and recently abandoned calls (for calling back)."""

    def __init__(self, *, history_per_agent: int = 200, abandoned: int = 500) -> None:
        self._history_size = history_per_agent
        self._history: dict[str, deque[dict[str, Any]]] = {}
        self._abandoned: deque[dict[str, Any]] = deque(maxlen=abandoned)

    def observe(self, note: object, now: float) -> None:
        if isinstance(note, nt.AgentStateChanged):
            history = self._history.setdefault(note.agent_id, deque(maxlen=self._history_size))
            history.append(
                {
                    "at": note.at,
                    "old": note.old.value,
                    "new": note.new.value,
                    "reason": note.reason,
                    "duration_s": round(note.duration_s, 3),
                }
            )
        elif isinstance(note, nt.CallEnded) and note.record.disposition is Disposition.ABANDONED:
            r = note.record
            self._abandoned.append(
                {
                    "call_id": r.call_id,
                    "number": r.customer_number or r.caller_number,
                    "caller_name": r.caller_name,
                    "queue": r.queue,
                    "wait_s": round(r.wait_s, 3),
                    "arrived_at": r.arrived_at,
                    "ended_at": r.ended_at,
                }
            )

    def history(self, agent_id: str) -> list[dict[str, Any]]:
        return list(self._history.get(agent_id, ()))

    def abandoned(self) -> list[dict[str, Any]]:
        return list(reversed(self._abandoned))  # newest first


__all__ = ["Activity"]
