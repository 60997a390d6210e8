"""Notifications and views as JSON-ready data, and who a notification concerns.

Rules:
- One shape for every consumer outside the process (webhooks, the agent event stream, the API):
  ``{"id", "type", "at", "data"}`` where ``type`` is the notification's class name and ``data``
  its fields as plain JSON values (enums as their values, errors as ``{code, message}``).
- Pure functions over frozen data: nothing here reads a clock or the engine.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from typing import Any

from ctilink.core import notifications as nt
from ctilink.core.errors import CtilinkError


def plain(value: Any) -> Any:
    """Dataclasses, enums, tuples, dicts and errors as JSON values (non-finite floats as None)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, CtilinkError):
        return {"code": value.code, "message": str(value)}
    if isinstance(value, (list, tuple, frozenset, set)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def note_type(note: object) -> str:
    return type(note).__name__


def note_at(note: object) -> float | None:
    at = getattr(note, "at", None)
    if at is None and isinstance(note, nt.CallEnded):
        at = note.record.ended_at
    return at


def note_call_id(note: object) -> str | None:
    call_id = getattr(note, "call_id", None)
    if call_id is None and isinstance(note, nt.CallEnded):
        call_id = note.record.call_id
    return call_id


def envelope(event_id: str, note: object) -> dict[str, Any]:
    """The wire form of one notification."""
    return {"id": event_id, "type": note_type(note), "at": note_at(note), "data": plain(note)}


def direct_agents(note: object) -> tuple[str, ...]:
    """Agents a notification names itself (state changes, offers, answers, pops, transfers)."""
    agent_id = getattr(note, "agent_id", None)
    if isinstance(agent_id, str):
        return (agent_id,)
    if isinstance(note, nt.CallTransferred) and note.from_agent_id:
        return (note.from_agent_id,)
    return ()


__all__ = ["direct_agents", "envelope", "note_at", "note_call_id", "note_type", "plain"]
