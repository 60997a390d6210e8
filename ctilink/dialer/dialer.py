"""The campaign state machine: which contact to dial, when, and what became of every attempt.

Rules:
- Pure, like the engine: every entry point takes ``now``; output is data (:class:`DialerOutput`:
  switch commands, notifications, legs to hand to the engine, engine requests). No clock, no I/O.
- The engine is the one owner of agent state. The dialer only *reads* it (``agent_changed`` is fed
  from the engine's ``AgentStateChanged``) and hands answered live customer legs to the engine
  (``adopt``: the leg enters the campaign's queue at top priority, with the preview agent as the
  preferred agent), which offers, bridges, wraps up and records them like any call.
- An agent the dialer works for in person (a preview on their screen, then the customer dialed for
  them; a callback kept for them) is held *by the engine*: the dialer asks ``ReserveAgent`` (in
  ``requests``) when the preview is shown or the kept callback dialed, so no inbound call is offered
  to them meanwhile. The adopted customer leg takes the reservation in the engine; every other end
  (skip, timeout, stop, a dial that ends before it is adopted) asks ``ReleaseAgent``. If the engine
  refuses (the agent was taken in the same input), the seam calls :meth:`Dialer.reservation_refused`
  and the preview is taken back.
- Every dial is a ``bgapi originate`` with a ctilink-chosen ``origination_uuid`` and the
  ``ctilink_*`` variables, so every outcome maps back to its attempt by uuid (or Job-UUID).
- Every attempt ends exactly once with an :class:`AttemptOutcome`; every refusal (DNC, window,
  attempts) is an attempt with outcome ``refused`` and its reason: nothing is skipped silently.
  A dial that ends unanswered takes its outcome from the hang-up class the engine uses too
  (:mod:`ctilink.core.causes`, mapped in :mod:`ctilink.dialer.outcomes`).
- A campaign's run state changes only through :mod:`ctilink.dialer.campaign_state`'s table; a
  request it has no move for (``resume`` a stopped campaign) raises before anything changes.
- Agent state arrives as the engine's :class:`~ctilink.core.agent.AgentState`, mapped to the
  pacer's phases by :mod:`ctilink.dialer.agent_phases`. Contacts and attempts leave as the dialer's own
  :mod:`ctilink.dialer.types` values; the store edge converts them (no store import here).
- Restart safety: a contact is marked ``dialing`` (and its attempt recorded) in the same output as
  its Originate; the daemon persists notifications before executing commands. A contact loaded in
  ``dialing`` is never redialed at once: its attempt becomes ``interrupted`` and it is retried
  after the ``interrupted`` delay.

Theory of operation: per campaign, contacts wait in a heap keyed by (due time, -priority, order).
On each pacing tick (``pacing_tick_s``) and on each agent change, the campaign's pacer
(:mod:`ctilink.dialer.pacer`; progressive mode uses the progressive policy) says how many dials to
place; each popped contact is checked (attempts, DNC/blacklist, window in the contact's zone)
before it is dialed. A live answer is adopted by the engine when an agent is free, or held
(parked, silent) until one is, for at most ``connect_deadline_s``; past it the customer hears the
announcement and is hung up, and the attempt is ``abandoned``. Preview mode offers the contact to
an idle agent first (a ``PreviewOffered`` screen pop); accept dials, skip records the reason, the
preview timeout dials or returns the contact per campaign.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, Protocol

from ctilink.commands import Command, Hangup, Playback
from ctilink.core import requests as rq
from ctilink.core.agent import AgentState
from ctilink.core.call import CallRecord
from ctilink.core.ids import seeded_ids
from ctilink.dialer.agent_phases import AGENT_PHASES, phase_ended
from ctilink.dialer.book import CampaignBook, ContactEntry, Dial
from ctilink.dialer.campaign import AttemptOutcome, CampaignConfig, Mode
from ctilink.dialer.campaign_state import CampaignEvent, CampaignState, IllegalCampaignTransition, transition
from ctilink.dialer.errors import DialerError
from ctilink.dialer.legs import customer_originate, hand_over, leg_ids
from ctilink.dialer.messages import (
    AttemptRecorded,
    CampaignStateChanged,
    CampaignStats,
    ContactUpdated,
    DialerOutput,
    DialerRequest,
    DialRefused,
    PauseCampaign,
    PreviewAccept,
    PreviewOffered,
    PreviewSkip,
    ResumeCampaign,
    ScheduleCallback,
    StartCampaign,
    StopCampaign,
)
from ctilink.dialer.outcomes import DIAL_OUTCOMES, unanswered_outcome
from ctilink.dialer.pacer import (
    AgentPhase,
    AgentView,
    DialPhase,
    DialStats,
    DialView,
    Outcome,
    Pacer,
    PacerSnapshot,
    PredictivePacer,
)
from ctilink.dialer.policies import ProgressivePacer
from ctilink.dialer.types import Attempt, Contact, ContactFields
from ctilink.dialer.windows import contact_zones, is_open, next_open
from ctilink.events import (
    ChannelAnswered,
    ChannelHungUp,
    Event,
    ExecuteComplete,
    JobCompleted,
    MachineDetected,
    Resynced,
)

AMD_TIMEOUT_S = 5.0  # no verdict by then: the AMD module is missing or slow; treat the answer as live
ANNOUNCE_MAX_S = 30.0

#: The run-state event each campaign request asks for.
CAMPAIGN_EVENTS: Mapping[type[DialerRequest], CampaignEvent] = MappingProxyType(
    {
        StartCampaign: CampaignEvent.START,
        PauseCampaign: CampaignEvent.PAUSE,
        ResumeCampaign: CampaignEvent.RESUME,
        StopCampaign: CampaignEvent.STOP,
    }
)


class DncCheck(Protocol):
    """What the dialer needs from the lists: the entry blocking ``number``, or None."""

    def __call__(self, number: str, campaign: str | None, now: float) -> object | None: ...


class Dialer:
    """All campaigns of one engine. See the module docstring."""

    def __init__(self, dnc: DncCheck | None = None, id_factory: Callable[[], str] | None = None) -> None:
        self._dnc = dnc
        # Deterministic by default (the core's rule); the daemon injects uuid4 at its edge.
        self._ids = id_factory or seeded_ids(random.Random(0))
        self._campaigns: dict[str, CampaignBook] = {}
        self._by_uuid: dict[str, tuple[str, str]] = {}  # leg uuid -> (campaign, uuid)
        self._by_job: dict[str, tuple[str, str]] = {}
        self._by_call: dict[str, tuple[str, str]] = {}
        # call id -> (campaign, when connected) until its record: a "machine" disposition corrects it
        self._talked: dict[str, tuple[str, float]] = {}
        self._agents: dict[str, tuple[AgentPhase, float]] = {}  # agent -> (phase, since)
        self._order = itertools.count()
        self._out = DialerOutput()
        self._switch_up = True  # see hold_until_resynced

    # ------------------------------------------------------------------ setup
    def add_campaign(self, config: CampaignConfig, pacer: Pacer | None = None) -> None:
        if config.name in self._campaigns:
            raise DialerError(f"campaign {config.name!r} exists")
        if pacer is None:
            pacer = PredictivePacer() if config.mode is Mode.PREDICTIVE else ProgressivePacer()
        self._campaigns[config.name] = CampaignBook(
            config=config, pacer=pacer, stats=DialStats(cap_window_s=config.abandon_window_s)
        )

    def load_contacts(self, campaign: str, contacts: Iterable[ContactFields], now: float) -> DialerOutput:
        """Add (or restore from the store) contacts. ``dialing`` ones were in flight at a restart.

        Reads only the :class:`~ctilink.dialer.types.ContactFields` attributes: a
        :class:`~ctilink.dialer.types.Contact`, or what the store returns, as it is."""
        self._out = DialerOutput()
        c = self._campaign(campaign)
        for rec in contacts:
            data = dict(rec.data)
            contact = ContactEntry(
                contact_id=rec.contact_id,
                number=rec.number,
                zones=contact_zones(rec.number, data.get("timezone"), c.config.default_timezone, c.config.region),
                priority=rec.priority,
                attempts=rec.attempts,
                status=rec.status,
                next_at=rec.next_attempt_at,
                data=data,
                callback_agent=data.get("callback_agent"),
            )
            c.contacts[contact.contact_id] = contact
            if rec.status == "dialing":
                # outcome unknown: never redial at once (the call may still be up)
                attempt_id = data.get("attempt_id") or self._ids()
                self._record_attempt(c, contact, attempt_id, now, now, AttemptOutcome.INTERRUPTED, {})
                self._reschedule(c, contact, AttemptOutcome.INTERRUPTED, now)
            elif rec.status in ("pending", "callback"):
                self._push(c, contact)
        return self._take()

    # ------------------------------------------------------------------ inputs
    def request(self, req: DialerRequest, now: float) -> DialerOutput:
        self._out = DialerOutput()
        c = self._campaign(req.campaign)
        event = CAMPAIGN_EVENTS.get(type(req))
        if event is not None:
            self._move(c, event, now)  # raises, before anything changed, if the table has no such move
            if event in (CampaignEvent.START, CampaignEvent.RESUME):
                c.next_pace = now
                self._pace(c, now)
            elif event is CampaignEvent.STOP:
                for agent_id in list(c.previews):
                    self._return_preview(c, agent_id)
        elif isinstance(req, PreviewAccept):
            contact_id, _ = self._preview_of(c, req.agent_id)
            del c.previews[req.agent_id]
            self._dial(c, c.contacts[contact_id], now, agent_id=req.agent_id, reserved=True)
        elif isinstance(req, PreviewSkip):
            contact_id, _ = self._preview_of(c, req.agent_id)
            del c.previews[req.agent_id]
            contact = c.contacts[contact_id]
            self._release(c, req.agent_id, contact_id)
            reason = _clean(req.reason)
            self._record_attempt(
                c, contact, self._ids(), now, now, AttemptOutcome.SKIPPED, {"reason": reason, "agent_id": req.agent_id}
            )
            contact.status = "skipped"
            self._contact_note(c, contact)
            self._pace(c, now)
        elif isinstance(req, ScheduleCallback):
            found = c.contacts.get(req.contact_id)
            if found is None:
                raise DialerError(f"unknown contact {req.contact_id!r:.40} in campaign {c.config.name}")
            contact = found
            if contact.status == "dialing":
                raise DialerError(f"contact {req.contact_id!r:.40} is being dialed")
            if req.agent_id is not None and c.config.agents and req.agent_id not in c.config.agents:
                raise DialerError(f"agent {req.agent_id!r:.40} does not work campaign {c.config.name}")
            contact.status, contact.next_at, contact.callback_agent = "callback", req.at, req.agent_id
            if req.agent_id is not None:
                contact.data["callback_agent"] = req.agent_id
            else:
                contact.data.pop("callback_agent", None)
            self._push(c, contact)
            self._contact_note(c, contact)
        return self._take()

    def agent_changed(self, agent_id: str, state: AgentState, now: float) -> DialerOutput:
        """Feed from the engine's ``AgentStateChanged.new`` or its snapshot's agents at start."""
        self._out = DialerOutput()
        phase = AGENT_PHASES[state]
        before = self._agents.get(agent_id)
        if phase is None:
            self._agents.pop(agent_id, None)
        elif before is None or before[0] is not phase:
            self._agents[agent_id] = (phase, now)
        for c in self._campaigns.values():
            if not self._works(c, agent_id):
                continue
            if before is not None and before[0] is not phase:
                phase_ended(c.stats, before[0], now - before[1])
            if phase is None and agent_id in c.previews:
                self._return_preview(c, agent_id)
            if phase is AgentPhase.IDLE:
                self._serve_held(c, now)
            if phase is not AgentPhase.IDLE or c.state is CampaignState.RUNNING:
                self._pace(c, now)
        return self._take()

    def hold_until_resynced(self) -> None:
        """Place no dial until the switch's first ``Resynced`` (a daemon starting up).

        A daemon loads its campaigns and agents before its event socket is up; a dial paced then
        would fail with no link and cost the contact the failed-retry delay. Pacing (and the
        pacing deadline, so nothing spins) resumes with the first resync."""
        self._switch_up = False

    def on_event(self, ev: Event, now: float) -> DialerOutput:
        self._out = DialerOutput()
        if isinstance(ev, Resynced) and not self._switch_up:
            self._switch_up = True
            for c in self._campaigns.values():
                self._pace(c, now)
        if isinstance(ev, JobCompleted):
            found = self._by_job.get(ev.job_uuid)
            if found is not None and not ev.body.startswith("+OK"):
                c, d = self._lookup(found)
                if d is not None and d.answered_at is None:
                    cause = ev.body.removeprefix("-ERR").strip().split()[0] if ev.body.strip() else "FAILED"
                    self._ended_unanswered(c, d, cause, None, now)
        elif isinstance(ev, MachineDetected):
            self._on_amd(ev, now)
        elif isinstance(ev, ChannelAnswered | ChannelHungUp | ExecuteComplete):
            found = self._by_uuid.get(ev.uuid)
            if found is not None:
                c, d = self._lookup(found)
                if d is not None:
                    if isinstance(ev, ChannelAnswered):
                        self._on_answer(c, d, now)
                    elif isinstance(ev, ChannelHungUp):
                        self._on_hangup(c, d, ev, now)
                    elif ev.application == "playback" and d.settled is not None and not d.adopted:
                        self._cmd(Hangup(d.uuid, "NORMAL_CLEARING"))
        return self._take()

    def call_arrived(self, call_id: str, uuid: str) -> None:
        """The engine took an adopted leg: remember its call id."""
        found = self._by_uuid.get(uuid)
        if found is not None:
            self._by_call[call_id] = found
            _c, d = self._lookup(found)
            if d is not None:
                d.call_id = call_id

    def call_answered(self, call_id: str, agent_id: str, now: float) -> DialerOutput:
        """The engine bridged the customer to an agent."""
        self._out = DialerOutput()
        found = self._by_call.get(call_id)
        if found is not None:
            c, d = self._lookup(found)
            if d is not None and d.settled is None and d.connected_agent is None:
                d.connected_agent = agent_id
                c.connected += 1
                c.stats.live_answer(now, False)
                self._talked[call_id] = (c.config.name, now)
                d.deadline = None
                self._pace(c, now)  # a conversation holds no line: the line is free again
        return self._take()

    def call_ended(self, record: CallRecord) -> None:
        """The engine's record of a call (after its wrap-up): a connected campaign call that an
        agent marked with one of the campaign's ``machine_dispositions`` was no live answer."""
        talked = self._talked.pop(record.call_id, None)
        if talked is None:
            return
        c = self._campaigns.get(talked[0])
        if c is None:
            return
        codes = {offer.disposition_code for offer in record.offers} | {record.disposition_code}
        if codes & set(c.config.machine_dispositions):
            c.stats.machine_after_all(talked[1])

    def reservation_refused(self, campaign: str, agent_id: str, contact_id: str | None, now: float) -> DialerOutput:
        """The engine would not hold ``agent_id`` (taken meanwhile): take the preview back (the
        contact waits for the next idle agent), or dial the kept callback without a hold (its
        answer then waits for the agent like any preferred-agent call)."""
        self._out = DialerOutput()
        c = self._campaign(campaign)
        found = c.previews.get(agent_id)
        if found is not None and found[0] == contact_id:
            del c.previews[agent_id]
            # no pacing here: the dialer has not yet heard the agent is taken and would offer again
            self._unreserve_contact(c, c.contacts[found[0]], now)
        for d in c.dials.values():
            if d.reserved and d.agent_id == agent_id and d.contact_id == contact_id:
                d.reserved = False
        return self._take()

    def tick(self, now: float) -> DialerOutput:
        self._out = DialerOutput()
        for c in self._campaigns.values():
            for d in list(c.dials.values()):
                if (
                    d.amd_until is not None
                    and now >= d.amd_until
                    and d.answered_at is not None
                    and not d.live
                    and not d.machine
                ):
                    d.amd_until = None
                    self._live(c, d, now)  # no verdict: degrade to "every answer is live"
                if d.deadline is not None and now >= d.deadline and d.settled is None and d.connected_agent is None:
                    self._abandon(c, d, now)
                if d.hangup_at is not None and now >= d.hangup_at:
                    d.hangup_at = None
                    self._cmd(Hangup(d.uuid, "NORMAL_CLEARING"))
            for agent_id, (contact_id, expires) in list(c.previews.items()):
                if now >= expires:
                    del c.previews[agent_id]
                    if c.config.preview_timeout_action == "dial" and c.state is CampaignState.RUNNING:
                        self._dial(c, c.contacts[contact_id], now, agent_id=agent_id, reserved=True)
                    else:
                        self._release(c, agent_id, contact_id)
                        self._unreserve_contact(c, c.contacts[contact_id], now)
            if c.state is CampaignState.RUNNING and now >= c.next_pace:
                self._pace(c, now)
        return self._take()

    def next_deadline(self) -> float | None:
        times: list[float] = []
        for c in self._campaigns.values():
            if c.state is CampaignState.RUNNING and self._switch_up:
                times.append(c.next_pace)
            for d in c.dials.values():
                times.extend(
                    t
                    for t in (
                        d.deadline if d.connected_agent is None and d.settled is None else None,
                        d.amd_until,
                        d.hangup_at,
                    )
                    if t is not None
                )
            times.extend(exp for _, exp in c.previews.values())
        return min(times) if times else None

    # ------------------------------------------------------------------ reading
    def campaigns(self) -> list[str]:
        return list(self._campaigns)

    def config(self, campaign: str) -> CampaignConfig:
        return self._campaign(campaign).config

    def stats(self, campaign: str, now: float) -> CampaignStats:
        c = self._campaign(campaign)
        live, abandoned = c.stats.window(now)
        working = sum(1 for a in self._agents if self._works(c, a))
        in_flight = len(c.in_flight())
        return CampaignStats(
            campaign=campaign,
            state=c.state,
            mode=c.config.mode,
            pending=sum(1 for x in c.contacts.values() if x.status in ("pending", "callback")),
            dials_in_flight=in_flight,
            live_answers=c.stats.live_total,
            connected=c.connected,
            abandoned=c.stats.abandoned_total,
            abandon_rate=c.stats.lifetime_rate(),
            abandon_rate_window=abandoned / live if live else 0.0,
            refused=c.refused,
            agents_idle=sum(1 for a in self._idle_agents(c)),
            agents_working=working,
            dial_level=in_flight / working if working else 0.0,
            queue=c.config.queue,
            dials=c.dialed,
        )

    def contact_status(self, campaign: str, contact_id: str) -> str:
        return self._campaign(campaign).contacts[contact_id].status

    # ------------------------------------------------------------------ internals
    def _campaign(self, name: str) -> CampaignBook:
        c = self._campaigns.get(name)
        if c is None:
            raise DialerError(f"unknown campaign {name!r:.40}")
        return c

    def _take(self) -> DialerOutput:
        out, self._out = self._out, DialerOutput()
        return out

    def _cmd(self, command: Command) -> None:
        self._out.commands.append(command)

    def _note(self, note: object) -> None:
        self._out.notifications.append(note)

    def _lookup(self, found: tuple[str, str]) -> tuple[CampaignBook, Dial | None]:
        c = self._campaigns[found[0]]
        return c, c.dials.get(found[1])

    def _works(self, c: CampaignBook, agent_id: str) -> bool:
        return not c.config.agents or agent_id in c.config.agents

    def _idle_agents(self, c: CampaignBook) -> list[str]:
        busy = set(c.previews) | {d.agent_id for d in c.dials.values() if d.agent_id}
        idle = [
            (since, a)
            for a, (phase, since) in self._agents.items()
            if phase is AgentPhase.IDLE and self._works(c, a) and a not in busy
        ]
        return [a for _, a in sorted(idle)]

    def _move(self, c: CampaignBook, event: CampaignEvent, now: float) -> None:
        """Apply a run-state event through the table; a self-transition changes (and says) nothing."""
        state = transition(c.config.name, c.state, event)
        if c.state is not state:
            c.state = state
            self._note(CampaignStateChanged(c.config.name, state, now))

    def _push(self, c: CampaignBook, contact: ContactEntry) -> None:
        c.push(contact, next(self._order))

    def _preview_of(self, c: CampaignBook, agent_id: str) -> tuple[str, float]:
        found = c.previews.get(agent_id)
        if found is None:
            raise DialerError(f"agent {agent_id!r:.40} has no preview in campaign {c.config.name}")
        return found

    def _return_preview(self, c: CampaignBook, agent_id: str) -> None:
        contact_id, _ = c.previews.pop(agent_id)
        self._release(c, agent_id, contact_id)
        self._unreserve_contact(c, c.contacts[contact_id], None)

    def _reserve(self, c: CampaignBook, agent_id: str, reason: str, contact_id: str) -> None:
        self._out.requests.append(rq.ReserveAgent(agent_id, c.config.name, reason, contact_id))

    def _release(self, c: CampaignBook, agent_id: str, contact_id: str) -> None:
        # names the contact: a late release never frees the agent's next reservation
        self._out.requests.append(rq.ReleaseAgent(agent_id, c.config.name, contact_id))

    def _unreserve_contact(self, c: CampaignBook, contact: ContactEntry, now: float | None) -> None:
        contact.status = "callback" if contact.callback_agent else "pending"
        self._push(c, contact)
        self._contact_note(c, contact)

    def _contact_note(self, c: CampaignBook, contact: ContactEntry) -> None:
        self._note(ContactUpdated(contact.value(c.config.name)))

    def _record_attempt(
        self,
        c: CampaignBook,
        contact: ContactEntry,
        attempt_id: str,
        started: float,
        ended: float | None,
        outcome: AttemptOutcome | None,
        data: dict[str, Any],
    ) -> None:
        self._note(AttemptRecorded(c.attempt(contact, attempt_id, started, ended, outcome, data)))

    def _refuse(
        self, c: CampaignBook, contact: ContactEntry, reason: str, now: float, status: str, next_at: float | None
    ) -> None:
        c.refused += 1
        self._note(DialRefused(c.config.name, contact.contact_id, reason, now))
        self._record_attempt(
            c, contact, self._ids(), now, now, AttemptOutcome.REFUSED, {"reason": reason, "counted": False}
        )
        contact.status, contact.next_at = status, next_at
        if status in ("pending", "callback"):
            self._push(c, contact)
        self._contact_note(c, contact)

    def _next_contact(self, c: CampaignBook, now: float, agent_id: str | None) -> ContactEntry | None:
        """Pop the next due contact that passes every check; refusals are recorded on the way."""
        deferred: list[tuple[float, int, int, str, int]] = []
        found: ContactEntry | None = None
        while c.heap and c.heap[0][0] <= now:
            entry = heapq.heappop(c.heap)
            contact = c.contacts.get(entry[3])
            if contact is None or contact.token != entry[4] or contact.status not in ("pending", "callback"):
                continue
            if contact.callback_agent is not None and contact.callback_agent != agent_id:
                if agent_id is None and contact.callback_agent in self._idle_agents(c):
                    found = contact  # progressive/predictive: the kept agent is free, route to them
                    break
                deferred.append(entry)
                continue
            if contact.attempts >= c.config.max_attempts:
                self._refuse(c, contact, "max-attempts", now, "exhausted", None)
                continue
            blocked = self._dnc(contact.number, c.config.name, now) if self._dnc is not None else None
            if blocked is not None:
                list_name = getattr(getattr(blocked, "list_name", None), "value", None) or "dnc"
                self._refuse(c, contact, list_name, now, "dnc" if list_name == "dnc" else "blocked", None)
                continue
            if not is_open(c.config.windows, contact.zones, now):
                later = next_open(c.config.windows, contact.zones, now + 60.0)
                self._refuse(c, contact, "window", now, contact.status if later is not None else "no-window", later)
                continue
            found = contact
            break
        for entry in deferred:
            heapq.heappush(c.heap, entry)
        return found

    def _pace(self, c: CampaignBook, now: float) -> None:
        if c.state is not CampaignState.RUNNING or not self._switch_up:
            return
        c.next_pace = now + c.config.pacing_tick_s
        if c.config.mode is Mode.PREVIEW:
            for agent_id in self._idle_agents(c):
                contact = self._next_contact(c, now, agent_id)
                if contact is None:
                    continue  # another agent may have a callback kept for them
                contact.status = "previewing"
                expires = now + c.config.preview_timeout_s
                c.previews[agent_id] = (contact.contact_id, expires)
                self._note(
                    PreviewOffered(
                        c.config.name, agent_id, contact.contact_id, contact.number, dict(contact.data), expires
                    )
                )
                self._reserve(c, agent_id, "preview", contact.contact_id)
            return
        agents = [AgentView(phase, now - since) for a, (phase, since) in self._agents.items() if self._works(c, a)]
        # A conversation is the engine's, not a dial in flight: it needs no agent and holds no
        # line. Settled legs still hold one (announcement, hang-up on its way) but need no agent.
        dials = [DialView(d.phase, now - d.started_at) for d in c.in_flight()]
        closing = c.closing()
        cfg = c.config
        snap = PacerSnapshot(
            now=now,
            agents=agents,
            dials=dials,
            stats=c.stats,
            abandon_target=cfg.abandon_target,
            abandon_cap=cfg.abandon_cap,
            max_lines=max(0, cfg.lines(len(agents)) - closing),
            connect_deadline_s=cfg.connect_deadline_s,
            ring_timeout_s=float(cfg.ring_timeout_s),
        )
        want = max(0, min(int(c.pacer.dials_to_place(snap)), snap.headroom))
        for _ in range(want):
            contact = self._next_contact(c, now, None)
            if contact is None:
                break
            self._dial(c, contact, now, agent_id=contact.callback_agent)

    def _dial(
        self, c: CampaignBook, contact: ContactEntry, now: float, agent_id: str | None, reserved: bool = False
    ) -> None:
        """Originate to ``contact``; ``agent_id``: dialed for that agent (``reserved``: the engine
        already holds them, from the preview; otherwise, a kept callback, they are reserved now)."""
        cfg = c.config
        attempt_id = self._ids()
        leg, job = leg_ids(attempt_id)
        contact.attempts += 1
        c.dialed += 1
        contact.status = "dialing"
        contact.data["attempt_id"] = attempt_id
        d = Dial(
            uuid=leg,
            job_uuid=job,
            attempt_id=attempt_id,
            contact_id=contact.contact_id,
            started_at=now,
            agent_id=agent_id,
            reserved=agent_id is not None,
        )
        if agent_id is not None and not reserved:
            self._reserve(c, agent_id, "callback", contact.contact_id)
        c.dials[leg] = d
        self._by_uuid[leg] = (cfg.name, leg)
        self._by_job[job] = (cfg.name, leg)
        # persisted before the Originate is executed: a restart never redials blindly
        self._contact_note(c, contact)
        self._record_attempt(c, contact, attempt_id, now, None, None, {"agent_id": agent_id} if agent_id else {})
        self._cmd(customer_originate(cfg, attempt_id, contact.contact_id, contact.number, leg, job))

    def _on_answer(self, c: CampaignBook, d: Dial, now: float) -> None:
        if d.answered_at is not None:
            return
        d.answered_at = now
        d.phase = DialPhase.ANSWERED
        if c.config.amd:
            d.amd_until = now + AMD_TIMEOUT_S
        else:
            self._live(c, d, now)

    def _on_amd(self, ev: MachineDetected, now: float) -> None:
        found = self._by_uuid.get(ev.uuid)
        if found is None:
            return
        c, d = self._lookup(found)
        if d is None or d.live or d.machine or d.answered_at is None:
            return
        d.amd_until = None
        if str(getattr(ev.result, "value", ev.result)).lower() in ("machine", "fax"):
            d.machine = True
            c.stats.dial_ended(Outcome.MACHINE, d.answered_at - d.started_at)
            c.stats.counted_machine_hangup(c.config.machine_abandon_weight)
            if c.config.machine_action == "message" and c.config.machine_message:
                self._cmd(Playback(d.uuid, c.config.machine_message))
                d.hangup_at = now + ANNOUNCE_MAX_S
            else:
                self._cmd(Hangup(d.uuid, "NORMAL_CLEARING"))
            self._settle(c, d, AttemptOutcome.MACHINE, now, {})
        else:
            self._live(c, d, now)

    def _live(self, c: CampaignBook, d: Dial, now: float) -> None:
        d.live = True
        c.stats.dial_ended(Outcome.LIVE, (d.answered_at or now) - d.started_at)
        c.stats.live_known(now - (d.answered_at or now))
        if d.agent_id is None:
            # from the moment the answer is known to be live (after the AMD verdict), not from the
            # answer itself: the verdict takes longer than the connect deadline, so counting from
            # the answer abandoned every AMD-screened live answer
            d.deadline = now + c.config.connect_deadline_s
        d.phase = DialPhase.WAITING
        if d.agent_id is not None or self._idle_agents(c):
            self._adopt(c, d)
        else:
            c.held.append(d.uuid)

    def _adopt(self, c: CampaignBook, d: Dial) -> None:
        d.adopted = True
        d.reserved = False  # the engine hands the reservation to this leg when it arrives
        number = c.contacts[d.contact_id].number
        self._out.adopt.append(hand_over(c.config, d.uuid, d.contact_id, number, d.agent_id))

    def _serve_held(self, c: CampaignBook, now: float) -> None:
        while c.held and self._idle_agents(c):
            d = c.dials.get(c.held.popleft())
            if d is not None and d.settled is None and not d.adopted:
                self._adopt(c, d)

    def _abandon(self, c: CampaignBook, d: Dial, now: float) -> None:
        c.stats.live_answer(now, True)
        d.deadline = None
        if d.adopted and d.call_id is not None:
            self._out.requests.append(rq.HangupCall(d.call_id))
        elif d.adopted:
            self._cmd(Hangup(d.uuid, "NORMAL_CLEARING"))
        else:
            self._cmd(Playback(d.uuid, c.config.abandon_announcement))
            d.hangup_at = now + ANNOUNCE_MAX_S
        self._settle(c, d, AttemptOutcome.ABANDONED, now, {})

    def _on_hangup(self, c: CampaignBook, d: Dial, ev: ChannelHungUp, now: float) -> None:
        if d.answered_at is None:
            self._ended_unanswered(c, d, ev.cause, ev.sip_code, now)
        elif d.settled is None:
            if d.connected_agent is not None:
                self._settle(
                    c,
                    d,
                    AttemptOutcome.CONNECTED,
                    now,
                    {"agent_id": d.connected_agent, "duration_s": round(now - d.answered_at, 3)},
                )
            else:
                # the customer left before we connected them: a live answer we failed
                if d.live:
                    c.stats.live_answer(now, True)
                self._settle(
                    c, d, AttemptOutcome.ABANDONED if d.live else AttemptOutcome.FAILED, now, {"cause": ev.cause}
                )
        self._forget(c, d, now)

    def _ended_unanswered(self, c: CampaignBook, d: Dial, cause: str, sip_code: int | None, now: float) -> None:
        if d.settled is not None:
            return
        cause = _clean(cause)
        outcome = unanswered_outcome(cause, sip_code)  # the engine's classification (ctilink.core.causes)
        c.stats.dial_ended(DIAL_OUTCOMES[outcome], now - d.started_at)
        data: dict[str, Any] = {"cause": cause}
        if sip_code is not None:
            data["sip_code"] = sip_code
        self._settle(c, d, outcome, now, data)
        self._forget(c, d, now)

    def _settle(self, c: CampaignBook, d: Dial, outcome: AttemptOutcome, now: float, data: dict[str, Any]) -> None:
        if d.settled is not None:
            return
        d.settled = outcome
        d.deadline = None
        contact = c.contacts[d.contact_id]
        if d.reserved and d.agent_id is not None:
            d.reserved = False
            self._release(c, d.agent_id, d.contact_id)  # never adopted: the agent is free again
        if d.agent_id and "agent_id" not in data:
            data["agent_id"] = d.agent_id
        self._record_attempt(c, contact, d.attempt_id, d.started_at, now, outcome, data)
        contact.data.pop("attempt_id", None)
        if outcome is AttemptOutcome.CONNECTED:
            contact.status, contact.next_at = "done", None
            contact.callback_agent = None
            contact.data.pop("callback_agent", None)
            self._contact_note(c, contact)
        else:
            self._reschedule(c, contact, outcome, now)

    def _reschedule(self, c: CampaignBook, contact: ContactEntry, outcome: AttemptOutcome, now: float) -> None:
        rule = c.config.retry.for_outcome(outcome)
        if rule is not None and rule.retry and contact.attempts < c.config.max_attempts:
            contact.status = "callback" if contact.callback_agent else "pending"
            contact.next_at = now + rule.delay_s
            self._push(c, contact)
        else:
            contact.status, contact.next_at = "exhausted" if rule is not None else outcome.value, None
        self._contact_note(c, contact)

    def _forget(self, c: CampaignBook, d: Dial, now: float) -> None:
        """The leg is gone: the line is free."""
        c.dials.pop(d.uuid, None)
        self._by_uuid.pop(d.uuid, None)
        self._by_job.pop(d.job_uuid, None)
        if d.call_id is not None:
            self._by_call.pop(d.call_id, None)
        self._pace(c, now)


def _clean(text: str) -> str:
    """Caller/switch-controlled text kept printable and short before it is stored."""
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in str(text))[:64]
    return cleaned or "unspecified"


__all__ = [
    "AGENT_PHASES",
    "CAMPAIGN_EVENTS",
    "Attempt",
    "AttemptRecorded",
    "CampaignEvent",
    "CampaignState",
    "CampaignStateChanged",
    "CampaignStats",
    "Contact",
    "ContactUpdated",
    "DialRefused",
    "Dialer",
    "DialerError",
    "DialerOutput",
    "DialerRequest",
    "IllegalCampaignTransition",
    "PauseCampaign",
    "PreviewAccept",
    "PreviewOffered",
    "PreviewSkip",
    "ResumeCampaign",
    "ScheduleCallback",
    "StartCampaign",
    "StopCampaign",
]
