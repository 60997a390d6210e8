"""Queueing: join, escalate, announce, overflow and leave; the one way a call ends.

Rules:
- :func:`join_queue` is the one way into a waiting list (arrival, overflow, transfer, a failed
  direct offer). It refuses a full queue or one that counts as empty (``join_when_empty``) by
  overflowing the call, and otherwise arms the call's escalation, max-wait and announcement timers
  under one ``timer_token`` (bumping it cancels all three).
- Calls wait ordered by (priority, queued time); a failed offer puts the call back with its
  original key, so it keeps its place (:func:`offers_exhausted`).
- Escalation moves a call to its next step (wider skills) on time, and skips at once every step
  with nobody eligible logged in.
- Overflow (full, empty, max wait, queue removed) applies the queue's action or the default
  route: another queue, an extension, or an announcement then hang-up. ``max_overflow_hops`` stops
  loops.
- :func:`end_call` ends a call exactly once: offers cancelled, talk ended, a disposition recorded.

Theory: nothing here picks an agent; a call that starts waiting is marked dirty and matched by
the engine's drain loop (``matching.py``).
"""

from __future__ import annotations

import math

from ctilink.commands import Answer, Break, Hangup, Playback, PreAnswer, Transfer
from ctilink.core import offers, pools, settle, sticky_routing
from ctilink.core.call import Call, CallEvent, CallState, Disposition, OfferOutcome, TransferRecord
from ctilink.core.config import EmptyPolicy, OverflowAction
from ctilink.core.errors import UnknownCall
from ctilink.core.notifications import CallAnnounced, CallDisconnected, CallEscalated, CallOverflowed, CallQueued
from ctilink.core.queue import QueueRuntime
from ctilink.core.state import EngineState, Timer


def queue_position(s: EngineState, call_id: str) -> tuple[int, float | None]:
    """(position in its queue, estimated wait in seconds); position 0 = ringing or with an agent.
    The estimate is None when no eligible agent is staffed."""
    call = s.calls.get(call_id)
    if call is None or call.state is CallState.ENDED:
        raise UnknownCall(call_id)
    rt = s.queues.get(call.queue or "")
    if rt is None:
        return (0, None)
    position = rt.position(call.waiting_key, call.call_id) if call.in_list and call.waiting_key else 0
    return position, pools.ewt(s, rt, position)


def may_join(s: EngineState, rt: QueueRuntime) -> bool:
    return not is_empty(rt, rt.config.join_when_empty)


def is_empty(rt: QueueRuntime, policy: EmptyPolicy) -> bool:
    if policy is EmptyPolicy.NO_AGENTS:
        return rt.logged_in[-1] == 0
    if policy is EmptyPolicy.NO_READY:
        return rt.staffed[-1] == 0
    return False


def leave_if_empty(s: EngineState, name: str) -> None:
    rt = s.queues.get(name)
    if rt is None or not is_empty(rt, rt.config.leave_when_empty):
        return
    for entry in list(rt.all_waiting):
        call = s.calls[entry[3]]
        overflow(s, call, rt, "empty")


def answer_and_music(s: EngineState, call: Call, rt: QueueRuntime) -> None:
    if call.media_started:
        s.cmd(Break(call.uuid, node=call.node))
        s.cmd(Playback(call.uuid, rt.config.hold_music, node=call.node))
        return
    call.media_started = True
    if rt.config.answer == "answer":
        s.cmd(Answer(call.uuid, node=call.node))
    else:
        s.cmd(PreAnswer(call.uuid, node=call.node))
    s.cmd(Playback(call.uuid, rt.config.hold_music, node=call.node))


