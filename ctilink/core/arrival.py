"""Arrival: a parked customer leg becomes a call, is screened, decided and routed.

Rules:
- Only a ``CHANNEL_PARK`` carrying ``ctilink_queue`` (role customer) arrives. It gets a call id
  (``ctilink_call_id`` set on the leg), its queue (unknown: the default route) and its priority
  (``ctilink_priority``, a number 0..100 or one of the queue's priority classes; anything else is
  rejected by name and the queue's default kept).
- Number lists screen first: a blacklist hit rejects, announces or routes the caller without
  consulting the screen hook; a whitelist hit raises the priority and may send the call straight
  to a green-channel agent or extension. Then the screen hook (foreign code: a failure or a bad
  answer accepts the call and is reported) may accept, reject, send to an extension or an agent.
- A campaign's customer leg that takes its agent's reservation rings that agent at once.
- Everything else is answered (or pre-answered), given hold music and joins its queue, then its
  sticky agent is tried.

Theory: arrival decides; ``queueing``, ``offers`` and ``sticky_routing`` carry the decision out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import structlog

from ctilink.commands import Hangup, SetVariables, Transfer
from ctilink.core import matching, offers, pools, queueing, settle, sticky_routing
from ctilink.core.agent import Agent, AgentState
from ctilink.core.call import Call, CallEvent, CallState, Disposition, TransferRecord
from ctilink.core.config import (
    CAUSE_RE,
    DESTINATION_RE,
    NAME_RE,
    OverflowAction,
)
from ctilink.core.errors import AgentUnavailable, InvalidValue, ScreenFailed, UnknownQueue
from ctilink.core.lists_screen import Verdict
from ctilink.core.notifications import CallArrived, CallScreened
from ctilink.core.queue import QueueRuntime
from ctilink.core.screening import ScreenDecision
from ctilink.core.state import EngineState
from ctilink.events import ChannelParked
from ctilink.lists.model import BlockAction

log = structlog.get_logger("ctilink.core")
_PRIORITY = re.compile(r"^[0-9]{1,3}$")


def on_arrival(s: EngineState, ev: ChannelParked) -> None:
    reserved = settle.claim_reservation(s, ev.variables)
    try:
        arrive(s, ev, reserved)
    finally:
        if reserved is not None and reserved.state is AgentState.RESERVED and not reserved.legs:
            # The call went elsewhere (screened, overflowed, agent unreachable): the reservation
            # it took is over, so the agent must not stay held for nothing.
            settle.release(s, reserved)


def arrive(s: EngineState, ev: ChannelParked, reserved: Agent | None) -> None:
    """The stages in order: a call, its queue and priority, its screening, then its route."""
    call = _new_call(s, ev)
    rt = _take_queue(s, call, ev)
    verdict, decision = _screen(s, call, ev)
    s.note(CallArrived(call.call_id, call.uuid, call.queue, call.caller_number, call.priority, s.now))
    if _turned_away(s, call, verdict, decision):
        return
    done, green = _green_channel(s, call, verdict, decision)
    if done:
        return
    if rt is None:
        if green is not None:
            assert verdict is not None
            screened(s, call, verdict, "green-fallback")
        queueing.take_default_route(s, call, "unknown-queue")
        return
    if _ring_directly(s, call, rt, reserved, decision, verdict, green):
        return
    queueing.answer_and_music(s, call, rt)
    queueing.join_queue(s, call, rt, CallEvent.QUEUE, keep_queued_at=False)
    joined = s.queues.get(call.queue or "")  # not ``rt`` if it overflowed on arrival
    if joined is not None and call.state is CallState.QUEUED and call.in_list:
        sticky_routing.sticky_route(s, call, joined, ev.variables)


def _new_call(s: EngineState, ev: ChannelParked) -> Call:
    call = Call(
        call_id=s.new_id(),
        uuid=ev.uuid,
        node=ev.node,
        seq=next(s.seq),
        arrived_at=s.now,
        caller_number=ev.caller_number,
        caller_name=ev.caller_name,
        destination_number=ev.destination_number,
    )
    s.calls[call.call_id] = call
    s.by_uuid[call.uuid] = call
    s.cmd(SetVariables(call.uuid, {"ctilink_call_id": call.call_id}, node=call.node))
    return call


def _take_queue(s: EngineState, call: Call, ev: ChannelParked) -> QueueRuntime | None:
    """The call's queue (None: unknown, reported) and priority (a bad one reported, the queue's
    default kept)."""
    name = ev.variables.get("ctilink_queue", "")
    rt = s.queues.get(name)
    if rt is None:
        s.reject(UnknownQueue(name, where="ctilink_queue"), "ChannelParked", ev.uuid)
    call.queue = rt.name if rt is not None else None
    call.priority = rt.config.default_priority if rt is not None else 0
    raw_priority = ev.variables.get("ctilink_priority")
    if raw_priority is not None:
        parsed = parse_priority(s, raw_priority, rt)
        if parsed is None:
            expected = "an integer 0..100" + (
                f" or one of {sorted(rt.config.priority_classes)}" if rt is not None else ""
            )
            s.reject(InvalidValue("ctilink_priority", raw_priority, expected), "ChannelParked", ev.uuid)
        else:
            call.priority = parsed
    return rt


def _screen(s: EngineState, call: Call, ev: ChannelParked) -> tuple[Verdict | None, ScreenDecision]:
    """The lists' verdict and the hook's decision; the call's priority as they raise it."""
    verdict = screen_lists(s, call)
    blocked = verdict is not None and verdict.blocks
    if verdict is not None and not blocked:
        call.priority = max(call.priority, s.lists.vip_priority(verdict.entry))
    # A blacklisted caller is not shown to the hook: the list has the last word on them.
    decision = ScreenDecision.accept() if blocked else run_screen(s, call, ev.variables)
    if decision.action == "accept" or decision.action == "agent":
        if decision.priority is not None:
            call.priority = decision.priority
    return verdict, decision


