"""Call and agent-leg state machines, and the call record.

Rules:
- A call (one customer leg under ctilink's control, with its offers to agents) is in exactly one
  :class:`CallState`; it changes only through :meth:`Call.apply` and :data:`CALL_TRANSITIONS`.
  ``ENDED`` is terminal and is entered exactly once, with exactly one :class:`Disposition`.
- Each agent leg (one offer) has its own :class:`LegState` and :data:`LEG_TRANSITIONS`. The
  *outcome* of an offer (answered, no-answer, busy, ...) is decided once; the leg itself may live
  on (``CANCELLING``) until the switch confirms it is gone, and the agent stays reserved until then
  so the same phone is never rung twice.
- The record (:class:`CallRecord`) is built from the call and its legs when the call is ended *and*
  every agent who talked to it has finished wrap-up, so wrap-up time and disposition codes are on it.

Theory: this module owns call/leg lifecycle data. It never decides routing, never talks to the
switch and never touches agents; the engine does that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from ctilink.core.errors import IllegalTransition


class CallState(StrEnum):
    NEW = "new"  # parked, being screened (never visible between two inputs)
    QUEUED = "queued"
    OFFERING = "offering"  # one or more agent legs ringing
    CONNECTED = "connected"
    LEAVING = "leaving"  # overflow announcement playing before hangup
    ENDED = "ended"


class CallEvent(StrEnum):
    QUEUE = "queue"
    OFFER = "offer"
    OFFERS_FAILED = "offers-failed"
    ANSWER = "answer"
    OVERFLOW_QUEUE = "overflow-queue"
    TRANSFER_QUEUE = "transfer-queue"
    TRANSFER_AGENT = "transfer-agent"
    LEAVE = "leave"
    END = "end"


class Disposition(StrEnum):
    ANSWERED = "answered"
    ABANDONED = "abandoned"
    OVERFLOWED = "overflowed"
    REJECTED = "rejected"
    FAILED = "failed"
    TRANSFERRED_OUT = "transferred-out"
    TERMINATED = "terminated"  # hung up on request (supervisor/API) before an agent answered
    LOST = "lost"  # the switch no longer had the call after a reconnect: it ended unobserved


class OfferOutcome(StrEnum):
    ANSWERED = "answered"
    NO_ANSWER = "no-answer"
    BUSY = "busy"
    REJECTED = "rejected"
    FAILED = "failed"
    CANCELLED = "cancelled"
    NOT_SENT = "not-sent"  # the originate never reached the switch, or it refused the command


class LegState(StrEnum):
    ORIGINATING = "originating"  # Originate sent, no channel seen yet
    RINGING = "ringing"
    CONNECTED = "connected"
    CANCELLING = "cancelling"  # outcome decided, waiting for the switch to confirm it is gone
    GONE = "gone"


class LegEvent(StrEnum):
    CREATED = "created"
    ANSWER = "answer"
    CANCEL = "cancel"
    END = "end"


_C = CallState
_CE = CallEvent
CALL_TRANSITIONS: dict[CallState, dict[CallEvent, CallState]] = {
    _C.NEW: {_CE.QUEUE: _C.QUEUED, _CE.OFFER: _C.OFFERING, _CE.LEAVE: _C.LEAVING, _CE.END: _C.ENDED},
    _C.QUEUED: {
        _CE.OFFER: _C.OFFERING,
        _CE.OVERFLOW_QUEUE: _C.QUEUED,
        _CE.LEAVE: _C.LEAVING,
        _CE.END: _C.ENDED,
    },
    _C.OFFERING: {
        _CE.OFFER: _C.OFFERING,
        _CE.OFFERS_FAILED: _C.QUEUED,
        _CE.ANSWER: _C.CONNECTED,
        _CE.END: _C.ENDED,
    },
    _C.CONNECTED: {
        _CE.TRANSFER_QUEUE: _C.QUEUED,
        _CE.TRANSFER_AGENT: _C.OFFERING,
        _CE.END: _C.ENDED,
    },
    _C.LEAVING: {_CE.END: _C.ENDED},
    _C.ENDED: {},
}

_L = LegState
_LE = LegEvent
LEG_TRANSITIONS: dict[LegState, dict[LegEvent, LegState]] = {
    _L.ORIGINATING: {_LE.CREATED: _L.RINGING, _LE.ANSWER: _L.CONNECTED, _LE.CANCEL: _L.CANCELLING, _LE.END: _L.GONE},
    _L.RINGING: {_LE.CREATED: _L.RINGING, _LE.ANSWER: _L.CONNECTED, _LE.CANCEL: _L.CANCELLING, _LE.END: _L.GONE},
    _L.CONNECTED: {_LE.CANCEL: _L.CANCELLING, _LE.END: _L.GONE},
    # A cancelled leg that shows up (created, answered) late is a zombie: the engine kills it again.
    _L.CANCELLING: {_LE.CREATED: _L.CANCELLING, _LE.ANSWER: _L.CANCELLING, _LE.CANCEL: _L.CANCELLING, _LE.END: _L.GONE},
    _L.GONE: {},
}
del _C, _CE, _L, _LE


@dataclass(frozen=True, slots=True)
class OfferRecord:
    """One offer of the call to one agent, and (if answered) that agent's talk segment."""

    agent_id: str
    uuid: str
    attempt: int
    queue: str
    offered_at: float
    result: OfferOutcome | None
    result_at: float | None
    answered_at: float | None
    talk_ended_at: float | None
    talk_s: float
    hold_s: float
    wrap_up_s: float
    disposition_code: str | None


