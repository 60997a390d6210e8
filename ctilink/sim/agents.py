"""Simulated agents: the people at the desks and their phones.

Rules:
- An agent acts only the way a real one can: through engine *requests* (log in, ready, not ready,
  end wrap-up, transfer, log out), through their phone (answer, ring out, 486, 603, hold) via the
  fabric, and never by reading engine state. What they know of the engine comes from its
  notifications, as an agent desktop would show them.
- Every decision draws from the agents' own seeded stream, in a fixed order, so runs repeat.
- A request the engine refuses (ready while on a call, end wrap-up after the timer already did) is
  normal traffic; the engine answers with ``InputRejected`` and the agent carries on.

Theory of operation: :class:`AgentPeople` keeps, per agent id, the behaviour model and the calls
their phone is on. The fabric asks :meth:`decide` how the phone reacts to an offer; bridged agent
legs may get a hold (phone re-INVITE, so the switch reports CHANNEL_HOLD) or a blind transfer
(``TransferCall``); entering wrap-up may lead to an early ``EndWrapUp``; an agent connected to an
answering machine (the switch names its legs in :attr:`AgentPeople.machine_legs`) sets the behaviour's
``machine_disposition`` on the call; breaks are a Poisson
process while logged in. The module owns those people-timers and nothing else.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ctilink.core import requests as rq
from ctilink.core.agent import AgentState
from ctilink.core.notifications import AgentStateChanged, CallAnswered, CallArrived
from ctilink.events import ChannelBridged, ChannelCreated, ChannelHungUp, ChannelUnbridged, Event
from ctilink.sim.models import AgentBehaviour, LegOutcome
from ctilink.sim.scheduler import Scheduler, Timer

#: The phone puts its call on hold (re-INVITE); the fabric turns it into CHANNEL_HOLD/UNHOLD.
PhoneHold = Callable[[str, bool], None]


@dataclass(slots=True)
class AgentLeg:
    """An agent's phone leg the sim knows about (from its CHANNEL_CREATE variables)."""

    agent_id: str
    call_id: str
    timers: list[Timer]