def _turned_away(s: EngineState, call: Call, verdict: Verdict | None, decision: ScreenDecision) -> bool:
    """A blacklisted caller, or one the hook rejects or sends to an extension: True if so."""
    if verdict is not None and verdict.blocks:
        block(s, call, verdict)
        return True
    if decision.action == "reject":
        s.cmd(Hangup(call.uuid, decision.cause, node=call.node))
        queueing.end_call(s, call, Disposition.REJECTED, "screened", True)
        return True
    if decision.action == "extension":
        assert decision.destination is not None
        context = decision.context or s.config.transfer_context
        call.transfers.append(
            TransferRecord(s.now, "screen-extension", decision.destination, call.queue, None, "screened")
        )
        s.cmd(Transfer(call.uuid, decision.destination, context=context, node=call.node))
        queueing.end_call(s, call, Disposition.TRANSFERRED_OUT, "screened", True)
        return True
    return False


def _green_channel(
    s: EngineState, call: Call, verdict: Verdict | None, decision: ScreenDecision
) -> tuple[bool, str | None]:
    """Whitelist: the VIP priority is set; a green-channel extension takes the call at once.
    Returns (the call went there, the green-channel agent still to try)."""
    green = verdict.entry.target if verdict is not None and decision.action == "accept" else None
    if verdict is not None and green is None:
        screened(s, call, verdict, "vip")
    if green is not None and green not in s.agents:
        assert verdict is not None
        if DESTINATION_RE.match(green):
            screened(s, call, verdict, "green-extension")
            call.transfers.append(TransferRecord(s.now, "green-channel", green, call.queue, None, "whitelist"))
            s.cmd(Transfer(call.uuid, green, context=s.config.transfer_context, node=call.node))
            queueing.end_call(s, call, Disposition.TRANSFERRED_OUT, "green-channel", True)
            return True, None
        screened(s, call, verdict, "green-fallback")
        green = None
    return False, green


def _ring_directly(
    s: EngineState,
    call: Call,
    rt: QueueRuntime,
    reserved: Agent | None,
    decision: ScreenDecision,
    verdict: Verdict | None,
    green: str | None,
) -> bool:
    """Ring one agent without queueing: the one reserved for this customer, the hook's agent or
    the green-channel agent, in that order, whoever can take it. True if one rings."""
    if reserved is not None:
        if reserved.usable_endpoint() is not None and reserved.busy_count() < reserved.profile.max_calls:
            # The agent was held for this very customer (preview accepted, callback kept): ring
            # them now. A wish made while held (not ready, log out) is honoured after the call,
            # as for a call that was already ringing.
            call.sticky_agent, call.sticky_source = reserved.id, "preferred"
            sticky_routing.sticky_note(s, call, reserved.id, "hit")
            offer_direct(s, call, rt, reserved)
            return True
        # Their phone cannot ring now (unregistered, a private call): free them first, so the
        # preferred-agent rule below sees their real state.
        settle.release(s, reserved)
    if decision.action == "agent":
        agent = s.agents.get(decision.agent_id or "")
        if agent is not None and pools.offerable(s, agent, direct=True):
            offer_direct(s, call, rt, agent)
            return True
        s.reject(
            AgentUnavailable(decision.agent_id or "", "screen routed to an agent who cannot take it"),
            "screen",
            call.call_id,
        )
    if green is not None:
        assert verdict is not None
        agent = s.agents[green]
        if pools.offerable(s, agent, direct=True):
            screened(s, call, verdict, "green-agent")
            offer_direct(s, call, rt, agent)
            return True
        screened(s, call, verdict, "green-fallback")
    return False


