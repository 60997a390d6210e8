"""What goes into and out of the :class:`~ctilink.dialer.dialer.Dialer`: requests, notifications, output.

Rules:
- Plain immutable data (``DialerOutput`` is the one mutable collector, built per input). The seam
  (``ctilink.dialer.runtime``) routes :class:`DialerRequest` subclasses to the dialer; the
  daemon persists :class:`ContactUpdated` / :class:`AttemptRecorded` before executing the
  commands of the same output, and fans the rest out (screen pops, metrics, the run state).
- Contacts and attempts are the dialer's own types (:mod:`ctilink.dialer.types`); the store edge
  converts them to its records. ``from ctilink.dialer.dialer import X`` keeps working for every
  name here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ctilink.commands import Command
from ctilink.core import requests as rq
from ctilink.dialer.campaign import Mode
from ctilink.dialer.campaign_state import CampaignState
from ctilink.dialer.types import Attempt, Contact
from ctilink.events import ChannelParked


# -- requests (the seam routes them here) ------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DialerRequest:
    campaign: str


@dataclass(frozen=True, slots=True)
class StartCampaign(DialerRequest):
    pass


@dataclass(frozen=True, slots=True)
class PauseCampaign(DialerRequest):
    pass


@dataclass(frozen=True, slots=True)
class ResumeCampaign(DialerRequest):
    pass


@dataclass(frozen=True, slots=True)
class StopCampaign(DialerRequest):
    pass


@dataclass(frozen=True, slots=True)
class PreviewAccept(DialerRequest):
    agent_id: str


@dataclass(frozen=True, slots=True)
class PreviewSkip(DialerRequest):
    agent_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class ScheduleCallback(DialerRequest):
    contact_id: str
    at: float
    agent_id: str | None = None  # keep it for this agent


# -- notifications --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ContactUpdated:
    """Persist: ``store.put_contacts([contact])``."""

    contact: Contact


@dataclass(frozen=True, slots=True)
class AttemptRecorded:
    """Persist: ``store.put_attempt(attempt)`` (insert or replace; started, then ended)."""

    attempt: Attempt


@dataclass(frozen=True, slots=True)
class DialRefused:
    campaign: str
    contact_id: str
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class PreviewOffered:
    """Screen pop for the agent: the contact with its fields, before anything is dialed."""

    campaign: str
    agent_id: str
    contact_id: str
    number: str
    fields: Mapping[str, Any]
    expires_at: float


@dataclass(frozen=True, slots=True)
class CampaignStateChanged:
    campaign: str
    state: CampaignState
    at: float


@dataclass(frozen=True, slots=True)
class CampaignStats:
    campaign: str
    state: CampaignState
    mode: Mode
    pending: int
    dials_in_flight: int
    live_answers: int
    connected: int
    abandoned: int
    abandon_rate: float
    abandon_rate_window: float
    refused: int
    agents_idle: int
    agents_working: int = 0  # logged in and working this campaign (idle, reserved, talking, wrap-up)
    dial_level: float = 0.0  # lines in flight per working agent: what the pacer is running at
    queue: str = ""  # the campaign's queue (supervisors see campaigns of their queues)
    dials: int = 0  # Originates placed since the campaign was loaded


@dataclass
class DialerOutput:
    commands: list[Command] = field(default_factory=list)
    notifications: list[object] = field(default_factory=list)
    adopt: list[ChannelParked] = field(default_factory=list)  # legs the engine must take
    requests: list[rq.Request] = field(default_factory=list)  # engine requests (e.g. HangupCall)


__all__ = [
    "AttemptRecorded",
    "CampaignStateChanged",
    "CampaignStats",
    "ContactUpdated",
    "DialRefused",
    "DialerOutput",
    "DialerRequest",
    "PauseCampaign",
    "PreviewAccept",
    "PreviewOffered",
    "PreviewSkip",
    "ResumeCampaign",
    "ScheduleCallback",
    "StartCampaign",
    "StopCampaign",
]
