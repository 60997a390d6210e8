"""Records the store keeps, as validated immutable data (no storage details).

Rules:
- Ids, names and numbers that arrive from outside are checked here (printable, length-capped),
  so every store engine receives the same clean values and no engine has to re-validate.
- JSON payloads are plain ``dict`` (or raw ``bytes`` for webhook bodies, stored verbatim).
- Times are float epoch seconds passed in by the caller; no record reads a clock.

This module knows nothing about SQL, Redis or the engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ctilink.lists.safety import check_text

__all__ = [
    "DEFAULT_STICKY_TTL",
    "AgentProfile",
    "CallRecord",
    "CampaignAttempt",
    "CampaignContact",
    "OutboxItem",
    "StickyRecord",
    "check_id",
    "check_time",
]

#: Sticky-agent memory lasts 30 days unless configured otherwise.
DEFAULT_STICKY_TTL = 30 * 86400.0
MAX_ID_CHARS = 128


def check_id(field_name: str, value: object) -> str:
    """An identifier: printable, non-empty, at most 128 characters."""
    return check_text(field_name, value, MAX_ID_CHARS, allow_empty=False)


def check_time(field_name: str, value: object, *, optional: bool = False) -> float | None:
    """A finite epoch time in seconds (``None`` only when ``optional``)."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{field_name}: expected a finite epoch time in seconds, got {value!r:.40}")
    return float(value)


@dataclass(frozen=True, slots=True)
class StickyRecord:
    """``number`` was last served by ``agent_id`` (per ``queue``; ``None`` = any queue)."""

    number: str
    queue: str | None
    agent_id: str
    updated_at: float
    expires_at: float

    def __post_init__(self) -> None:
        check_id("number", self.number)
        if self.queue is not None:
            check_id("queue", self.queue)
        check_id("agent_id", self.agent_id)
        check_time("updated_at", self.updated_at)
        check_time("expires_at", self.expires_at)


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """An agent's stored profile: skills (name -> level) and free-form profile data."""

    agent_id: str
    skills: dict[str, int] = field(default_factory=dict)
    profile: dict[str, Any] = field(default_factory=dict)
    updated_at: float = 0.0

    def __post_init__(self) -> None:
        check_id("agent_id", self.agent_id)
        for skill, level in self.skills.items():
            check_id("skill", skill)
            if isinstance(level, bool) or not isinstance(level, int):
                raise ValueError(f"skills[{skill!r}]: level must be an integer, got {type(level).__name__}")
        check_time("updated_at", self.updated_at)


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One finished (or in-progress) call: indexed columns plus the full record as JSON."""

    call_id: str
    started_at: float
    queue: str | None = None
    disposition: str | None = None
    customer_number: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_id("call_id", self.call_id)
        check_time("started_at", self.started_at)
        for name in ("queue", "disposition", "customer_number"):
            value = getattr(self, name)
            if value is not None:
                check_id(name, value)


@dataclass(frozen=True, slots=True)
class CampaignContact:
    """A number a campaign will dial (for the dialer)."""

    campaign: str
    contact_id: str
    number: str
    status: str = "pending"
    priority: int = 0
    next_attempt_at: float | None = None
    attempts: int = 0
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_id("campaign", self.campaign)
        check_id("contact_id", self.contact_id)
        check_id("number", self.number)
        check_id("status", self.status)
        check_time("next_attempt_at", self.next_attempt_at, optional=True)


@dataclass(frozen=True, slots=True)
class CampaignAttempt:
    """One dial attempt of a campaign contact."""

    attempt_id: str
    campaign: str
    contact_id: str
    started_at: float
    call_id: str | None = None
    ended_at: float | None = None
    outcome: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("attempt_id", "campaign", "contact_id"):
            check_id(name, getattr(self, name))
        check_time("started_at", self.started_at)
        check_time("ended_at", self.ended_at, optional=True)
        for name in ("call_id", "outcome"):
            value = getattr(self, name)
            if value is not None:
                check_id(name, value)


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A webhook delivery owed to ``endpoint`` for ``event_id``; ``payload`` is sent verbatim."""

    event_id: str
    endpoint: str
    payload: bytes
    created_at: float
    next_attempt_at: float
    attempts: int = 0
    last_error: str | None = None
    dead: bool = False

    def __post_init__(self) -> None:
        check_id("event_id", self.event_id)
        check_text("endpoint", self.endpoint, 2048, allow_empty=False)
        if not isinstance(self.payload, bytes):
            raise ValueError(f"payload: expected bytes, got {type(self.payload).__name__}")
        check_time("created_at", self.created_at)
        check_time("next_attempt_at", self.next_attempt_at)
