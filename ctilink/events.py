"""Typed events: what the core is told about the switch.

Rules:
- Every event carries the node it came from (configured name and FreeSWITCH's Core-UUID),
  FreeSWITCH's own timestamp converted to float seconds, and FreeSWITCH's Event-Sequence.
- Channel events carry the channel's uuid, the other leg's uuid where known, direction,
  caller/callee numbers and names, and the ``ctilink_*`` channel variables (without the
  ``variable_`` prefix) as a dict. Every value is exactly one decoded header value: nothing
  an outside party controls can add headers or change the event's name or uuid.
- Events produced by a resync (asking FreeSWITCH what exists after a (re)connect) are the
  same types with ``resync=True``.
- An event the core has no type for is a :class:`RawEvent`: typed, counted, never dropped.

This module holds data only; decoding lives in ``ctilink.esl.normalize``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Direction = Literal["inbound", "outbound"]


class Event(BaseModel):
    """Base of every event that reaches the engine."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    node: str = ""
    core_uuid: str | None = None
    timestamp: float = 0.0
    sequence: int | None = None
    resync: bool = False


class ChannelEvent(Event):
    """An event about one channel (one leg of a call)."""

    uuid: str
    other_uuid: str | None = None
    direction: Direction | None = None
    channel_name: str | None = None
    caller_number: str | None = None
    caller_name: str | None = None
    callee_number: str | None = None
    callee_name: str | None = None
    destination_number: str | None = None
    channel_state: str | None = None
    answer_state: str | None = None
    variables: dict[str, str] = Field(default_factory=dict)


class ChannelCreated(ChannelEvent):
    """CHANNEL_CREATE."""


class ChannelProgress(ChannelEvent):
    """CHANNEL_PROGRESS (ringing) or CHANNEL_PROGRESS_MEDIA (``media=True``: early media)."""

    media: bool = False


class ChannelAnswered(ChannelEvent):
    """CHANNEL_ANSWER."""


class ChannelParked(ChannelEvent):
    """CHANNEL_PARK: the dialplan handed the call to ctilink."""


class ChannelUnparked(ChannelEvent):
    """CHANNEL_UNPARK."""


class ChannelBridged(ChannelEvent):
    """CHANNEL_BRIDGE; ``other_uuid`` is the leg it is bridged to."""


class ChannelUnbridged(ChannelEvent):
    """CHANNEL_UNBRIDGE."""


class ChannelHeld(ChannelEvent):
    """CHANNEL_HOLD."""


class ChannelUnheld(ChannelEvent):
    """CHANNEL_UNHOLD."""


class ExecuteComplete(ChannelEvent):
    """CHANNEL_EXECUTE_COMPLETE: an application finished on the channel."""

    application: str = ""
    application_data: str | None = None
    response: str | None = None


class DtmfReceived(ChannelEvent):
    """DTMF: one digit."""

    digit: str
    duration_ms: float | None = None
    source: str | None = None


class ChannelHungUp(ChannelEvent):
    """CHANNEL_HANGUP_COMPLETE: the channel is gone; carries cause and durations."""

    cause: str = "NORMAL_CLEARING"
    sip_code: int | None = None
    created_at: float | None = None
    answered_at: float | None = None
    hungup_at: float | None = None
    billsec: float | None = None
    duration: float | None = None


class EndpointEvent(Event):
    """A SIP registration change (sofia custom events)."""

    user: str
    realm: str
    profile: str | None = None
    contact: str | None = None
    network_ip: str | None = None
    network_port: int | None = None
    user_agent: str | None = None
    expires: int | None = None
    call_id: str | None = None

    @property
    def endpoint(self) -> str:
        """``user@realm``: how the engine keys presence."""
        return f"{self.user}@{self.realm}"


class EndpointRegistered(EndpointEvent):
    """sofia::register."""


class EndpointUnregistered(EndpointEvent):
    """sofia::unregister (the phone said goodbye)."""


class EndpointExpired(EndpointEvent):
    """sofia::expire (the registration lapsed)."""


MachineResult = Literal["machine", "human", "notsure"]


class MachineDetected(Event):
    """Answering-machine detection result for a leg (mod_avmd beep or mod_amd ``amd_result``).

    mod_avmd fires each event twice (bare, then with the channel's data) under one
    ``Event-Sequence``; both arrive, so consumers must treat a repeat as a no-op.
    """

    uuid: str
    result: MachineResult
    source: Literal["avmd", "amd"]
    beep: bool = False
    variables: dict[str, str] = Field(default_factory=dict)


class JobCompleted(Event):
    """BACKGROUND_JOB: the outcome of a ``bgapi`` command, correlated by ``job_uuid``."""

    job_uuid: str
    command: str | None = None
    command_args: str | None = None
    body: str = ""

    @property
    def ok(self) -> bool:
        return self.body.startswith("+OK")


class CommandFailed(Event):
    """A command ctilink decided on never took effect: it could not be rendered safely, could not be
    written to the node, or the node refused it. Posted by the daemon's switch link (not by
    FreeSWITCH), so the engine learns of every failed command instead of waiting on it."""

    command: str
    reason: str
    job_uuid: str | None = None
    uuid: str | None = None


class Heartbeat(Event):
    """HEARTBEAT: the switch is alive."""

    up_time_s: float | None = None
    session_count: int | None = None
    sessions_peak: int | None = None


class SwitchShutdown(Event):
    """SHUTDOWN: the switch is going down; its channels will vanish."""


class Resynced(Event):
    """End of a resync: FreeSWITCH has exactly the channels in ``uuids`` (as of the snapshot).

    Emitted after the resync events of a (re)connect and before any live event of the new
    session, always with ``resync=True``. Channels the engine believes alive on this node
    that are not listed ended while nobody was listening.
    """

    uuids: list[str] = Field(default_factory=list)
    #: uuid -> the application FreeSWITCH reported the channel running (when it reported one).
    applications: dict[str, str] = Field(default_factory=dict)
    resync: bool = True


class RawEvent(Event):
    """Any event without a dedicated type. Headers are decoded values, the body is data."""

    event_name: str
    subclass: str | None = None
    uuid: str | None = None
    headers: dict[str, Any] = Field(default_factory=dict)
    body: str | None = None


AnyEvent = (
    ChannelCreated
    | ChannelProgress
    | ChannelAnswered
    | ChannelParked
    | ChannelUnparked
    | ChannelBridged
    | ChannelUnbridged
    | ChannelHeld
    | ChannelUnheld
    | ExecuteComplete
    | DtmfReceived
    | ChannelHungUp
    | EndpointRegistered
    | EndpointUnregistered
    | EndpointExpired
    | MachineDetected
    | JobCompleted
    | CommandFailed
    | Heartbeat
    | SwitchShutdown
    | Resynced
    | RawEvent
)

__all__ = [
    "AnyEvent",
    "ChannelAnswered",
    "ChannelBridged",
    "ChannelCreated",
    "ChannelEvent",
    "ChannelHeld",
    "ChannelHungUp",
    "ChannelParked",
    "ChannelProgress",
    "ChannelUnbridged",
    "ChannelUnheld",
    "ChannelUnparked",
    "CommandFailed",
    "Direction",
    "DtmfReceived",
    "EndpointEvent",
    "EndpointExpired",
    "EndpointRegistered",
    "EndpointUnregistered",
    "Event",
    "ExecuteComplete",
    "Heartbeat",
    "JobCompleted",
    "MachineDetected",
    "RawEvent",
    "Resynced",
    "SwitchShutdown",
]
