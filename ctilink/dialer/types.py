"""The dialer's own values: a contact and one attempt to reach it, as immutable data.

Rules:
- These are the dialer's domain types, not persistence records: the dialer never imports the
  store. The store edge converts (``ctilink.store`` accepts them in ``put_contacts`` /
  ``put_attempt`` and writes its own records), and ``Dialer.load_contacts`` reads any object
  with the :class:`ContactFields` attributes, which the store's ``CampaignContact`` has, so the
  daemon hands over what the store returns without naming its type here.
- The field names and order are the store records' on purpose: the conversion is field for
  field, and code reading ``contact.status`` or ``attempt.outcome`` reads either.
- Values are checked when made, with the same rules as the store's records (ids printable and at
  most 128 characters, finite epoch times), so a value the dialer emits can always be stored and
  a bad CSV row is rejected at import rather than at its first write. ``status`` and ``outcome``
  are plain strings (the stored values: ``pending``, ``dialing``, ... and the
  :class:`~ctilink.dialer.campaign.AttemptOutcome` values).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ctilink.lists.safety import check_text

MAX_ID_CHARS = 128  # the store's cap, so every value made here fits its columns


def _id(name: str, value: object) -> None:
    check_text(name, value, MAX_ID_CHARS, allow_empty=False)


def _time(name: str, value: object, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite epoch time in seconds, got {value!r:.40}")


@dataclass(frozen=True, slots=True)
class Contact:
    """A number a campaign dials, with its state (``status``, ``next_attempt_at``, ``attempts``)."""

    campaign: str
    contact_id: str
    number: str
    status: str = "pending"
    priority: int = 0
    next_attempt_at: float | None = None
    attempts: int = 0
    data: dict[str, Any] = field(default_factory=dict)  # screen-pop fields, time zone, callback agent

    def __post_init__(self) -> None:
        for name in ("campaign", "contact_id", "number", "status"):
            _id(name, getattr(self, name))
        _time("next_attempt_at", self.next_attempt_at, optional=True)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One dial (or refusal) of a contact: recorded when it starts (``ended_at=None``) and when it ends."""

    attempt_id: str
    campaign: str
    contact_id: str
    started_at: float
    call_id: str | None = None
    ended_at: float | None = None
    outcome: str | None = None  # an AttemptOutcome value once ended
    data: dict[str, Any] = field(default_factory=dict)  # number, cause, sip_code, agent_id, reason, ...

    def __post_init__(self) -> None:
        for name in ("attempt_id", "campaign", "contact_id"):
            _id(name, getattr(self, name))
        _time("started_at", self.started_at)
        _time("ended_at", self.ended_at, optional=True)
        for name in ("call_id", "outcome"):
            value = getattr(self, name)
            if value is not None:
                _id(name, value)


class ContactFields(Protocol):
    """What :meth:`Dialer.load_contacts` reads of a contact (a :class:`Contact` or a stored one)."""

    @property
    def contact_id(self) -> str: ...

    @property
    def number(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def priority(self) -> int: ...

    @property
    def next_attempt_at(self) -> float | None: ...

    @property
    def attempts(self) -> int: ...

    @property
    def data(self) -> Mapping[str, Any]: ...


__all__ = ["Attempt", "Contact", "ContactFields"]