def offer_direct(s: EngineState, call: Call, rt: QueueRuntime, agent: Agent) -> None:
    """Ring one named agent at once, without queueing (screen hook or green channel)."""
    queueing.answer_and_music(s, call, rt)
    call.first_queue = rt.name
    call.target_agent = agent.id
    call.start_waiting(s.now)
    call.apply(CallEvent.OFFER)
    offers.offer(s, call, agent)


def screen_lists(s: EngineState, call: Call) -> Verdict | None:
    """Normalize the caller id (when lists or sticky memory need it) and ask the lists."""
    if not len(s.lists) and not s.config.sticky.enabled:
        return None
    number = s.lists.normalize_caller(call.caller_number)
    call.customer_number = number
    return s.lists.screen(number, call.destination_number, call.queue, s.now)


def screened(s: EngineState, call: Call, verdict: Verdict, action: str) -> None:
    entry = verdict.entry
    call.screening = f"{verdict.list.value}:{action}:{entry.scope}"
    s.note(CallScreened(call.call_id, verdict.list.value, action, entry.scope, entry.reason, entry, s.now))


def block(s: EngineState, call: Call, verdict: Verdict) -> None:
    """A blacklisted caller: busy (or the entry's cause), an announcement, or an extension."""
    entry = verdict.entry
    action = entry.action or BlockAction.REJECT
    screened(s, call, verdict, action.value)
    call.rejected_reason = f"blacklist {entry.scope}" + (f": {entry.reason}" if entry.reason else "")
    if action is BlockAction.ANNOUNCE:
        assert entry.target is not None and entry.cause is not None
        leave = OverflowAction(
            kind="hangup",
            announcement=entry.target,
            cause=entry.cause,
            announcement_max_s=s.config.lists.announce_max_s,
        )
        queueing.apply_action(s, call, leave, Disposition.REJECTED)
    elif action is BlockAction.ROUTE:
        assert entry.target is not None
        call.transfers.append(TransferRecord(s.now, "blacklist-route", entry.target, call.queue, None, "blacklist"))
        s.cmd(Transfer(call.uuid, entry.target, context=s.config.transfer_context, node=call.node))
        queueing.end_call(s, call, Disposition.REJECTED, f"transfer:{entry.target}", True)
    else:
        # Rejected before any answer: the caller hears the cause (busy by default), not ringing.
        s.cmd(Hangup(call.uuid, entry.cause or "USER_BUSY", node=call.node))
        queueing.end_call(s, call, Disposition.REJECTED, "blacklist", True)


def parse_priority(s: EngineState, raw: str, rt: QueueRuntime | None) -> int | None:
    if _PRIORITY.match(raw):
        value = int(raw)
        return value if value <= 100 else None
    if rt is not None:
        return rt.config.priority_classes.get(raw)
    return None


def run_screen(s: EngineState, call: Call, variables: Mapping[str, str]) -> ScreenDecision:
    try:
        decision = s.screen(matching.call_info(s, call, variables))
        if not isinstance(decision, ScreenDecision):
            raise TypeError(f"returned {type(decision).__name__}, not ScreenDecision")
        check_decision(decision)
        return decision
    except Exception as exc:  # the hook is foreign code: never lose the call to it
        s.reject(ScreenFailed(call.call_id, repr(exc)), "screen", call.call_id)
        return ScreenDecision.accept()


def check_decision(decision: ScreenDecision) -> None:
    if decision.priority is not None and not (0 <= decision.priority <= 100):
        raise ValueError(f"priority {decision.priority} outside 0..100")
    if decision.action == "reject" and not CAUSE_RE.match(decision.cause):
        raise ValueError("reject cause must be an upper-case hangup cause name")
    if decision.action == "extension":
        if not decision.destination or not DESTINATION_RE.match(decision.destination):
            raise ValueError("extension destination is not a plain extension/number")
        if decision.context is not None and not NAME_RE.match(decision.context):
            raise ValueError("extension context is not a plain name")
    if decision.action not in ("accept", "reject", "extension", "agent"):
        raise ValueError(f"unknown action {decision.action!r}")