class AgentPeople:
    """Every simulated agent's behaviour."""

    def __init__(
        self,
        scheduler: Scheduler,
        send: Callable[[Any], None],
        rng: random.Random,
        *,
        default: AgentBehaviour = AgentBehaviour(),
        phone_hold: PhoneHold | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.send = send
        self.rng = rng
        self.default = default
        self.phone_hold = phone_hold
        self.behaviours: dict[str, AgentBehaviour] = {}
        self.logged_in: set[str] = set()
        self.legs: dict[str, AgentLeg] = {}
        self._breaks: dict[str, Timer] = {}
        self._wrap_clicks: dict[str, Timer] = {}
        self.requests_sent = 0
        # customer legs that are answering machines (the switch knows; the agent hears it), and the
        # engine's calls they became
        self.machine_legs: set[str] = set()
        self._machine_calls: set[str] = set()

    def behaviour(self, agent_id: str) -> AgentBehaviour:
        return self.behaviours.get(agent_id, self.default)

    def add(self, agent_id: str, behaviour: AgentBehaviour | None, *, login_at: float, ready: bool = True) -> None:
        """Agent ``agent_id`` logs in at ``login_at`` (ready, or not ready with their break reason)."""
        if behaviour is not None:
            self.behaviours[agent_id] = behaviour
        self.scheduler.at(login_at, self._login, agent_id, ready)

    def logout(self, agent_id: str, at: float | None = None) -> None:
        """Agent ``agent_id`` logs out at ``at`` (default now)."""
        self.scheduler.at(self.scheduler.now if at is None else at, self._logout, agent_id)

    def _request(self, item: Any) -> None:
        self.requests_sent += 1
        self.send(item)

    def _login(self, agent_id: str, ready: bool) -> None:
        self.logged_in.add(agent_id)
        reason = None if ready else self.behaviour(agent_id).break_reason
        self._request(rq.AgentLogin(agent_id, not_ready_reason=reason))
        self._plan_break(agent_id)

    def _logout(self, agent_id: str) -> None:
        self.logged_in.discard(agent_id)
        timer = self._breaks.pop(agent_id, None)
        if timer is not None:
            timer.cancel()
        self._request(rq.AgentLogout(agent_id))

    # -- breaks -----------------------------------------------------------------------------------

    def _plan_break(self, agent_id: str) -> None:
        rate = self.behaviour(agent_id).breaks_per_hour
        if rate <= 0:
            return
        gap = self.rng.expovariate(rate / 3600.0)
        self._breaks[agent_id] = self.scheduler.after(gap, self._take_break, agent_id)

    def _take_break(self, agent_id: str) -> None:
        if agent_id not in self.logged_in:
            return
        b = self.behaviour(agent_id)
        self._request(rq.AgentNotReady(agent_id, b.break_reason))
        self._breaks[agent_id] = self.scheduler.after(b.break_time.sample(self.rng), self._end_break, agent_id)

    def _end_break(self, agent_id: str) -> None:
        if agent_id not in self.logged_in:
            return
        self._request(rq.AgentReady(agent_id))
        self._plan_break(agent_id)

    # -- the phone --------------------------------------------------------------------------------

    def decide(self, agent_id: str, auto_answer: bool = False) -> tuple[LegOutcome, float]:
        """How ``agent_id``'s phone reacts to an offer: outcome, and seconds of ringing before an
        answer (``auto_answer``: the INVITE asks the phone to answer at once, and it does if it
        honours that)."""
        b = self.behaviour(agent_id)
        draw = self.rng.random()
        delay = b.ring_delay.sample(self.rng)
        if auto_answer and b.auto_answer_delay is not None:
            delay = b.auto_answer_delay.sample(self.rng)
        if draw < b.p_busy:
            return "busy", 0.0
        if draw < b.p_busy + b.p_reject:
            return "reject", 0.0
        if draw < b.p_busy + b.p_reject + b.p_no_answer:
            return "no_answer", 0.0
        return "answer", delay

    def observe_event(self, event: Event) -> None:
        """Follow agent legs: plan hold and transfer once a leg is bridged."""
        kind = type(event)
        if kind is ChannelCreated:
            v = event.variables  # type: ignore[attr-defined]
            if v.get("ctilink_role") == "agent" and "ctilink_agent_id" in v:
                self.legs[event.uuid] = AgentLeg(v["ctilink_agent_id"], v.get("ctilink_call_id", ""), [])  # type: ignore[attr-defined]
        elif kind is ChannelBridged:
            for uuid in (event.uuid, event.other_uuid):  # type: ignore[attr-defined]
                leg = self.legs.get(uuid or "")
                if leg is not None and not leg.timers:
                    self._plan_call(uuid or "", leg)
        elif kind is ChannelUnbridged or kind is ChannelHungUp:
            for uuid in (event.uuid, event.other_uuid):  # type: ignore[attr-defined]
                leg = self.legs.get(uuid or "")
                if leg is not None:
                    for timer in leg.timers:
                        timer.cancel()
                    if kind is ChannelHungUp and uuid == event.uuid:  # type: ignore[attr-defined]
                        del self.legs[uuid]

    def _plan_call(self, uuid: str, leg: AgentLeg) -> None:
        b = self.behaviour(leg.agent_id)
        rng = self.rng
        if b.p_hold > 0 and rng.random() < b.p_hold and self.phone_hold is not None:
            start = b.hold_after.sample(rng)
            end = start + b.hold_time.sample(rng)
            leg.timers.append(self.scheduler.after(start, self.phone_hold, uuid, True))
            leg.timers.append(self.scheduler.after(end, self.phone_hold, uuid, False))
        if b.p_transfer > 0 and rng.random() < b.p_transfer:
            leg.timers.append(self.scheduler.after(b.transfer_after.sample(rng), self._transfer, leg, b.transfer_to))

    def _transfer(self, leg: AgentLeg, target: str) -> None:
        kind, _, name = target.partition(":")
        if not name:
            kind, name = "queue", target
        if kind == "agent":
            self._request(rq.TransferCall(leg.call_id, agent_id=name))
        elif kind == "number":
            self._request(rq.TransferCall(leg.call_id, number=name))
        else:
            self._request(rq.TransferCall(leg.call_id, queue=name))

    # -- what the desktop shows -------------------------------------------------------------------

    def observe_notification(self, note: Any) -> None:
        """Agents react to their own state changes (ending wrap-up early).

        The desktop's "end wrap-up" button disappears when wrap-up ends, so a click still planned
        then is dropped: a refused click would be the desktop's bug, not the agent's.
        """
        if type(note) is CallArrived:
            if note.uuid in self.machine_legs:
                self.machine_legs.discard(note.uuid)
                self._machine_calls.add(note.call_id)
            return
        if type(note) is CallAnswered:
            self._heard(note)
            return
        if type(note) is not AgentStateChanged:
            return
        if note.old is AgentState.WRAP_UP:
            timer = self._wrap_clicks.pop(note.agent_id, None)
            if timer is not None:
                timer.cancel()
        if note.new is not AgentState.WRAP_UP:
            return
        b = self.behaviour(note.agent_id)
        if b.p_end_wrap_up_early > 0 and self.rng.random() < b.p_end_wrap_up_early:
            self._wrap_clicks[note.agent_id] = self.scheduler.after(
                b.wrap_up_time.sample(self.rng), self._end_wrap_up, note.agent_id
            )

    def _heard(self, note: CallAnswered) -> None:
        """An agent connected to an answering machine says so with the behaviour's code."""
        if note.call_id not in self._machine_calls:
            return
        self._machine_calls.discard(note.call_id)
        code = self.behaviour(note.agent_id).machine_disposition
        if code is not None:
            self._request(rq.SetDisposition(note.agent_id, code, call_id=note.call_id))

    def _end_wrap_up(self, agent_id: str) -> None:
        self._wrap_clicks.pop(agent_id, None)
        self._request(rq.EndWrapUp(agent_id))


__all__ = ["AgentLeg", "AgentPeople", "PhoneHold"]