def join_queue(s: EngineState, call: Call, rt: QueueRuntime, event: CallEvent | None, keep_queued_at: bool) -> None:
    """The one way into a queue's waiting list (arrival, overflow, transfer, failed direct offer)."""
    now = s.now
    cfg = rt.config
    if cfg.max_length is not None and len(rt) >= cfg.max_length:
        if event is CallEvent.QUEUE:
            call.queue = rt.name
        overflow(s, call, rt, "full")
        return
    if not may_join(s, rt):
        if event is CallEvent.QUEUE:
            call.queue = rt.name
        overflow(s, call, rt, "empty")
        return
    if event is not None:
        call.apply(event)
    call.queue = rt.name
    if call.first_queue is None:
        call.first_queue = rt.name
    if not keep_queued_at or call.queued_at is None:
        call.queued_at = now
    call.entered_at = now
    call.step = 0
    call.timer_token += 1
    call.target_agent = None
    call.waiting_key = (-call.priority, call.queued_at, call.seq)
    call.start_waiting(now)
    pools.insert_waiting(s, call)
    advance_steps(s, call, rt)
    schedule_escalation(s, call, rt)
    if cfg.max_wait_s is not None:
        s.timer(call.entered_at + cfg.max_wait_s, Timer.MAXWAIT, call.call_id, call.timer_token)
    if cfg.announcement is not None:
        first = cfg.announcement.first_after_s or cfg.announcement.every_s
        s.timer(now + first, Timer.ANNOUNCE, call.call_id, call.timer_token)
    if cfg.leave_when_empty is not EmptyPolicy.IGNORE:
        s.dirty_queues[rt.name] = None  # joined a queue that may already count as empty
    position = rt.position(call.waiting_key, call.call_id)
    s.note(CallQueued(call.call_id, rt.name, position, pools.ewt(s, rt, position), now))
    s.dirty_calls[call.call_id] = None


def set_step(s: EngineState, call: Call, rt: QueueRuntime, step: int) -> None:
    listed = call.in_list
    if listed:
        pools.remove_waiting(s, call)
    call.step = step
    if listed:
        pools.insert_waiting(s, call)
    s.note(CallEscalated(call.call_id, rt.name, step, s.now))
    s.dirty_calls[call.call_id] = None


def advance_steps(s: EngineState, call: Call, rt: QueueRuntime) -> None:
    """Skip at once every step that has no eligible agent logged in (when a later step exists)."""
    while call.step < rt.last_step and rt.logged_in[call.step] == 0:
        set_step(s, call, rt, call.step + 1)


def schedule_escalation(s: EngineState, call: Call, rt: QueueRuntime) -> None:
    steps = rt.config.escalation
    if call.step < len(steps) and call.entered_at is not None:
        at = max(s.now, call.entered_at + steps[call.step].after_s)
        s.timer(at, Timer.ESCALATE, call.call_id, call.timer_token)


def escalate(s: EngineState, call: Call) -> None:
    rt = s.queues.get(call.queue or "")
    if rt is None or call.state not in (CallState.QUEUED, CallState.OFFERING) or call.step >= rt.last_step:
        return
    set_step(s, call, rt, call.step + 1)
    advance_steps(s, call, rt)
    schedule_escalation(s, call, rt)


def announce(s: EngineState, call: Call) -> None:
    rt = s.queues.get(call.queue or "")
    if rt is None or rt.config.announcement is None:
        return
    ann = rt.config.announcement
    if call.state is CallState.QUEUED:
        position, ewt = queue_position(s, call.call_id)
        wait_s = round(ewt or 0.0)
        path = ann.path.format(position=position, wait_min=math.ceil(wait_s / 60), wait_s=wait_s)
        s.cmd(Break(call.uuid, node=call.node))
        s.cmd(Playback(call.uuid, path, node=call.node))
        s.cmd(Playback(call.uuid, rt.config.hold_music, node=call.node))
        s.note(CallAnnounced(call.call_id, position, ewt, s.now))
    if call.state in (CallState.QUEUED, CallState.OFFERING):
        s.timer(s.now + ann.every_s, Timer.ANNOUNCE, call.call_id, call.timer_token)


def offers_exhausted(s: EngineState, call: Call) -> None:
    """Every ringing leg of the call failed: it goes back to its place and on to the next agent."""
    call.apply(CallEvent.OFFERS_FAILED)
    rt = s.queues.get(call.queue or "")
    if rt is None:
        call.waiting_key = None
        overflow(s, call, None, "queue-removed")
        return
    if call.waiting_key is None or call.target_agent is not None:
        join_queue(s, call, rt, None, keep_queued_at=True)
        return
    cfg = rt.config
    if cfg.max_wait_s is not None and call.entered_at is not None and s.now >= call.entered_at + cfg.max_wait_s:
        overflow(s, call, rt, "max-wait")
        return
    call.step = min(call.step, rt.last_step)
    pools.insert_waiting(s, call)
    s.dirty_calls[call.call_id] = None


def default_action(s: EngineState) -> OverflowAction:
    if s.config.default_route is not None and (
        s.config.default_route.kind != "queue" or s.config.default_route.target in s.queues
    ):
        return s.config.default_route
    if s.queue_configs:
        return OverflowAction(kind="queue", target=s.queue_configs[0].name)
    return OverflowAction(kind="hangup", cause="UNALLOCATED_NUMBER")