@dataclass(frozen=True, slots=True)
class TransferRecord:
    """One hop of the call's chain: a blind transfer or an overflow."""

    at: float
    kind: str  # "queue", "agent", "number", "overflow-queue", "overflow-extension", "overflow-hangup", "default-route"
    target: str
    from_queue: str | None
    from_agent_id: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class CallRecord:
    call_id: str
    uuid: str
    node: str
    caller_number: str | None
    caller_name: str | None
    destination_number: str | None
    first_queue: str | None
    queue: str | None
    priority: int
    arrived_at: float
    queued_at: float | None
    answered_at: float | None
    ended_at: float
    wait_s: float
    talk_s: float
    hold_s: float
    wrap_up_s: float
    disposition: Disposition
    end_reason: str
    service_level_met: bool | None
    disposition_code: str | None
    offers: tuple[OfferRecord, ...]
    transfers: tuple[TransferRecord, ...]
    customer_number: str | None = None  # the caller id as E.164 / "anonymous"; None: not a number
    screening: str | None = None  # "<list>:<action>:<scope>" when a number list decided something
    rejected_reason: str | None = None  # why a blacklisted call was refused (the entry's reason)
    sticky_agent: str | None = None  # the remembered / preferred agent considered for this call
    sticky_outcome: str | None = None  # the last sticky outcome: hit, wait, fallback, expired


@dataclass(slots=True, eq=False)
class Leg:
    """One agent leg (one offer) of a call."""

    uuid: str
    job_uuid: str
    call_id: str
    agent_id: str
    attempt: int
    queue: str
    node: str
    offered_at: float
    state: LegState = LegState.ORIGINATING
    result: OfferOutcome | None = None
    result_at: float | None = None
    answered_at: float | None = None
    talk_ended_at: float | None = None
    hold_since: float | None = None
    hold_s: float = 0.0
    wrap_up_s: float = 0.0
    wrap_started: float | None = None
    disposition_code: str | None = None
    token: int = 0  # invalidates this leg's pending timers
    # FreeSWITCH's originate owns the leg until its job returns: the bridge waits for that.
    job_done: bool = False
    bridge_pending: bool = False
    # FreeSWITCH ends this leg itself: it is bridged to its customer (CHANNEL_BRIDGE), so the
    # partner's hang-up ends it, or a resync found it already gone. ctilink then hangs it up only
    # if it outlives partner_hangup_grace_s, so a gone channel is never killed again.
    switch_ends_it: bool = False

    def apply(self, event: LegEvent) -> LegState:
        target = LEG_TRANSITIONS[self.state].get(event)
        if target is None:
            raise IllegalTransition("leg", self.uuid, self.state.value, event.value)
        self.state = target
        return target

    def end_talk(self, now: float) -> None:
        if self.answered_at is not None and self.talk_ended_at is None:
            self.talk_ended_at = now
            if self.hold_since is not None:
                self.hold_s += now - self.hold_since
                self.hold_since = None

    @property
    def talk_s(self) -> float:
        if self.answered_at is None or self.talk_ended_at is None:
            return 0.0
        return max(0.0, self.talk_ended_at - self.answered_at)

    def to_record(self) -> OfferRecord:
        return OfferRecord(
            agent_id=self.agent_id,
            uuid=self.uuid,
            attempt=self.attempt,
            queue=self.queue,
            offered_at=self.offered_at,
            result=self.result,
            result_at=self.result_at,
            answered_at=self.answered_at,
            talk_ended_at=self.talk_ended_at,
            talk_s=self.talk_s,
            hold_s=self.hold_s,
            wrap_up_s=self.wrap_up_s,
            disposition_code=self.disposition_code,
        )


