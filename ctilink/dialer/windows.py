"""Calling windows, evaluated in each contact's own time zone.

Rules:
- Pure: ``is_open(windows, zone, now)`` takes epoch seconds and a zone name; no clock is read.
- A contact's zone is its own field when valid, else derived from the number with
  ``phonenumbers.timezone``; a number spanning several zones is open only when *every* zone is
  inside a window (the cautious reading: never call someone at 7 a.m. their time by mistake).
  An unknown zone falls back to the campaign's default zone.
- What it must never know about: contacts storage, the switch, pacing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as pn_timezone
from pydantic import BaseModel, ConfigDict, Field, model_validator


class CallingWindow(BaseModel):
    """Days (0 = Monday .. 6 = Sunday) and a local time range ``[start, end)``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: tuple[int, ...] = Field(default=(0, 1, 2, 3, 4), min_length=1)
    start: dt.time = dt.time(9, 0)
    end: dt.time = dt.time(20, 0)

    @model_validator(mode="after")
    def _check(self) -> CallingWindow:
        if any(d < 0 or d > 6 for d in self.days):
            raise ValueError("days: expected 0 (Monday) .. 6 (Sunday)")
        if self.end <= self.start:
            raise ValueError("end: must be after start (split overnight windows in two)")
        return self

    def contains(self, local: dt.datetime) -> bool:
        return local.weekday() in self.days and self.start <= local.time() < self.end


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@lru_cache(maxsize=65536)
def zones_for_number(number: str, region: str | None = None) -> tuple[str, ...]:
    """Time zones ``phonenumbers`` associates with ``number`` (empty when it cannot tell)."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return ()
    found = tuple(z for z in pn_timezone.time_zones_for_number(parsed) if z != "Etc/Unknown" and zone(z) is not None)
    return found


def contact_zones(number: str, explicit: str | None, default: str, region: str | None = None) -> tuple[str, ...]:
    if explicit and zone(explicit) is not None:
        return (explicit,)
    return zones_for_number(number, region) or (default,)


def is_open(windows: Sequence[CallingWindow], zones: Sequence[str], now: float) -> bool:
    """True when ``now`` is inside a window in every one of ``zones``."""
    if not windows:
        return True
    for name in zones:
        tz = zone(name)
        if tz is None:
            return False
        local = dt.datetime.fromtimestamp(now, tz)
        if not any(w.contains(local) for w in windows):
            return False
    return True


def next_open(
    windows: Sequence[CallingWindow],
    zones: Sequence[str],
    now: float,
    step_s: float = 900.0,
    horizon_s: float = 8 * 86400.0,
) -> float | None:
    """The first time at or after ``now`` (to ``step_s``) when :func:`is_open` holds, or None."""
    t = now
    while t <= now + horizon_s:
        if is_open(windows, zones, t):
            return t
        t += step_s
    return None


__all__ = ["CallingWindow", "contact_zones", "is_open", "next_open", "zones_for_number"]