def take_default_route(s: EngineState, call: Call, reason: str) -> None:
    action = default_action(s)
    call.transfers.append(
        TransferRecord(s.now, "default-route", action.target or action.kind, call.queue, None, reason)
    )
    s.note(CallOverflowed(call.call_id, call.queue, action.kind, action.target, "default-route", s.now))
    disposition = Disposition.TRANSFERRED_OUT if action.kind == "extension" else Disposition.REJECTED
    apply_action(s, call, action, disposition)


def overflow(s: EngineState, call: Call, rt: QueueRuntime | None, reason: str) -> None:
    action = rt.config.overflow if rt is not None else None
    if action is None:
        action = default_action(s)
    call.overflow_hops += 1
    if call.overflow_hops > s.config.max_overflow_hops and action.kind == "queue":
        action = OverflowAction(kind="hangup")
    pools.remove_waiting(s, call)
    held_for = call.held_for
    sticky_routing.unhold(s, call)
    call.prefer_agent = None
    if held_for is not None:
        sticky_routing.sticky_note(s, call, held_for, "fallback")
    call.waiting_key = None
    call.timer_token += 1
    from_queue = rt.name if rt is not None else call.queue
    call.transfers.append(
        TransferRecord(s.now, f"overflow-{action.kind}", action.target or "", from_queue, None, reason)
    )
    s.note(CallOverflowed(call.call_id, from_queue, action.kind, action.target, reason, s.now))
    apply_action(s, call, action, Disposition.OVERFLOWED)


def apply_action(s: EngineState, call: Call, action: OverflowAction, disposition: Disposition) -> None:
    now = s.now
    if action.kind == "queue":
        target = s.queues.get(action.target or "")
        if target is not None:
            answer_and_music(s, call, target)
            event: CallEvent | None = None
            if call.state is CallState.NEW:
                event = CallEvent.QUEUE
            elif call.state is CallState.QUEUED:
                event = CallEvent.OVERFLOW_QUEUE
            join_queue(s, call, target, event, keep_queued_at=True)
            return
        action = OverflowAction(kind="hangup")
    if action.kind == "extension":
        assert action.target is not None
        s.cmd(Transfer(call.uuid, action.target, context=action.context, node=call.node))
        end_call(s, call, disposition, f"transfer:{action.target}", True)
        return
    call.leave_disposition = disposition
    call.leave_cause = action.cause
    if action.announcement is not None:
        if not call.media_started:
            call.media_started = True
            s.cmd(Answer(call.uuid, node=call.node))
        s.cmd(Break(call.uuid, node=call.node))
        s.cmd(Playback(call.uuid, action.announcement, node=call.node))
        call.leave_path = action.announcement
        call.apply(CallEvent.LEAVE)
        s.timer(now + action.announcement_max_s, Timer.LEAVE, call.call_id, call.timer_token)
    else:
        s.cmd(Hangup(call.uuid, action.cause, node=call.node))
        call.apply(CallEvent.LEAVE)
        s.timer(now + s.config.cancel_grace_s, Timer.LEAVE, call.call_id, call.timer_token)


def end_call(s: EngineState, call: Call, disposition: Disposition, reason: str, leg_alive: bool) -> None:
    """End the call exactly once: cancel its offers, end its talk, record the disposition."""
    if call.state is CallState.ENDED:
        return
    now = s.now
    pools.remove_waiting(s, call)
    sticky_routing.unhold(s, call)
    call.prefer_agent = None
    call.waiting_key = None
    call.timer_token += 1
    call.stop_waiting(now)
    call.apply(CallEvent.END)
    call.ended_at = now
    call.disposition = disposition
    call.end_reason = reason
    for leg in list(call.ringing.values()):
        offers.leg_outcome(s, leg, OfferOutcome.CANCELLED, "ORIGINATOR_CANCEL")
    if call.connected is not None:
        offers.end_talk(s, call.connected, kill=True)
    if s.by_uuid.get(call.uuid) is call:
        del s.by_uuid[call.uuid]
    if leg_alive:
        s.released[call.uuid] = call.node
    s.note(CallDisconnected(call.call_id, disposition, now))
    sticky_routing.remember_sticky(s, call)
    settle.maybe_finalize(s, call)