@dataclass(slots=True, eq=False)
class Call:
    """One customer call under ctilink's control (owned and mutated by the engine only)."""

    call_id: str
    uuid: str
    node: str
    seq: int
    arrived_at: float
    caller_number: str | None = None
    caller_name: str | None = None
    destination_number: str | None = None
    state: CallState = CallState.NEW
    queue: str | None = None
    first_queue: str | None = None
    priority: int = 0
    queued_at: float | None = None  # ordering key: kept across no-answers and overflows
    entered_at: float | None = None  # when it entered the current queue (timers count from here)
    step: int = 0
    waiting_key: tuple[int, float, int] | None = None  # assigned per stay in a queue
    in_list: bool = False  # in its queue's waiting list right now
    ringing: dict[str, Leg] = field(default_factory=dict)  # legs whose outcome is not decided yet
    connected: Leg | None = None
    legs: list[Leg] = field(default_factory=list)
    attempts: int = 0
    last_failed_agent: str | None = None
    target_agent: str | None = None
    transfers: list[TransferRecord] = field(default_factory=list)
    overflow_hops: int = 0
    pending_moh: bool = False  # play hold music when the switch confirms the re-park
    media_started: bool = False  # answered/pre-answered and hold music started
    timer_token: int = 0  # invalidates escalation / max-wait / announcement / leaving timers
    wait_s: float = 0.0
    wait_since: float | None = None
    answered_at: float | None = None
    service_level_met: bool | None = None
    ended_at: float | None = None
    disposition: Disposition | None = None
    end_reason: str = ""
    wrap_pending: int = 0  # agent legs of this call still in wrap-up
    hangup_requested: bool = False
    leave_path: str | None = None  # announcement playing before an overflow hangup
    leave_cause: str = "NORMAL_CLEARING"
    leave_disposition: Disposition | None = None
    finalized: bool = False
    customer_number: str | None = None
    screening: str | None = None
    rejected_reason: str | None = None
    sticky_agent: str | None = None  # the remembered / preferred agent considered (for the record)
    prefer_agent: str | None = None  # offer to this agent first while set (cleared once offered)
    sticky_source: str = "memory"
    sticky_outcome: str | None = None
    held_for: str | None = None  # waiting for this busy sticky agent: in no per-step list
    sticky_token: int = 0  # invalidates the sticky wait timer

    def apply(self, event: CallEvent) -> CallState:
        target = CALL_TRANSITIONS[self.state].get(event)
        if target is None:
            raise IllegalTransition("call", self.call_id, self.state.value, event.value)
        self.state = target
        return target

    def start_waiting(self, now: float) -> None:
        if self.wait_since is None:
            self.wait_since = now

    def stop_waiting(self, now: float) -> None:
        if self.wait_since is not None:
            self.wait_s += max(0.0, now - self.wait_since)
            self.wait_since = None

    def to_record(self) -> CallRecord:
        assert self.ended_at is not None and self.disposition is not None
        codes = [leg.disposition_code for leg in self.legs if leg.disposition_code]
        return CallRecord(
            call_id=self.call_id,
            uuid=self.uuid,
            node=self.node,
            caller_number=self.caller_number,
            caller_name=self.caller_name,
            destination_number=self.destination_number,
            first_queue=self.first_queue,
            queue=self.queue,
            priority=self.priority,
            arrived_at=self.arrived_at,
            queued_at=self.queued_at,
            answered_at=self.answered_at,
            ended_at=self.ended_at,
            wait_s=self.wait_s,
            talk_s=sum(leg.talk_s for leg in self.legs),
            hold_s=sum(leg.hold_s for leg in self.legs),
            wrap_up_s=sum(leg.wrap_up_s for leg in self.legs),
            disposition=self.disposition,
            end_reason=self.end_reason,
            service_level_met=self.service_level_met,
            disposition_code=codes[-1] if codes else None,
            offers=tuple(leg.to_record() for leg in self.legs),
            transfers=tuple(self.transfers),
            customer_number=self.customer_number,
            screening=self.screening,
            rejected_reason=self.rejected_reason,
            sticky_agent=self.sticky_agent,
            sticky_outcome=self.sticky_outcome,
        )


__all__ = [
    "CALL_TRANSITIONS",
    "LEG_TRANSITIONS",
    "Call",
    "CallEvent",
    "CallRecord",
    "CallState",
    "Disposition",
    "Leg",
    "LegEvent",
    "LegState",
    "OfferOutcome",
    "OfferRecord",
    "TransferRecord",
]
