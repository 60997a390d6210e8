"""Timers: each kind, what makes it still valid, and what it does when it fires.

Rules:
- A timer is (deadline, kind, key, token) on the engine's heap. Tokens cancel without searching:
  whatever a timer is about bumps its token when the timer no longer applies, and a timer whose
  token is stale (or whose subject is gone or has moved on) is dropped unfired.
- :data:`TIMERS` is the one table: kind -> (still valid?, fire). Click-to-dial's kinds carry its
  own prefix and go to its sessions.
- Firing acts through the concern that owns the subject; errors are reported as rejections of the
  timer, never lost.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from ctilink.commands import Hangup
from ctilink.core import click_to_dial, click_to_dial_legs, offers, queueing, settle, sticky_routing
from ctilink.core.agent import AgentState
from ctilink.core.call import CallState, Disposition, LegState, OfferOutcome
from ctilink.core.click_to_dial import Timer as C2DTimer
from ctilink.core.state import EngineState, Timer

log = structlog.get_logger("ctilink.core")


# -- still valid? (the subject exists, the token is current, the subject is still where it was)


def _leg_rings(s: EngineState, key: str, token: int) -> bool:
    leg = s.legs.get(key)
    return leg is not None and leg.token == token and leg.result is None


def _leg_cancelling(s: EngineState, key: str, token: int) -> bool:
    leg = s.legs.get(key)
    return leg is not None and leg.token == token and leg.state is LegState.CANCELLING


def _in_wrap_up(s: EngineState, key: str, token: int) -> bool:
    agent = s.agents.get(key)
    return agent is not None and agent.wrap_token == token and agent.state is AgentState.WRAP_UP


def _delayed(s: EngineState, key: str, token: int) -> bool:
    agent = s.agents.get(key)
    return agent is not None and agent.delay_token == token and agent.delayed_until is not None


def _held(s: EngineState, key: str, token: int) -> bool:
    call = s.calls.get(key)
    return call is not None and call.sticky_token == token and call.held_for is not None


def _call_live(s: EngineState, key: str, token: int) -> bool:
    call = s.calls.get(key)
    return call is not None and call.timer_token == token and call.state is not CallState.ENDED


# -- fire


def _ring_out(s: EngineState, key: str) -> None:
    offers.leg_outcome(s, s.legs[key], OfferOutcome.NO_ANSWER, "NO_ANSWER")


def _reap_leg(s: EngineState, key: str) -> None:
    leg = s.legs[key]
    log.warning("bridged agent leg outlived its customer; hanging it up", uuid=key, agent_id=leg.agent_id)
    s.cmd(Hangup(leg.uuid, "NORMAL_CLEARING", node=leg.node))


def _reap_call(s: EngineState, key: str) -> None:
    call = s.calls[key]
    log.warning("customer outlived its bridged agent leg; hanging it up", uuid=call.uuid)
    s.cmd(Hangup(call.uuid, "NORMAL_CLEARING", node=call.node))


def _give_up_leg(s: EngineState, key: str) -> None:
    leg = s.legs[key]
    log.warning("agent leg never confirmed its end; releasing agent", uuid=key, agent_id=leg.agent_id)
    offers.leg_gone(s, leg, "ORIGINATOR_CANCEL")
    s.remember_dead(key)


def _wrap_over(s: EngineState, key: str) -> None:
    settle.wrap_up_over(s, s.agents[key])


def _rested(s: EngineState, key: str) -> None:
    agent = s.agents[key]
    agent.delayed_until = None
    s.dirty_agents[agent.id] = None


def _escalate(s: EngineState, key: str) -> None:
    queueing.escalate(s, s.calls[key])


def _max_wait(s: EngineState, key: str) -> None:
    call = s.calls[key]
    if call.state is CallState.QUEUED:
        queueing.overflow(s, call, s.queues.get(call.queue or ""), "max-wait")


def _announce(s: EngineState, key: str) -> None:
    queueing.announce(s, s.calls[key])


def _stop_holding(s: EngineState, key: str) -> None:
    sticky_routing.release_hold(s, s.calls[key], "fallback")


def _leave(s: EngineState, key: str) -> None:
    call = s.calls[key]
    if call.leave_path is not None:
        # The announcement never finished (or never said so): hang up now, and wait for that.
        call.leave_path = None
        s.cmd(Hangup(call.uuid, call.leave_cause, node=call.node))
        s.timer(s.now + s.config.cancel_grace_s, Timer.LEAVE, call.call_id, call.timer_token)
    else:
        queueing.end_call(s, call, call.leave_disposition or Disposition.OVERFLOWED, "no-hangup-confirmation", True)


Valid = Callable[[EngineState, str, int], bool]
Fire = Callable[[EngineState, str], None]

#: kind -> (still valid?, fire). Click-to-dial's kinds (``c2d:*``) go to its sessions.
TIMERS: dict[str, tuple[Valid, Fire]] = {
    Timer.RING: (_leg_rings, _ring_out),
    Timer.GRACE: (_leg_cancelling, _give_up_leg),
    Timer.REAP_LEG: (_leg_cancelling, _reap_leg),
    Timer.REAP_CALL: (_call_live, _reap_call),
    Timer.WRAP: (_in_wrap_up, _wrap_over),
    Timer.DELAY: (_delayed, _rested),
    Timer.ESCALATE: (_call_live, _escalate),
    Timer.MAXWAIT: (_call_live, _max_wait),
    Timer.ANNOUNCE: (_call_live, _announce),
    Timer.STICKY: (_held, _stop_holding),
    Timer.LEAVE: (_call_live, _leave),
}


def _c2d_valid(kind: str) -> Valid:
    return lambda s, key, token: click_to_dial_legs.timer_valid(s, kind, key, token)


def _c2d_fire(kind: str) -> Fire:
    return lambda s, key: click_to_dial_legs.fire(s, kind, key)


for _timer in C2DTimer:
    _kind = click_to_dial.TIMER_PREFIX + _timer.value
    TIMERS[_kind] = (_c2d_valid(_kind), _c2d_fire(_kind))
del _timer, _kind


def timer_valid(s: EngineState, kind: str, key: str, token: int) -> bool:
    return TIMERS[kind][0](s, key, token)


def fire(s: EngineState, kind: str, key: str) -> None:
    TIMERS[kind][1](s, key)
