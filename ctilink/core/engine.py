"""The engine: the one entry point of the core. Inputs in, effects out, nothing else.

Rules:
- Pure and deterministic. ``handle(input, now)`` and ``tick(now)`` are the only ways in; both
  return :class:`~ctilink.core.effects.Effects` (switch commands + notifications). No sockets,
  threads, sleeps, wall clock or global random: time is the ``now`` passed in, randomness is the
  seeded ``rng``, ids come from ``id_factory``. The same inputs always give the same outputs.
- Single writer: the engine is not thread-safe and needs no locks; the service runs it in one
  greenlet.
- Every state change goes through a state machine table (``agent.py``, ``call.py``). Requests are
  validated before anything changes; a refusal is an ``InputRejected`` notification with a typed
  error, and the engine is untouched.
- Matching is event-driven: whenever an agent becomes offerable or a call starts waiting (arrival,
  failed offer, escalation, reload), the decision is made in the same ``handle``/``tick`` call
  through a small work list (``_drain``). Nothing polls.
- Timers are data: the engine keeps a heap of deadlines with tokens (a bumped token cancels a timer
  without searching) and says when it next wants ``tick`` via ``next_deadline()``.

Theory of operation:
- A customer leg parked with ``ctilink_queue`` becomes a :class:`Call`. It is screened, tagged with
  ``ctilink_call_id``, answered (or pre-answered), given hold music and put in its queue's waiting
  list for its escalation step. Calls wait ordered by (priority, queued time).
- Agents that may be offered a call sit in one pool per (queue, step) ordered by the queue's
  strategy. Offering pulls the agent out of every pool (token bump) and originates an agent leg
  with a ctilink-chosen uuid; the agent leg's answer gets Break (cut music/announcements) then
  Bridge. A leg's *outcome* is decided once (answer, no-answer, busy, ...); a leg that must go is
  hung up and stays ``CANCELLING`` until the switch confirms, and its agent stays reserved until
  then (or until ``cancel_grace_s``) so no phone is rung twice and no agent is stuck.
- A failed offer puts the call back with its original key (so it keeps its place) and tries the
  next agent; agents get busy/reject/no-answer delays and are paused after too many no-answers.
- When the customer leg goes, the call ends exactly once with a disposition (CallDisconnected);
  its record (CallEnded) is emitted once every agent who talked to it has finished wrap-up.
- Number lists (``lists_screen.py``) screen an arriving call before the screen hook: a blacklist
  hit rejects / announces / routes it (disposition ``rejected``) without consulting the hook; a
  whitelist hit raises its priority and may send it straight to a green-channel agent or
  extension. List changes are requests; every change is a ``ListChanged`` for the daemon to keep.
- Sticky routing (``sticky.py``): a call that joins its first queue is offered to its remembered
  (or ``ctilink_preferred_agent``) agent first; while that agent is busy the call is *held*: it
  keeps its place in the queue's position list but sits in no per-step list, so no other agent is
  matched to it and the calls behind it flow on. The agent freeing up (``_match_agent`` serves
  held calls first), the wait running out (``sticky`` timer) or the agent leaving releases it.

- Outbound reservations: ``ReserveAgent`` holds an available agent (``RESERVED``, no leg) for a
  campaign's preview or kept callback, so routing skips them while they read a contact or the
  customer is dialed for them. The customer leg of that campaign and contact naming the agent as
  preferred agent takes the reservation on arrival: it rings that agent at once (no queueing), or,
  if they cannot take it, the agent is released and the call routes normally. ``ReleaseAgent``
  (skip, timeout, failed dial) gives the agent back, honouring a not-ready / logout asked meanwhile.
- Click-to-dial (``click_to_dial.py``) is a state machine of its own whose sessions the engine
  keeps in ``_c2d``: channel events, job results and failed commands about its legs go to it
  first (and only), its timers are the ``c2d:*`` kinds, and it moves agents with the agent table.

What it must never know about: ESL text, sockets, persistence, metrics, HTTP. Those are edges.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

import structlog

from ctilink.commands import (
    Answer,
    Break,
    Bridge,
    Command,
    Hangup,
    Originate,
    Playback,
    PreAnswer,
    SetVariables,
    Transfer,
)
from ctilink.core import adoption, call_control, click_to_dial
from ctilink.core import requests as rq
from ctilink.core.agent import (
    TRANSITIONS,
    Agent,
    AgentEvent,
    AgentState,
    Reservation,
    channel_user,
    registration_key,
    transition,
)
from ctilink.core.call import (
    Call,
    CallEvent,
    CallState,
    Disposition,
    Leg,
    LegEvent,
    LegState,
    OfferOutcome,
    TransferRecord,
)
from ctilink.core.causes import CauseClass, classify
from ctilink.core.config import (
    DESTINATION_PATTERN,
    NAME_PATTERN,
    AgentProfile,
    EmptyPolicy,
    EngineConfig,
    OverflowAction,
    QueueConfig,
    Strategy,
    check_queue_references,
    queue_skill_names,
)
from ctilink.core.effects import Effects
from ctilink.core.errors import (
    AgentBusy,
    AgentUnavailable,
    CallNotConnected,
    ConfigError,
    CtilinkError,
    DoNotCallError,
    IllegalTransition,
    InvalidValue,
    NoCallForAgent,
    ScreenFailed,
    UnknownAgent,
    UnknownCall,
    UnknownDisposition,
    UnknownQueue,
    UnknownReason,
    UnknownSkill,
    log_fields,
)
from ctilink.core.ids import seeded_ids
from ctilink.core.lists_screen import ListScreen, Verdict
from ctilink.core.notifications import (
    AgentPresenceChanged,
    AgentStateChanged,
    CallAnnounced,
    CallAnswered,
    CallArrived,
    CallDisconnected,
    CallEnded,
    CallEscalated,
    CallOffered,
    CallOverflowed,
    CallQueued,
    CallScreened,
    CallTransferred,
    InputRejected,
    ListChanged,
    Notification,
    OfferResult,
    StickyRemembered,
    StickyRouted,
)
from ctilink.core.queue import QueueRuntime
from ctilink.core.routing import Requirement, compile_steps, first_step, skill_score
from ctilink.core.screening import CallInfo, CandidateAgent, CustomStrategy, ScreenDecision, ScreenHook, accept_all
from ctilink.core.snapshot import AgentView, CallView, EngineSnapshot, QueueView, WaitingCallView
from ctilink.core.sticky import StickyMemory, StickyRow
from ctilink.core.sticky import decide as sticky_decide
from ctilink.core.strategies import BUILTIN_STRATEGIES, make_pool
from ctilink.events import (
    ChannelAnswered,
    ChannelBridged,
    ChannelCreated,
    ChannelEvent,
    ChannelHeld,
    ChannelHungUp,
    ChannelParked,
    ChannelProgress,
    ChannelUnheld,
    CommandFailed,
    EndpointEvent,
    EndpointExpired,
    EndpointRegistered,
    EndpointUnregistered,
    Event,
    ExecuteComplete,
    JobCompleted,
    Resynced,
    SwitchShutdown,
)
from ctilink.lists.model import BlockAction, Entry
from ctilink.lists.numbers import ANONYMOUS
from ctilink.values import display_caller_id

log = structlog.get_logger("ctilink.core")

_CAUSE = re.compile(r"^[A-Z_]{1,40}$")
_PRIORITY = re.compile(r"^[0-9]{1,3}$")
_DESTINATION = re.compile(DESTINATION_PATTERN)
_NAME = re.compile(NAME_PATTERN)
_DEAD_LEGS_KEPT = 10_000
_MAX_WRAP_EXTENSION_S = 3600.0

#: An unanswered agent leg's offer outcome, by the hang-up class shared with the dialer
#: (ctilink.core.causes): a cancel is nobody's refusal, so it costs the agent nothing.
OFFER_OUTCOMES: Mapping[CauseClass, OfferOutcome] = {
    CauseClass.BUSY: OfferOutcome.BUSY,
    CauseClass.REJECTED: OfferOutcome.REJECTED,
    CauseClass.NO_ANSWER: OfferOutcome.NO_ANSWER,
    CauseClass.CANCELLED: OfferOutcome.CANCELLED,
    CauseClass.FAILED: OfferOutcome.FAILED,
}


def offer_outcome(cause: str, sip_code: int | None = None) -> OfferOutcome:
    """Map a hangup cause (and SIP code) of an unanswered agent leg to the offer's outcome."""
    return OFFER_OUTCOMES[classify(cause, sip_code)]


class Engine:
    """The ACD engine. See the module docstring for the rules."""

    def __init__(
        self,
        config: EngineConfig,
        *,
        rng: random.Random | None = None,
        id_factory: Callable[[], str] | None = None,
        screen: ScreenHook | None = None,
        strategies: Mapping[str, CustomStrategy] | None = None,
    ) -> None:
        self.config = config
        self._rng = rng if rng is not None else random.Random(0)
        # Seeded apart from the routing rng, so the ids do not change which agent a strategy picks;
        # a process that outlives restarts injects real uuids (ctilink.service.build).
        self._new_id = id_factory if id_factory is not None else seeded_ids(random.Random(0))
        self._screen = screen if screen is not None else accept_all
        self._custom: dict[str, CustomStrategy] = dict(strategies or {})
        for name in self._custom:
            if name in BUILTIN_STRATEGIES or not _NAME.match(name):
                raise ConfigError(f"custom strategy name {name!r} is a built-in name or not a plain name")
        self._reasons = set(config.not_ready_reasons) | {"no-answer"}
        self._codes = set(config.disposition_codes)
        self._catalogue = set(config.skills) if config.skills is not None else None
        self._agent_profiles = set(config.agent_sip_profiles)
        self._agents: dict[str, Agent] = {}
        self._queues: dict[str, QueueRuntime] = {}
        self._queue_configs: list[QueueConfig] = []
        self._base_of: dict[str, Requirement] = {}
        self._calls: dict[str, Call] = {}  # live calls, and ended ones waiting for wrap-up
        self._by_uuid: dict[str, Call] = {}  # customer uuid -> live call
        self._legs: dict[str, Leg] = {}
        self._jobs: dict[str, Leg] = {}
        self._released: dict[str, str] = {}  # customer uuids that left our control -> node
        self._dead: OrderedDict[str, None] = OrderedDict()  # agent legs we gave up on: kill on sight
        self._foreign: dict[str, list[str]] = {}  # channel uuid -> agent ids whose phone it is on
        self._user_index: dict[str, list[tuple[str, int, str | None]]] = {}
        self._contacts: dict[str, dict[str, set[str]]] = {}  # user -> realm -> registered contacts
        self._wrap_legs: dict[str, list[Leg]] = {}
        self._timers: list[tuple[float, int, str, str, int]] = []
        self._timer_seq = itertools.count()
        self._seq = itertools.count()
        self._dirty_agents: dict[str, None] = {}
        self._dirty_calls: dict[str, None] = {}
        self._dirty_queues: dict[str, None] = {}
        self._new_available: dict[str, None] = {}
        self._now = 0.0
        self._clock_started = False
        self._eff = Effects()
        self._lists = ListScreen(config.lists, config.default_region)
        self._sticky = StickyMemory(config.sticky)
        self._waiters: dict[str, dict[str, None]] = {}  # agent id -> calls held for that agent
        # What a resync describes is held back until its marker: adoptable channels (per node, by
        # uuid) and the rest of its events, replayed after the adoption (ctilink.core.adoption).
        self._found: dict[str, dict[str, adoption.Found]] = {}
        self._held_back: dict[str, list[ChannelEvent]] = {}
        self._c2d = click_to_dial.Sessions()  # click-to-dial sessions (ctilink.core.click_to_dial)
        self._check_queue_set(list(config.queues), config.default_route)
        self._rebuild_queues(list(config.queues))
        for profile in config.agents:
            self._upsert(profile)
        self._eff = Effects()

    # ------------------------------------------------------------------ public API

    def handle(self, item: object, now: float) -> Effects:
        """Process one event (``ctilink.events``) or request (``ctilink.core.requests``)."""
        self._begin(now)
        try:
            if isinstance(item, rq.Request):
                self._on_request(item)
            elif isinstance(item, ChannelEvent):
                if not (item.resync and self._hold_back(item)):
                    self._on_channel_input(item)
            elif isinstance(item, JobCompleted):
                self._on_job(item)
            elif isinstance(item, CommandFailed):
                self._on_command_failed(item)
            elif isinstance(item, EndpointEvent):
                self._on_presence(item)
            elif isinstance(item, SwitchShutdown):
                self._on_shutdown(item)
            elif isinstance(item, Resynced):
                self._on_resynced(item)
            elif not isinstance(item, Event):
                raise InvalidValue("input", type(item).__name__, "a ctilink event or request")
        except CtilinkError as exc:
            self._reject(exc, type(item).__name__, item)
        self._drain()
        return self._finish()

    def tick(self, now: float) -> Effects:
        """Fire every timer due at or before ``now`` (each at its own deadline, in order)."""
        self._begin(now)
        while self._timers and self._timers[0][0] <= now:
            deadline, _, kind, key, token = heapq.heappop(self._timers)
            if not self._timer_valid(kind, key, token):
                continue
            self._now = max(self._now, deadline)
            try:
                self._fire(kind, key)
            except CtilinkError as exc:
                self._reject(exc, f"timer:{kind}", key)
            self._drain()
        self._now = max(self._now, now)
        self._drain()
        return self._finish()

    def next_deadline(self) -> float | None:
        """When the engine next wants ``tick(now)``, or None if no timer is pending."""
        timers = self._timers
        while timers and not self._timer_valid(timers[0][2], timers[0][3], timers[0][4]):
            heapq.heappop(timers)
        return timers[0][0] if timers else None

    def queue_position(self, call_id: str) -> tuple[int, float | None]:
        """(position in its queue, estimated wait in seconds); position 0 = ringing or with an agent.
        The estimate is None when no eligible agent is staffed."""
        call = self._calls.get(call_id)
        if call is None or call.state is CallState.ENDED:
            raise UnknownCall(call_id)
        rt = self._queues.get(call.queue or "")
        if rt is None:
            return (0, None)
        position = rt.position(call.waiting_key, call.call_id) if call.in_list and call.waiting_key else 0
        return position, self._ewt(rt, position)

    def snapshot(self, now: float | None = None) -> EngineSnapshot:
        """A read-only view of agents, queues and live calls."""
        at = self._now if now is None else now
        agents = tuple(self._agent_view(agent, at) for agent in self._agents.values())
        queues = []
        for rt in self._queues.values():
            waiting = []
            for position, entry in enumerate(rt.all_waiting, start=1):
                call = self._calls[entry[3]]
                waiting.append(
                    WaitingCallView(
                        call_id=call.call_id,
                        position=position,
                        wait_s=max(0.0, at - (at if call.entered_at is None else call.entered_at)),
                        priority=call.priority,
                        step=call.step,
                        estimated_wait_s=self._ewt(rt, position),
                        held_for=call.held_for,
                    )
                )
            queues.append(
                QueueView(
                    name=rt.name,
                    strategy=rt.config.strategy,
                    waiting=tuple(waiting),
                    available_agents=len(rt.pools[-1]),
                    logged_in_agents=rt.logged_in[-1],
                    staffed_agents=rt.staffed[-1],
                    average_handle_time_s=rt.aht_s,
                )
            )
        calls = tuple(self._call_view(call, at) for call in self._calls.values() if call.state is not CallState.ENDED)
        return EngineSnapshot(at=at, agents=agents, queues=tuple(queues), calls=calls)

    def agent_view(self, agent_id: str, now: float | None = None) -> AgentView:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise UnknownAgent(agent_id)
        return self._agent_view(agent, self._now if now is None else now)

    def call_view(self, call_id: str, now: float | None = None) -> CallView:
        call = self._calls.get(call_id)
        if call is None or call.state is CallState.ENDED:
            raise UnknownCall(call_id)
        return self._call_view(call, self._now if now is None else now)

    def agent_profile(self, agent_id: str) -> AgentProfile | None:
        """The profile the engine routes the agent with now (endpoints as last upserted)."""
        agent = self._agents.get(agent_id)
        return agent.profile if agent is not None else None

    def call_id_for_uuid(self, uuid: str) -> str | None:
        """The call a live customer leg belongs to."""
        call = self._by_uuid.get(uuid)
        return call.call_id if call is not None else None

    # -- number lists and sticky memory (reads raise typed errors; changes are requests) --------

    def load_lists(self, entries: Iterable[Entry]) -> list[tuple[object, CtilinkError]]:
        """Load list entries (the store's, at start, before the first input). No notifications.
        Returns the (entry, error) pairs refused (e.g. a route target no command could carry)."""
        return self._lists.load(entries)

    def load_sticky(self, rows: Iterable[StickyRow]) -> list[tuple[object, CtilinkError]]:
        """Load sticky memory (the store's live ``StickyRecord`` rows, at start). No notifications.
        Returns the (row, error) pairs refused."""
        return self._sticky.load(rows)

    def check_dnc(self, number: str, campaign: str | None, now: float) -> Entry | None:
        """The do-not-call entry forbidding a dial of ``number`` for ``campaign`` (scopes
        ``campaign:<name>`` then ``global``), or None. Raises ``InvalidNumber`` / ``InvalidValue``."""
        return self._lists.check_dnc(number, campaign, now)[1]

    def ensure_dialable(self, number: str, campaign: str | None, now: float) -> str:
        """The number as E.164 if it may be dialled; raises :class:`DoNotCallError` if it is on
        the do-not-call list (``InvalidNumber`` if it is not a number)."""
        normalized, entry = self._lists.check_dnc(number, campaign, now)
        if entry is not None:
            raise DoNotCallError(normalized, entry)
        return normalized

    def query_list(
        self,
        list_name: str,
        *,
        scope: str | None = None,
        number: str | None = None,
        now: float | None = None,
        limit: int | None = None,
    ) -> list[Entry]:
        """Entries of ``list_name`` sorted by key, optionally of one scope / number; with ``now``,
        live ones only. Scans the list: for operators, not for routing."""
        return self._lists.query(list_name, scope=scope, number=number, now=now, limit=limit)

    def match_list(
        self,
        number: str,
        list_name: str,
        *,
        now: float,
        queue: str | None = None,
        destination: str | None = None,
        campaign: str | None = None,
    ) -> Entry | None:
        """The entry of ``list_name`` that would win for a call from ``number`` (raw) to
        ``destination`` / ``queue`` (or a dial in ``campaign``), as the screening sees it."""
        scopes = self._lists.scopes(destination, queue)
        if campaign is not None:
            scopes.insert(0, f"campaign:{campaign}")
        return self._lists.lookup(number, list_name, scopes, now)

    def sticky_agent(self, number: str, queue: str | None, now: float) -> str | None:
        """The agent remembered for ``number`` (raw; normalized with ``default_region``) in
        ``queue``, if the memory is live. The dialer's hook for callbacks: it may set the
        ``ctilink_preferred_agent`` variable on the customer leg it parks."""
        normalized = self._lists.normalize_caller(number)
        if normalized is None or normalized == ANONYMOUS:
            return None
        memo = self._sticky.peek(normalized, queue, now)
        return memo.agent_id if memo is not None else None

    def check_invariants(self) -> list[str]:
        """Every broken invariant, as text (empty when all hold). O(agents + calls): for tests."""
        problems: list[str] = []
        for agent in self._agents.values():
            problems.extend(self._agent_problems(agent))
        listed: dict[str, int] = {}
        held: dict[str, int] = {}
        for call in self._calls.values():
            if call.held_for is not None and call.in_list and call.queue is not None:
                held[call.queue] = held.get(call.queue, 0) + 1
        for rt in self._queues.values():
            for step, bucket in enumerate(rt.waiting):
                for entry in bucket:
                    listed[entry[3]] = listed.get(entry[3], 0) + 1
                    listed_call = self._calls.get(entry[3])
                    if (
                        listed_call is None
                        or listed_call.state is not CallState.QUEUED
                        or listed_call.queue != rt.name
                        or listed_call.step != step
                    ):
                        problems.append(
                            f"waiting list {rt.name}[{step}] holds call {entry[3]} that is not waiting there"
                        )
            for entry in rt.all_waiting:
                listed_call = self._calls.get(entry[3])
                if listed_call is None or listed_call.state is not CallState.QUEUED or listed_call.queue != rt.name:
                    problems.append(f"position list {rt.name} holds call {entry[3]} that is not waiting there")
            if sum(len(b) for b in rt.waiting) + held.get(rt.name, 0) != len(rt.all_waiting):
                problems.append(f"queue {rt.name}: per-step lists and position list disagree")
            logged = [0] * len(rt.steps)
            staffed = [0] * len(rt.steps)
            for agent in self._agents.values():
                k = agent.memberships.get(rt.name)
                if k is None:
                    continue
                for s in range(k, len(rt.steps)):
                    logged[s] += agent.logged_in_flag
                    staffed[s] += agent.staffed
            if logged != rt.logged_in or staffed != rt.staffed:
                problems.append(f"queue {rt.name}: counters {rt.logged_in}/{rt.staffed} != {logged}/{staffed}")
        for call in self._calls.values():
            count = listed.get(call.call_id, 0)
            expected = 0 if call.held_for is not None else 1
            if call.state is CallState.QUEUED and count != expected:
                problems.append(f"call {call.call_id} is queued but listed {count} times (held: {call.held_for})")
            if call.held_for is not None:
                holder = self._agents.get(call.held_for)
                if call.state is not CallState.QUEUED or call.call_id not in self._waiters.get(call.held_for, {}):
                    problems.append(f"call {call.call_id} held for {call.held_for} but {call.state} / not indexed")
                elif holder is not None and holder.in_pools and (call.queue or "") in agent.memberships:
                    problems.append(f"call {call.call_id} held for {call.held_for}, who is offerable")
            if call.state is not CallState.QUEUED and count:
                problems.append(f"call {call.call_id} is {call.state} but still listed")
            if call.state is CallState.OFFERING and not call.ringing:
                problems.append(f"call {call.call_id} is offering with no ringing leg")
            if (
                call.state is CallState.CONNECTED
                and call.connected is None
                and not any(leg.talk_ended_at is not None for leg in call.legs)
            ):
                # (After the agent hangs up, the call stays connected until the customer leg we
                # hung up is confirmed gone: that is not a problem.)
                problems.append(f"call {call.call_id} is connected without an agent leg")
            if call.state is CallState.ENDED and (call.wrap_pending <= 0 or call.finalized):
                problems.append(f"call {call.call_id} ended but is still tracked")
            if call.state is not CallState.ENDED and self._by_uuid.get(call.uuid) is not call:
                problems.append(f"call {call.call_id} is live but not indexed by its uuid")
        for agent_id, calls in self._waiters.items():
            for call_id in calls:
                waiter = self._calls.get(call_id)
                if waiter is None or waiter.held_for != agent_id:
                    problems.append(f"sticky waiters of {agent_id} list call {call_id} that is not held for them")
        for uuid, leg in self._legs.items():
            owner = self._agents.get(leg.agent_id)
            if owner is None or uuid not in owner.legs:
                problems.append(f"leg {uuid} not on its agent {leg.agent_id}")
        problems.extend(click_to_dial.problems(self))
        return problems

    # ------------------------------------------------------------------ plumbing

    def _begin(self, now: float) -> None:
        self._now = max(self._now, now)
        if not self._clock_started:
            # Agents configured at construction met the engine before it had a time: their first
            # state began at its first input, not at 0 (the first AgentStateChanged carried the
            # Unix time as its duration).
            self._clock_started = True
            for agent in self._agents.values():
                agent.state_since = agent.idle_since = self._now
        self._eff = Effects()
        expiry = self._lists.next_expiry()
        if expiry is not None and expiry <= self._now:
            # A few per input, so one input never pays for a mass expiry; the daemon deletes them.
            for entry in self._lists.purge_expired(self._now):
                self._note(ListChanged("expire", entry, self._now))

    def _finish(self) -> Effects:
        effects, self._eff = self._eff, Effects()
        return effects

    def _cmd(self, command: Command) -> None:
        self._eff.commands.append(command)

    def _note(self, notification: Notification) -> None:
        self._eff.notifications.append(notification)

    def _reject(self, error: CtilinkError, subject: str, item: object = None) -> None:
        level = "error" if isinstance(error, IllegalTransition) else "warning"
        getattr(log, level)("input rejected", subject=subject, **log_fields(error, item))
        self._note(InputRejected(error=error, subject=subject, at=self._now))

    def _timer(self, at: float, kind: str, key: str, token: int) -> None:
        heapq.heappush(self._timers, (at, next(self._timer_seq), kind, key, token))

    def _timer_valid(self, kind: str, key: str, token: int) -> bool:
        if kind.startswith(click_to_dial.TIMER_PREFIX):
            return click_to_dial.timer_valid(self, kind, key, token)
        if kind in ("ring", "grace", "reap_leg"):
            leg = self._legs.get(key)
            if leg is None or leg.token != token:
                return False
            return leg.result is None if kind == "ring" else leg.state is LegState.CANCELLING
        if kind == "wrap":
            agent = self._agents.get(key)
            return agent is not None and agent.wrap_token == token and agent.state is AgentState.WRAP_UP
        if kind == "delay":
            agent = self._agents.get(key)
            return agent is not None and agent.delay_token == token and agent.delayed_until is not None
        if kind == "sticky":
            call = self._calls.get(key)
            return call is not None and call.sticky_token == token and call.held_for is not None
        call = self._calls.get(key)
        return call is not None and call.timer_token == token and call.state is not CallState.ENDED

    def _fire(self, kind: str, key: str) -> None:
        now = self._now
        if kind.startswith(click_to_dial.TIMER_PREFIX):
            click_to_dial.fire(self, kind, key)
        elif kind == "ring":
            self._leg_outcome(self._legs[key], OfferOutcome.NO_ANSWER, "NO_ANSWER")
        elif kind == "reap_leg":
            leg = self._legs[key]
            log.warning("bridged agent leg outlived its customer; hanging it up", uuid=key, agent_id=leg.agent_id)
            self._cmd(Hangup(leg.uuid, "NORMAL_CLEARING", node=leg.node))
        elif kind == "reap_call":
            call = self._calls[key]
            log.warning("customer outlived its bridged agent leg; hanging it up", uuid=call.uuid)
            self._cmd(Hangup(call.uuid, "NORMAL_CLEARING", node=call.node))
        elif kind == "grace":
            leg = self._legs[key]
            log.warning("agent leg never confirmed its end; releasing agent", uuid=key, agent_id=leg.agent_id)
            self._leg_gone(leg, "ORIGINATOR_CANCEL")
            self._remember_dead(key)
        elif kind == "wrap":
            self._wrap_up_over(self._agents[key])
        elif kind == "delay":
            agent = self._agents[key]
            agent.delayed_until = None
            self._dirty_agents[agent.id] = None
        elif kind == "escalate":
            self._escalate(self._calls[key])
        elif kind == "maxwait":
            call = self._calls[key]
            if call.state is CallState.QUEUED:
                self._overflow(call, self._queues.get(call.queue or ""), "max-wait")
        elif kind == "announce":
            self._announce(self._calls[key])
        elif kind == "sticky":
            self._release_hold(self._calls[key], "fallback")
        elif kind == "leave":
            call = self._calls[key]
            if call.leave_path is not None:
                call.leave_path = None
                self._cmd(Hangup(call.uuid, call.leave_cause, node=call.node))
                self._timer(now + self.config.cancel_grace_s, "leave", call.call_id, call.timer_token)
            else:
                self._end_call(call, call.leave_disposition or Disposition.OVERFLOWED, "no-hangup-confirmation", True)

    def _drain(self) -> None:
        """Settle agents, then match waiting calls and newly offerable agents, until nothing is left."""
        while True:
            if self._dirty_agents:
                ids = list(self._dirty_agents)
                self._dirty_agents.clear()
                for agent_id in ids:
                    agent = self._agents.get(agent_id)
                    if agent is not None:
                        self._reconcile(agent)
                        self._refresh(agent)
                    if agent_id in self._waiters:
                        self._check_waiters(agent_id)
                continue
            if self._dirty_queues:
                name = next(iter(self._dirty_queues))
                del self._dirty_queues[name]
                self._leave_if_empty(name)
                continue
            if self._dirty_calls:
                call_id = next(iter(self._dirty_calls))
                del self._dirty_calls[call_id]
                call = self._calls.get(call_id)
                if call is not None and call.state is CallState.QUEUED and call.in_list:
                    self._match_call(call)
                continue
            if self._new_available:
                agent_id = next(iter(self._new_available))
                del self._new_available[agent_id]
                agent = self._agents.get(agent_id)
                if agent is not None and agent.in_pools:
                    self._match_agent(agent)
                continue
            break

    # ------------------------------------------------------------------ queues & indexes

    def _check_queue_set(self, queues: list[QueueConfig], default_route: OverflowAction | None) -> None:
        names = [q.name for q in queues]
        if len(set(names)) != len(names):
            raise ConfigError("queues: duplicate queue name")
        known = set(names)
        for queue in queues:
            try:
                check_queue_references(queue, known)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
            if queue.strategy not in BUILTIN_STRATEGIES and queue.strategy not in self._custom:
                raise ConfigError(f"queues[{queue.name}].strategy: unknown strategy {queue.strategy!r}")
            if self._catalogue is not None:
                for skill in queue_skill_names(queue):
                    if skill not in self._catalogue:
                        raise UnknownSkill(skill, owner=f"queue {queue.name}")
        if default_route is not None and default_route.kind == "queue" and default_route.target not in known:
            raise ConfigError(f"default_route: unknown queue {default_route.target!r}")

    def _rebuild_queues(self, queues: list[QueueConfig]) -> None:
        """Replace every queue runtime; keeps agents' states, waiting calls' keys and AHT figures."""
        for agent in self._agents.values():
            self._detach(agent)
        old = self._queues
        self._queue_configs = queues
        steps_of = {q.name: compile_steps(q) for q in queues}
        self._base_of = {name: steps[0] for name, steps in steps_of.items()}
        new: dict[str, QueueRuntime] = {}
        for qc in queues:
            previous = old.get(qc.name)
            cursor = previous.cursor if previous is not None else [-1]
            aht = previous.aht_s if previous is not None else self.config.aht_default_s
            rt = QueueRuntime(qc, steps_of[qc.name], [], cursor, aht)
            rt.pools = [
                make_pool(
                    qc.strategy,
                    self._agents,
                    rng=self._rng,
                    rank=self._ranker(rt),
                    score=self._scorer(qc),
                    cursor=cursor,
                )
                for _ in rt.steps
            ]
            new[qc.name] = rt
        self._queues = new
        for agent in self._agents.values():
            agent.memberships = self._memberships(agent.profile)
            self._refresh(agent)
        orphans: list[Call] = []
        for call in self._calls.values():
            if not call.in_list:
                continue
            call.in_list = False
            target = new.get(call.queue or "")
            if target is None:
                orphans.append(call)
                continue
            call.step = min(call.step, target.last_step)
            self._insert_waiting(call)
            self._dirty_calls[call.call_id] = None
        for call in orphans:
            call.waiting_key = None
            self._overflow(call, None, "queue-removed")
        for agent_id in self._waiters:
            self._dirty_agents[agent_id] = None  # memberships changed: is each wait still sensible?

    @staticmethod
    def _ranker(rt: QueueRuntime) -> Callable[[Agent], int]:
        ranks = rt.ranks

        def rank(agent: Agent) -> int:
            return ranks.get(agent.id, 1_000_000 + agent.seq)

        return rank

    @staticmethod
    def _scorer(qc: QueueConfig) -> Callable[[Agent], int]:
        def score(agent: Agent) -> int:
            return skill_score(agent.profile.skills, qc)

        return score

    def _memberships(self, profile: AgentProfile) -> dict[str, int]:
        found = {}
        for name, rt in self._queues.items():
            step = first_step(profile.skills, rt.steps, self._base_of)
            if step is not None:
                found[name] = step
        return found

    def _offerable(self, agent: Agent, direct: bool = False) -> bool:
        """May the agent be offered a call now? ``direct``: a call routed to this very agent (screen
        or transfer), which does not need the agent to serve any queue."""
        state = agent.state
        if agent.reservation is not None:
            return False  # spoken for by a campaign: only the call that takes the reservation reaches them
        if agent.click_to_dial is not None:
            return False  # on (or ringing for) a click-to-dial of their own
        if state is not AgentState.AVAILABLE:
            if agent.profile.max_calls <= 1 or agent.direct or state not in (AgentState.RESERVED, AgentState.ON_CALL):
                return False
        return (
            agent.pending_not_ready is None
            and not agent.pending_logout
            and agent.delayed_until is None
            and agent.busy_count() < agent.profile.max_calls
            and (direct or bool(agent.memberships))
            and agent.usable_endpoint() is not None
        )

    def _refresh(self, agent: Agent) -> None:
        """Bring pools and counters in line with the agent's current facts."""
        logged = agent.state is not AgentState.LOGGED_OUT
        staffed = (
            logged
            and agent.state is not AgentState.NOT_READY
            and not agent.pending_logout
            and agent.usable_endpoint() is not None
        )
        d_logged = int(logged) - int(agent.logged_in_flag)
        d_staffed = int(staffed) - int(agent.staffed)
        if d_logged or d_staffed:
            for name, k in agent.memberships.items():
                rt = self._queues[name]
                for s in range(k, len(rt.steps)):
                    rt.logged_in[s] += d_logged
                    rt.staffed[s] += d_staffed
                if (d_logged < 0 or d_staffed < 0) and rt.config.leave_when_empty is not EmptyPolicy.IGNORE:
                    self._dirty_queues[name] = None
            agent.logged_in_flag = logged
            agent.staffed = staffed
        offerable = self._offerable(agent)
        if offerable and not agent.in_pools:
            agent.in_pools = True
            agent.pool_token += 1
            for name, k in agent.memberships.items():
                pools = self._queues[name].pools
                for s in range(k, len(pools)):
                    pools[s].add(agent)
            self._new_available[agent.id] = None
        elif not offerable and agent.in_pools:
            self._pull(agent)

    def _pull(self, agent: Agent) -> None:
        """Take the agent out of every pool (token bump invalidates its entries)."""
        if not agent.in_pools:
            return
        agent.in_pools = False
        agent.pool_token += 1
        for name, k in agent.memberships.items():
            pools = self._queues[name].pools
            for s in range(k, len(pools)):
                pools[s].discard(agent)

    def _detach(self, agent: Agent) -> None:
        """Remove the agent from pools and counters (before its memberships change)."""
        self._pull(agent)
        if agent.logged_in_flag or agent.staffed:
            for name, k in agent.memberships.items():
                rt = self._queues.get(name)
                if rt is None:
                    continue
                for s in range(k, len(rt.steps)):
                    rt.logged_in[s] -= int(agent.logged_in_flag)
                    rt.staffed[s] -= int(agent.staffed)
            agent.logged_in_flag = False
            agent.staffed = False

    def _insert_waiting(self, call: Call) -> None:
        rt = self._queues[call.queue or ""]
        assert call.waiting_key is not None and not call.in_list
        rt.insert(call.waiting_key, call.call_id, call.step, held=call.held_for is not None)
        call.in_list = True

    def _remove_waiting(self, call: Call) -> None:
        if call.in_list and call.waiting_key is not None:
            rt = self._queues.get(call.queue or "")
            if rt is not None:
                rt.remove(call.waiting_key, call.call_id, call.step, held=call.held_for is not None)
        call.in_list = False

    def _ewt(self, rt: QueueRuntime, position: int) -> float | None:
        staffed = rt.staffed[-1]
        if position <= 0:
            return 0.0
        if staffed <= 0:
            return None
        return position * rt.aht_s / staffed

    def _may_join(self, rt: QueueRuntime) -> bool:
        return not self._is_empty(rt, rt.config.join_when_empty)

    @staticmethod
    def _is_empty(rt: QueueRuntime, policy: EmptyPolicy) -> bool:
        if policy is EmptyPolicy.NO_AGENTS:
            return rt.logged_in[-1] == 0
        if policy is EmptyPolicy.NO_READY:
            return rt.staffed[-1] == 0
        return False

    def _leave_if_empty(self, name: str) -> None:
        rt = self._queues.get(name)
        if rt is None or not self._is_empty(rt, rt.config.leave_when_empty):
            return
        for entry in list(rt.all_waiting):
            call = self._calls[entry[3]]
            self._overflow(call, rt, "empty")

    # ------------------------------------------------------------------ matching

    def _match_call(self, call: Call) -> bool:
        """Offer a waiting call to the best eligible available agent(s) of its step; True if offered."""
        rt = self._queues.get(call.queue or "")
        if rt is None:
            return False
        if call.prefer_agent is not None:
            preferred = self._match_preferred(call, rt)
            if preferred is not None:
                return preferred
        pool = rt.pools[call.step]
        if not len(pool):
            return False
        strategy = rt.config.strategy
        if strategy == Strategy.RING_ALL:
            chosen = pool.members()
        elif strategy in self._custom:
            picked = self._custom_pick(call, rt, pool.members())
            chosen = [picked] if picked is not None else []
        else:
            best = pool.best(exclude=call.last_failed_agent)
            chosen = [best] if best is not None else []
        if not chosen:
            return False
        self._remove_waiting(call)
        call.apply(CallEvent.OFFER)
        for agent in chosen:
            pool.offered(agent)
            self._offer(call, agent)
        return True

    def _match_preferred(self, call: Call, rt: QueueRuntime) -> bool | None:
        """The sticky / preferred agent first: True if offered to them, False if the call is held
        for them, None if the preference is spent and the call routes normally."""
        agent_id = call.prefer_agent
        assert agent_id is not None
        agent = self._agents.get(agent_id)
        if agent is not None and agent.in_pools and rt.name in agent.memberships:
            self._remove_waiting(call)
            self._unhold(call)
            call.prefer_agent = None  # one offer: if they miss it, the call routes normally
            call.apply(CallEvent.OFFER)
            self._sticky_note(call, agent_id, "hit")
            self._offer(call, agent)
            return True
        if call.held_for is not None:
            return False
        call.prefer_agent = None
        self._sticky_note(call, agent_id, "fallback")
        return None

    def _custom_pick(self, call: Call, rt: QueueRuntime, members: list[Agent]) -> Agent | None:
        if not members:
            return None
        by_id = {agent.id: agent for agent in members}
        candidates = [
            CandidateAgent(
                agent_id=a.id,
                skills=a.profile.skills,
                idle_since=a.idle_since,
                calls_answered=a.calls_answered,
                talk_time_s=a.talk_time_s,
                rank=rt.ranks.get(a.id, 1_000_000 + a.seq),
            )
            for a in sorted(members, key=lambda a: (a.idle_since, a.seq))
        ]
        try:
            order = list(self._custom[rt.config.strategy](candidates, self._call_info(call)))
        except Exception as exc:  # a plug-in must not lose the call
            log.error("custom strategy failed", strategy=rt.config.strategy, error=repr(exc)[:200])
            order = [c.agent_id for c in candidates]
        valid = [by_id[agent_id] for agent_id in order if isinstance(agent_id, str) and agent_id in by_id]
        if not valid:
            valid = [by_id[c.agent_id] for c in candidates]
        for agent in valid:
            if agent.id != call.last_failed_agent:
                return agent
        return valid[0]

    def _match_agent(self, agent: Agent) -> None:
        """An agent became offerable: serve the best call it may take (via the pool, so the queue's
        strategy still decides between agents that became available together)."""
        while agent.in_pools:
            waiting = self._waiters.get(agent.id)
            if waiting:
                # Calls held for this very agent (sticky) come first: that is what they waited for.
                held = min((self._calls[call_id] for call_id in waiting), key=lambda c: (c.waiting_key, c.seq))
                if not self._match_call(held):
                    self._release_hold(held, "fallback")
                continue
            best: tuple[tuple[bool, Any, Any, Any], Call] | None = None
            for name, k in agent.memberships.items():
                rt = self._queues[name]
                for s in range(k, len(rt.steps)):
                    for entry in rt.heads(s):
                        call = self._calls[entry[3]]
                        # Prefer a call whose last failed offer was not to this very agent.
                        rank = (call.last_failed_agent == agent.id, entry[0], entry[1], entry[2])
                        if best is None or rank < best[0]:
                            best = (rank, call)
                        if not rank[0]:
                            break
            if best is None:
                return
            if not self._match_call(best[1]):
                return

    def _offer(self, call: Call, agent: Agent) -> None:
        now = self._now
        rt = self._queues.get(call.queue or "")
        timeout = rt.config.ring_timeout_s if rt is not None else 30
        endpoint = agent.usable_endpoint()
        assert endpoint is not None
        leg_uuid = self._new_id()
        job_uuid = self._new_id()
        call.attempts += 1
        leg = Leg(
            uuid=leg_uuid,
            job_uuid=job_uuid,
            call_id=call.call_id,
            agent_id=agent.id,
            attempt=call.attempts,
            queue=call.queue or "",
            node=call.node,
            offered_at=now,
        )
        self._legs[leg_uuid] = leg
        self._jobs[job_uuid] = leg
        call.ringing[leg_uuid] = leg
        call.legs.append(leg)
        agent.legs[leg_uuid] = call.call_id
        # The agent's phone shows what it safely can; the call keeps the caller's original number.
        number, name = display_caller_id(call.caller_number)
        self._cmd(
            Originate(
                uuid=leg_uuid,
                dial_string=endpoint,
                job_uuid=job_uuid,
                variables={"ctilink_call_id": call.call_id, "ctilink_role": "agent", "ctilink_agent_id": agent.id},
                caller_id_number=number,
                caller_id_name=name,
                timeout_s=timeout,
                application="park",
                node=call.node,
            )
        )
        self._agent_apply(agent, AgentEvent.OFFER, call.queue)
        self._pull(agent)
        self._refresh(agent)
        self._timer(now + timeout + self.config.ring_grace_s, "ring", leg_uuid, leg.token)
        self._note(CallOffered(call.call_id, agent.id, leg_uuid, leg.attempt, call.queue or "", now))

    # ------------------------------------------------------------------ agent legs

    def _leg_outcome(self, leg: Leg, outcome: OfferOutcome, kill_cause: str) -> None:
        """Decide an offer's outcome once; hang the leg up if it is still on its way."""
        if leg.result is not None:
            return
        now = self._now
        leg.result = outcome
        leg.result_at = now
        self._note(OfferResult(leg.call_id, leg.agent_id, leg.uuid, outcome, now))
        agent = self._agents.get(leg.agent_id)
        if agent is not None:
            cfg = self.config
            if outcome in (OfferOutcome.NO_ANSWER, OfferOutcome.FAILED):
                agent.no_answer_streak += 1
                agent.pending_delay = max(agent.pending_delay, cfg.no_answer_delay_s)
                if (
                    cfg.max_no_answer
                    and agent.no_answer_streak >= cfg.max_no_answer
                    and agent.pending_not_ready is None
                ):
                    agent.pending_not_ready = "no-answer"
            elif outcome in (OfferOutcome.BUSY, OfferOutcome.NOT_SENT):
                # NOT_SENT is not the agent's fault (no streak, no pause): the short rest only keeps
                # a command the switch keeps refusing from being retried in a tight loop.
                agent.pending_delay = max(agent.pending_delay, cfg.busy_delay_s)
            elif outcome is OfferOutcome.REJECTED:
                agent.pending_delay = max(agent.pending_delay, cfg.reject_delay_s)
            elif outcome is OfferOutcome.ANSWERED:
                agent.no_answer_streak = 0
        # A leg still on its way is hung up, unless its originate never reached the switch.
        if outcome not in (OfferOutcome.ANSWERED, OfferOutcome.NOT_SENT) and leg.state in (
            LegState.ORIGINATING,
            LegState.RINGING,
        ):
            self._cancel_leg(leg, kill_cause)
        call = self._calls.get(leg.call_id)
        if call is not None and call.ringing.pop(leg.uuid, None) is not None:
            if outcome not in (OfferOutcome.ANSWERED, OfferOutcome.CANCELLED):
                call.last_failed_agent = leg.agent_id
            if outcome is not OfferOutcome.ANSWERED and call.state is CallState.OFFERING and not call.ringing:
                self._offers_exhausted(call)

    def _cancel_leg(self, leg: Leg, cause: str) -> None:
        self._cmd(Hangup(leg.uuid, cause, node=leg.node))
        leg.apply(LegEvent.CANCEL)
        leg.token += 1
        self._timer(self._now + self.config.cancel_grace_s, "grace", leg.uuid, leg.token)

    def _leg_answered(self, leg: Leg) -> None:
        now = self._now
        if leg.state is LegState.CANCELLING:
            self._cmd(Hangup(leg.uuid, "LOSE_RACE", node=leg.node))  # a zombie: it answered after we let go
            return
        if leg.state not in (LegState.ORIGINATING, LegState.RINGING):
            return
        call = self._calls.get(leg.call_id)
        agent = self._agents.get(leg.agent_id)
        # Validate the agent's side before anything changes: a leg its agent cannot be put on the
        # call for is a leg the engine no longer wants, and is hung up (never bridged half-way).
        agent_ok = agent is None or AgentEvent.ANSWER in TRANSITIONS[agent.state]
        if call is None or call.state is not CallState.OFFERING or leg.uuid not in call.ringing or not agent_ok:
            if not agent_ok:
                assert agent is not None
                log.warning(
                    "agent leg answered but its agent cannot take it; hanging up",
                    uuid=leg.uuid,
                    agent_id=leg.agent_id,
                    state=agent.state.value,
                )
            self._leg_outcome(leg, OfferOutcome.CANCELLED, "LOSE_RACE")
            after: LegState = leg.state  # _leg_outcome may have started the cancel already
            if after is not LegState.CANCELLING:
                self._cancel_leg(leg, "LOSE_RACE")
            return
        leg.apply(LegEvent.ANSWER)
        leg.answered_at = now
        leg.token += 1
        wait = max(0.0, now - call.wait_since) if call.wait_since is not None else 0.0
        call.stop_waiting(now)
        call.apply(CallEvent.ANSWER)
        call.connected = leg
        self._leg_outcome(leg, OfferOutcome.ANSWERED, "")
        for other in list(call.ringing.values()):  # ring-all losers: no-one else may answer now
            self._leg_outcome(other, OfferOutcome.CANCELLED, "LOSE_RACE")
        call.target_agent = None
        call.waiting_key = None
        call.timer_token += 1
        call.pending_moh = False
        rt = self._queues.get(call.queue or "")
        if call.answered_at is None:
            call.answered_at = now
            if rt is not None:
                call.service_level_met = wait <= rt.config.service_level_s
        if leg.job_done:
            self._bridge(call, leg)
        else:
            # The originate still owns the leg: bridging it now would make FreeSWITCH cancel that
            # originate (ORIGINATOR_CANCEL) under the answered leg. Its job's +OK bridges it.
            leg.bridge_pending = True
        if agent is not None:
            agent.calls_answered += 1
            if agent.state is AgentState.WRAP_UP:
                self._finish_wrap_legs(agent)  # a line that rang on was picked up: wrap-up is over
            self._agent_apply(agent, AgentEvent.ANSWER, call.queue)
            self._pull(agent)
        self._note(CallAnswered(call.call_id, leg.agent_id, leg.uuid, call.queue or "", wait, now))

    def _bridge(self, call: Call, leg: Leg) -> None:
        """Join the caller to the answered agent leg (its originate has returned)."""
        leg.bridge_pending = False
        # Cut hold music / an announcement at once so the agent never gets dead air, then bridge.
        self._cmd(Break(call.uuid, node=call.node))
        self._cmd(Bridge(call.uuid, leg.uuid, node=call.node))

    def _bridge_if_pending(self, leg: Leg) -> None:
        if not leg.bridge_pending:
            return
        leg.bridge_pending = False
        call = self._calls.get(leg.call_id)
        if (
            call is not None
            and call.state is CallState.CONNECTED
            and call.connected is leg
            and leg.state is LegState.CONNECTED
        ):
            self._bridge(call, leg)

    def _leg_gone(self, leg: Leg, cause: str, sip_code: int | None = None) -> None:
        """The switch says the agent leg no longer exists (hangup or failed originate)."""
        if leg.state is LegState.GONE:
            return
        previous = leg.state
        leg.apply(LegEvent.END)
        leg.token += 1
        if leg.result is None:
            self._leg_outcome(leg, offer_outcome(cause, sip_code), cause)
        if previous is LegState.CONNECTED:
            call = self._calls.get(leg.call_id)
            was_connected = call is not None and call.connected is leg
            self._end_talk(leg, kill=False)
            if was_connected and call is not None and call.state is CallState.CONNECTED:
                # The agent's side is over; make sure the customer leg follows. A bridged customer
                # is ended by FreeSWITCH itself (often its own hang-up is what ended this leg):
                # hang it up only if it is still there after a grace.
                if leg.switch_ends_it:
                    call.timer_token += 1
                    self._timer(
                        self._now + self.config.partner_hangup_grace_s, "reap_call", call.call_id, call.timer_token
                    )
                else:
                    self._cmd(Hangup(call.uuid, "NORMAL_CLEARING", node=call.node))
        self._legs.pop(leg.uuid, None)
        self._jobs.pop(leg.job_uuid, None)
        agent = self._agents.get(leg.agent_id)
        if agent is None:
            return
        agent.legs.pop(leg.uuid, None)
        self._dirty_agents[agent.id] = None
        if agent.state is AgentState.RESERVED and not agent.legs:
            delay = agent.pending_delay
            agent.pending_delay = 0.0
            if agent.pending_logout:
                self._agent_apply(agent, AgentEvent.OFFER_CLOSED_LOGOUT, None)
            elif agent.pending_not_ready is not None:
                self._agent_apply(agent, AgentEvent.OFFER_CLOSED_PAUSE, agent.pending_not_ready)
            else:
                self._agent_apply(agent, AgentEvent.OFFER_CLOSED, leg.result.value if leg.result else None)
                if delay > 0:
                    agent.delayed_until = self._now + delay
                    agent.delay_token += 1
                    self._timer(agent.delayed_until, "delay", agent.id, agent.delay_token)

    def _end_talk(self, leg: Leg, kill: bool) -> None:
        """An agent's talk segment is over (customer gone, agent gone, or transferred away)."""
        if leg.answered_at is None or leg.talk_ended_at is not None:
            return
        now = self._now
        leg.end_talk(now)
        call = self._calls.get(leg.call_id)
        if call is not None and call.connected is leg:
            call.connected = None
        if kill and leg.state is LegState.CONNECTED:
            if leg.switch_ends_it:
                # FreeSWITCH ends a uuid_bridge partner itself: wait for its hang-up, then reap.
                leg.apply(LegEvent.CANCEL)
                leg.token += 1
                self._timer(self._now + self.config.partner_hangup_grace_s, "reap_leg", leg.uuid, leg.token)
                self._timer(self._now + self.config.cancel_grace_s, "grace", leg.uuid, leg.token)
            else:
                self._cancel_leg(leg, "NORMAL_CLEARING")
        agent = self._agents.get(leg.agent_id)
        if agent is None:
            return
        agent.talk_time_s += leg.talk_s
        rt = self._queues.get(leg.queue)
        still_talking = any(
            self._legs[u].answered_at is not None and self._legs[u].talk_ended_at is None
            for u in agent.legs
            if u in self._legs
        )
        if still_talking or agent.state is not AgentState.ON_CALL:
            if rt is not None:
                rt.note_handle_time(leg.talk_s)
            return
        wrap = (
            agent.profile.wrap_up_s
            if agent.profile.wrap_up_s is not None
            else (rt.config.wrap_up_s if rt is not None else 0.0)
        )
        if wrap > 0:
            leg.wrap_started = now
            if call is not None:
                call.wrap_pending += 1
            self._wrap_legs.setdefault(agent.id, []).append(leg)
            agent.wrap_until = now + wrap
            agent.wrap_token += 1
            self._agent_apply(agent, AgentEvent.HANGUP, call.queue if call else None)
            self._timer(agent.wrap_until, "wrap", agent.id, agent.wrap_token)
        else:
            if rt is not None:
                rt.note_handle_time(leg.talk_s)
            self._agent_apply(agent, *self._settle_event(agent, "hangup"))

    def _ringing_leg(self, agent: Agent) -> Leg | None:
        """An offer to the agent still on its way (a second line of a multi-line agent)."""
        for uuid in agent.legs:
            leg = self._legs.get(uuid)
            if leg is not None and leg.state in (LegState.ORIGINATING, LegState.RINGING):
                return leg
        return None

    def _settle_event(self, agent: Agent, kind: str) -> tuple[AgentEvent, str | None]:
        """The event ending a call/wrap-up, honouring pending logout / not-ready in one transition.
        With another line still ringing the agent goes (stays) reserved; the wishes stay pending
        and are honoured when that offer closes."""
        ringing = self._ringing_leg(agent)
        if ringing is not None:
            event = AgentEvent.HANGUP_RINGING if kind == "hangup" else AgentEvent.WRAP_UP_END_RINGING
            return event, ringing.queue
        if kind == "hangup":
            events = (AgentEvent.HANGUP_LOGOUT, AgentEvent.HANGUP_PAUSE, AgentEvent.HANGUP_NO_WRAP)
        else:
            events = (AgentEvent.WRAP_UP_END_LOGOUT, AgentEvent.WRAP_UP_END_PAUSE, AgentEvent.WRAP_UP_END)
        if agent.pending_logout:
            return events[0], None
        if agent.pending_not_ready is not None:
            return events[1], agent.pending_not_ready
        return events[2], None

    def _finish_wrap_legs(self, agent: Agent) -> None:
        now = self._now
        for leg in self._wrap_legs.pop(agent.id, []):
            leg.wrap_up_s = max(0.0, now - (now if leg.wrap_started is None else leg.wrap_started))
            rt = self._queues.get(leg.queue)
            if rt is not None:
                rt.note_handle_time(leg.talk_s + leg.wrap_up_s)
            call = self._calls.get(leg.call_id)
            if call is not None:
                call.wrap_pending -= 1
                self._maybe_finalize(call)
        agent.wrap_until = None
        agent.wrap_token += 1

    def _wrap_up_over(self, agent: Agent) -> None:
        event, reason = self._settle_event(agent, "wrap")
        transition(agent.state, event, agent.id)  # validate before touching anything
        self._finish_wrap_legs(agent)
        self._agent_apply(agent, event, reason)

    def _agent_apply(self, agent: Agent, event: AgentEvent, reason: str | None) -> None:
        now = self._now
        changed = agent.apply(event, now, reason)
        self._dirty_agents[agent.id] = None
        if changed is None:
            return
        old, duration = changed
        new = agent.state
        # An offer or a reservation that came to nothing keeps the agent's place in longest-idle:
        # they took no call (a busy phone or a skipped preview is not a reason to go to the back).
        if (new is AgentState.AVAILABLE and event not in (AgentEvent.OFFER_CLOSED, AgentEvent.RELEASE)) or event in (
            AgentEvent.HANGUP_RINGING,
            AgentEvent.WRAP_UP_END_RINGING,
        ):
            agent.idle_since = now
        if new is AgentState.NOT_READY:
            agent.pending_not_ready = None
            if reason == "no-answer":
                agent.no_answer_streak = 0
        if new is AgentState.LOGGED_OUT:
            agent.pending_logout = False
            agent.pending_not_ready = None
            agent.delayed_until = None
            agent.no_answer_streak = 0
        if new is not AgentState.ON_CALL:
            agent.direct = False
        self._note(AgentStateChanged(agent.id, old, new, reason, duration, now))

    def _reconcile(self, agent: Agent) -> None:
        """Channels on the agent's phone that did not come from a queue make the agent on-call."""
        if agent.state is AgentState.AVAILABLE and agent.foreign:
            self._agent_apply(agent, AgentEvent.DIRECT_CALL, "direct-call")
            agent.direct = True
        elif agent.state is AgentState.ON_CALL and agent.direct and not agent.foreign:
            if not any(self._legs[u].state is LegState.CONNECTED for u in agent.legs if u in self._legs):
                agent.direct = False
                event, reason = self._settle_event(agent, "hangup")
                self._agent_apply(agent, event, reason or "direct-call-ended")

    def _remember_dead(self, uuid: str) -> None:
        self._dead[uuid] = None
        while len(self._dead) > _DEAD_LEGS_KEPT:
            self._dead.popitem(last=False)

    # ------------------------------------------------------------------ calls

    def _call_info(self, call: Call, variables: Mapping[str, str] | None = None) -> CallInfo:
        return CallInfo(
            call_id=call.call_id,
            uuid=call.uuid,
            node=call.node,
            queue=call.queue,
            caller_number=call.caller_number,
            caller_name=call.caller_name,
            destination_number=call.destination_number,
            priority=call.priority,
            variables=dict(variables or {}),
            waited_s=call.wait_s + (self._now - call.wait_since if call.wait_since is not None else 0.0),
        )

    def _on_arrival(self, ev: ChannelParked) -> None:
        reserved = self._claim_reservation(ev.variables)
        try:
            self._arrive(ev, reserved)
        finally:
            if reserved is not None and reserved.state is AgentState.RESERVED and not reserved.legs:
                # The call went elsewhere (screened, overflowed, agent unreachable): the reservation
                # it took is over, so the agent must not stay held for nothing.
                self._release(reserved)

    def _claim_reservation(self, variables: Mapping[str, str]) -> Agent | None:
        """The agent held for this customer leg (same campaign and contact, named as preferred
        agent), with the reservation taken off them; None when the leg is not the one they wait for."""
        agent = self._agents.get(variables.get("ctilink_preferred_agent", ""))
        held = agent.reservation if agent is not None else None
        if agent is None or held is None or held.campaign != variables.get("ctilink_campaign"):
            return None
        if held.contact_id is not None and held.contact_id != variables.get("ctilink_contact_id"):
            return None
        agent.reservation = None
        return agent

    def _release(self, agent: Agent) -> None:
        """A reserved agent without a leg goes back, honouring a wish made while held."""
        agent.reservation = None
        if agent.pending_logout:
            self._agent_apply(agent, AgentEvent.RELEASE_LOGOUT, None)
        elif agent.pending_not_ready is not None:
            self._agent_apply(agent, AgentEvent.RELEASE_PAUSE, agent.pending_not_ready)
        else:
            self._agent_apply(agent, AgentEvent.RELEASE, None)

    def _arrive(self, ev: ChannelParked, reserved: Agent | None) -> None:
        now = self._now
        call = Call(
            call_id=self._new_id(),
            uuid=ev.uuid,
            node=ev.node,
            seq=next(self._seq),
            arrived_at=now,
            caller_number=ev.caller_number,
            caller_name=ev.caller_name,
            destination_number=ev.destination_number,
        )
        self._calls[call.call_id] = call
        self._by_uuid[call.uuid] = call
        self._cmd(SetVariables(call.uuid, {"ctilink_call_id": call.call_id}, node=call.node))
        name = ev.variables.get("ctilink_queue", "")
        rt = self._queues.get(name)
        if rt is None:
            self._reject(UnknownQueue(name, where="ctilink_queue"), "ChannelParked", ev.uuid)
        call.queue = rt.name if rt is not None else None
        call.priority = rt.config.default_priority if rt is not None else 0
        raw_priority = ev.variables.get("ctilink_priority")
        if raw_priority is not None:
            parsed = self._parse_priority(raw_priority, rt)
            if parsed is None:
                expected = "an integer 0..100" + (
                    f" or one of {sorted(rt.config.priority_classes)}" if rt is not None else ""
                )
                self._reject(InvalidValue("ctilink_priority", raw_priority, expected), "ChannelParked", ev.uuid)
            else:
                call.priority = parsed
        verdict = self._screen_lists(call)
        blocked = verdict is not None and verdict.blocks
        if verdict is not None and not blocked:
            call.priority = max(call.priority, self._lists.vip_priority(verdict.entry))
        # A blacklisted caller is not shown to the hook: the list has the last word on them.
        decision = ScreenDecision.accept() if blocked else self._run_screen(call, ev.variables)
        if decision.action == "accept" or decision.action == "agent":
            if decision.priority is not None:
                call.priority = decision.priority
        self._note(CallArrived(call.call_id, call.uuid, call.queue, call.caller_number, call.priority, now))
        if blocked:
            assert verdict is not None
            self._block(call, verdict)
            return
        if decision.action == "reject":
            self._cmd(Hangup(call.uuid, decision.cause, node=call.node))
            self._end_call(call, Disposition.REJECTED, "screened", True)
            return
        if decision.action == "extension":
            assert decision.destination is not None
            context = decision.context or self.config.transfer_context
            call.transfers.append(
                TransferRecord(now, "screen-extension", decision.destination, call.queue, None, "screened")
            )
            self._cmd(Transfer(call.uuid, decision.destination, context=context, node=call.node))
            self._end_call(call, Disposition.TRANSFERRED_OUT, "screened", True)
            return
        # Whitelist: the VIP priority is set; a green-channel target skips the queue if it can.
        green = verdict.entry.target if verdict is not None and decision.action == "accept" else None
        if verdict is not None and green is None:
            self._screened(call, verdict, "vip")
        if green is not None and green not in self._agents:
            assert verdict is not None
            if _DESTINATION.match(green):
                self._screened(call, verdict, "green-extension")
                call.transfers.append(TransferRecord(now, "green-channel", green, call.queue, None, "whitelist"))
                self._cmd(Transfer(call.uuid, green, context=self.config.transfer_context, node=call.node))
                self._end_call(call, Disposition.TRANSFERRED_OUT, "green-channel", True)
                return
            self._screened(call, verdict, "green-fallback")
            green = None
        if rt is None:
            if green is not None:
                assert verdict is not None
                self._screened(call, verdict, "green-fallback")
            self._take_default_route(call, "unknown-queue")
            return
        if reserved is not None:
            if reserved.usable_endpoint() is not None and reserved.busy_count() < reserved.profile.max_calls:
                # The agent was held for this very customer (preview accepted, callback kept): ring
                # them now. A wish made while held (not ready, log out) is honoured after the call,
                # as for a call that was already ringing.
                call.sticky_agent, call.sticky_source = reserved.id, "preferred"
                self._sticky_note(call, reserved.id, "hit")
                self._offer_direct(call, rt, reserved)
                return
            # Their phone cannot ring now (unregistered, a private call): free them first, so the
            # preferred-agent rule below sees their real state.
            self._release(reserved)
        if decision.action == "agent":
            agent = self._agents.get(decision.agent_id or "")
            if agent is not None and self._offerable(agent, direct=True):
                self._offer_direct(call, rt, agent)
                return
            self._reject(
                AgentUnavailable(decision.agent_id or "", "screen routed to an agent who cannot take it"),
                "screen",
                call.call_id,
            )
        if green is not None:
            assert verdict is not None
            agent = self._agents[green]
            if self._offerable(agent, direct=True):
                self._screened(call, verdict, "green-agent")
                self._offer_direct(call, rt, agent)
                return
            self._screened(call, verdict, "green-fallback")
        self._answer_and_music(call, rt)
        self._join_queue(call, rt, CallEvent.QUEUE, keep_queued_at=False)
        joined = self._queues.get(call.queue or "")  # not ``rt`` if it overflowed on arrival
        if joined is not None and call.state is CallState.QUEUED and call.in_list:
            self._sticky_route(call, joined, ev.variables)

    def _offer_direct(self, call: Call, rt: QueueRuntime, agent: Agent) -> None:
        """Ring one named agent at once, without queueing (screen hook or green channel)."""
        self._answer_and_music(call, rt)
        call.first_queue = rt.name
        call.target_agent = agent.id
        call.start_waiting(self._now)
        call.apply(CallEvent.OFFER)
        self._offer(call, agent)

    # ------------------------------------------------------------------ number lists

    def _screen_lists(self, call: Call) -> Verdict | None:
        """Normalize the caller id (when lists or sticky memory need it) and ask the lists."""
        if not len(self._lists) and not self.config.sticky.enabled:
            return None
        number = self._lists.normalize_caller(call.caller_number)
        call.customer_number = number
        return self._lists.screen(number, call.destination_number, call.queue, self._now)

    def _screened(self, call: Call, verdict: Verdict, action: str) -> None:
        entry = verdict.entry
        call.screening = f"{verdict.list.value}:{action}:{entry.scope}"
        self._note(CallScreened(call.call_id, verdict.list.value, action, entry.scope, entry.reason, entry, self._now))

    def _block(self, call: Call, verdict: Verdict) -> None:
        """A blacklisted caller: busy (or the entry's cause), an announcement, or an extension."""
        entry = verdict.entry
        action = entry.action or BlockAction.REJECT
        self._screened(call, verdict, action.value)
        call.rejected_reason = f"blacklist {entry.scope}" + (f": {entry.reason}" if entry.reason else "")
        if action is BlockAction.ANNOUNCE:
            assert entry.target is not None and entry.cause is not None
            leave = OverflowAction(
                kind="hangup",
                announcement=entry.target,
                cause=entry.cause,
                announcement_max_s=self.config.lists.announce_max_s,
            )
            self._apply_action(call, leave, Disposition.REJECTED)
        elif action is BlockAction.ROUTE:
            assert entry.target is not None
            call.transfers.append(
                TransferRecord(self._now, "blacklist-route", entry.target, call.queue, None, "blacklist")
            )
            self._cmd(Transfer(call.uuid, entry.target, context=self.config.transfer_context, node=call.node))
            self._end_call(call, Disposition.REJECTED, f"transfer:{entry.target}", True)
        else:
            # Rejected before any answer: the caller hears the cause (busy by default), not ringing.
            self._cmd(Hangup(call.uuid, entry.cause or "USER_BUSY", node=call.node))
            self._end_call(call, Disposition.REJECTED, "blacklist", True)

    def _req_add_list(self, req: rq.AddListEntry) -> None:
        if req.entry is not None:
            if req.list_name is not None or req.number is not None:
                raise InvalidValue("entry", "entry and list_name/number", "either an Entry or raw list_name + number")
            entry = req.entry
        else:
            if req.list_name is None:
                raise InvalidValue("list_name", None, "blacklist, whitelist or dnc")
            entry = self._lists.build(
                list_name=req.list_name,
                number=req.number,
                scope=req.scope,
                expires_at=req.expires_at,
                reason=req.reason,
                added_by=req.added_by,
                priority=req.priority,
                target=req.target,
                action=req.action,
                cause=req.cause,
                now=self._now,
            )
        replaced = self._lists.add(entry, self._queues.keys(), self._now)
        self._note(ListChanged("add", entry, self._now, replaced))

    def _req_remove_list(self, req: rq.RemoveListEntry) -> None:
        removed = self._lists.remove(req.list_name, req.number, req.scope, req.kind)
        self._note(ListChanged("remove", removed, self._now))

    # ------------------------------------------------------------------ sticky agent

    def _sticky_route(self, call: Call, rt: QueueRuntime, variables: Mapping[str, str]) -> None:
        """A call just joined its first queue: offer it to its sticky / preferred agent first,
        hold it for them while they are busy, or let it route normally."""
        agent_id: str | None = None
        source = "memory"
        preferred = variables.get("ctilink_preferred_agent")
        if preferred is not None:
            if preferred in self._agents:
                agent_id, source = preferred, "preferred"
            else:
                self._reject(UnknownAgent(preferred), "ctilink_preferred_agent", call.call_id)
        number = call.customer_number
        if agent_id is None and self.config.sticky.enabled and number is not None and number != ANONYMOUS:
            memo, expired = self._sticky.recall(number, rt.name, self._now)
            if memo is not None and expired:
                call.sticky_agent = memo.agent_id
                self._sticky_note(call, memo.agent_id, "expired")
                return
            if memo is not None:
                agent_id = memo.agent_id
        if agent_id is None:
            return
        call.sticky_agent = agent_id
        call.sticky_source = source
        agent = self._agents.get(agent_id)
        outcome = self._sticky_outcome(agent, rt.name)
        if outcome == "fallback":
            self._sticky_note(call, agent_id, "fallback")
            return
        call.prefer_agent = agent_id  # "hit": offered (and announced) when the call is matched
        if outcome == "wait":
            assert agent is not None
            self._hold(call, agent)

    def _sticky_outcome(self, agent: Agent | None, queue: str) -> str:
        if agent is None:
            return sticky_decide(None, offerable=False, qualified=False, reachable=False, leaving=False, wait_s=0.0)
        return sticky_decide(
            agent.state,
            offerable=agent.in_pools,
            qualified=queue in agent.memberships,
            reachable=agent.usable_endpoint() is not None,
            leaving=agent.pending_not_ready is not None or agent.pending_logout,
            wait_s=self.config.sticky.wait_s,
        )

    def _sticky_note(self, call: Call, agent_id: str, outcome: str) -> None:
        call.sticky_outcome = outcome
        self._note(StickyRouted(call.call_id, agent_id, outcome, call.queue, self._now, call.sticky_source))

    def _hold(self, call: Call, agent: Agent) -> None:
        """Keep the call's place (position list) but offer it to nobody else while ``agent`` is busy."""
        listed = call.in_list
        if listed:
            self._remove_waiting(call)
        call.held_for = agent.id
        if listed:
            self._insert_waiting(call)
        self._waiters.setdefault(agent.id, {})[call.call_id] = None
        call.sticky_token += 1
        self._timer(self._now + self.config.sticky.wait_s, "sticky", call.call_id, call.sticky_token)
        self._sticky_note(call, agent.id, "wait")

    def _unhold(self, call: Call) -> None:
        """Forget the hold (the caller must already be out of its lists, or be re-listed after)."""
        agent_id = call.held_for
        if agent_id is None:
            return
        waiting = self._waiters.get(agent_id)
        if waiting is not None:
            waiting.pop(call.call_id, None)
            if not waiting:
                del self._waiters[agent_id]
        call.held_for = None
        call.sticky_token += 1

    def _release_hold(self, call: Call, outcome: str) -> None:
        """Stop waiting for the sticky agent: the call routes normally from its place."""
        agent_id = call.held_for
        if agent_id is None:
            return
        listed = call.in_list
        if listed:
            self._remove_waiting(call)
        self._unhold(call)
        call.prefer_agent = None
        if listed:
            self._insert_waiting(call)
            self._dirty_calls[call.call_id] = None
        self._sticky_note(call, agent_id, outcome)

    def _check_waiters(self, agent_id: str) -> None:
        """The agent changed: calls held for them stop waiting if the agent will not come back
        (logged out, not ready, leaving, no longer qualified or reachable, removed)."""
        agent = self._agents.get(agent_id)
        for call_id in list(self._waiters.get(agent_id, ())):
            call = self._calls[call_id]
            if self._sticky_outcome(agent, call.queue or "") == "fallback":
                self._release_hold(call, "fallback")

    def _remember_sticky(self, call: Call) -> None:
        """The call is over: remember the last agent who talked to this caller."""
        number = call.customer_number
        if not self.config.sticky.enabled or number is None or number == ANONYMOUS:
            return
        leg = next((leg for leg in reversed(call.legs) if leg.answered_at is not None), None)
        if leg is None or leg.agent_id not in self._agents:
            return
        queue = leg.queue or None
        if queue is None and self.config.sticky.scope == "queue":
            return
        memo = self._sticky.remember(number, queue, leg.agent_id, self._now)
        self._note(StickyRemembered(memo.number, memo.queue, memo.agent_id, self._now, memo.expires_at))

    def _parse_priority(self, raw: str, rt: QueueRuntime | None) -> int | None:
        if _PRIORITY.match(raw):
            value = int(raw)
            return value if value <= 100 else None
        if rt is not None:
            return rt.config.priority_classes.get(raw)
        return None

    def _run_screen(self, call: Call, variables: Mapping[str, str]) -> ScreenDecision:
        try:
            decision = self._screen(self._call_info(call, variables))
            if not isinstance(decision, ScreenDecision):
                raise TypeError(f"returned {type(decision).__name__}, not ScreenDecision")
            self._check_decision(decision)
            return decision
        except Exception as exc:  # the hook is foreign code: never lose the call to it
            self._reject(ScreenFailed(call.call_id, repr(exc)), "screen", call.call_id)
            return ScreenDecision.accept()

    @staticmethod
    def _check_decision(decision: ScreenDecision) -> None:
        if decision.priority is not None and not (0 <= decision.priority <= 100):
            raise ValueError(f"priority {decision.priority} outside 0..100")
        if decision.action == "reject" and not _CAUSE.match(decision.cause):
            raise ValueError("reject cause must be an upper-case hangup cause name")
        if decision.action == "extension":
            if not decision.destination or not _DESTINATION.match(decision.destination):
                raise ValueError("extension destination is not a plain extension/number")
            if decision.context is not None and not _NAME.match(decision.context):
                raise ValueError("extension context is not a plain name")
        if decision.action not in ("accept", "reject", "extension", "agent"):
            raise ValueError(f"unknown action {decision.action!r}")

    def _answer_and_music(self, call: Call, rt: QueueRuntime) -> None:
        if call.media_started:
            self._cmd(Break(call.uuid, node=call.node))
            self._cmd(Playback(call.uuid, rt.config.hold_music, node=call.node))
            return
        call.media_started = True
        if rt.config.answer == "answer":
            self._cmd(Answer(call.uuid, node=call.node))
        else:
            self._cmd(PreAnswer(call.uuid, node=call.node))
        self._cmd(Playback(call.uuid, rt.config.hold_music, node=call.node))

    def _join_queue(self, call: Call, rt: QueueRuntime, event: CallEvent | None, keep_queued_at: bool) -> None:
        """The one way into a queue's waiting list (arrival, overflow, transfer, failed direct offer)."""
        now = self._now
        cfg = rt.config
        if cfg.max_length is not None and len(rt) >= cfg.max_length:
            if event is CallEvent.QUEUE:
                call.queue = rt.name
            self._overflow(call, rt, "full")
            return
        if not self._may_join(rt):
            if event is CallEvent.QUEUE:
                call.queue = rt.name
            self._overflow(call, rt, "empty")
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
        self._insert_waiting(call)
        self._advance_steps(call, rt)
        self._schedule_escalation(call, rt)
        if cfg.max_wait_s is not None:
            self._timer(call.entered_at + cfg.max_wait_s, "maxwait", call.call_id, call.timer_token)
        if cfg.announcement is not None:
            first = cfg.announcement.first_after_s or cfg.announcement.every_s
            self._timer(now + first, "announce", call.call_id, call.timer_token)
        if cfg.leave_when_empty is not EmptyPolicy.IGNORE:
            self._dirty_queues[rt.name] = None  # joined a queue that may already count as empty
        position = rt.position(call.waiting_key, call.call_id)
        self._note(CallQueued(call.call_id, rt.name, position, self._ewt(rt, position), now))
        self._dirty_calls[call.call_id] = None

    def _set_step(self, call: Call, rt: QueueRuntime, step: int) -> None:
        listed = call.in_list
        if listed:
            self._remove_waiting(call)
        call.step = step
        if listed:
            self._insert_waiting(call)
        self._note(CallEscalated(call.call_id, rt.name, step, self._now))
        self._dirty_calls[call.call_id] = None

    def _advance_steps(self, call: Call, rt: QueueRuntime) -> None:
        """Skip at once every step that has no eligible agent logged in (when a later step exists)."""
        while call.step < rt.last_step and rt.logged_in[call.step] == 0:
            self._set_step(call, rt, call.step + 1)

    def _schedule_escalation(self, call: Call, rt: QueueRuntime) -> None:
        steps = rt.config.escalation
        if call.step < len(steps) and call.entered_at is not None:
            at = max(self._now, call.entered_at + steps[call.step].after_s)
            self._timer(at, "escalate", call.call_id, call.timer_token)

    def _escalate(self, call: Call) -> None:
        rt = self._queues.get(call.queue or "")
        if rt is None or call.state not in (CallState.QUEUED, CallState.OFFERING) or call.step >= rt.last_step:
            return
        self._set_step(call, rt, call.step + 1)
        self._advance_steps(call, rt)
        self._schedule_escalation(call, rt)

    def _announce(self, call: Call) -> None:
        rt = self._queues.get(call.queue or "")
        if rt is None or rt.config.announcement is None:
            return
        ann = rt.config.announcement
        if call.state is CallState.QUEUED:
            position, ewt = self.queue_position(call.call_id)
            wait_s = round(ewt or 0.0)
            path = ann.path.format(position=position, wait_min=math.ceil(wait_s / 60), wait_s=wait_s)
            self._cmd(Break(call.uuid, node=call.node))
            self._cmd(Playback(call.uuid, path, node=call.node))
            self._cmd(Playback(call.uuid, rt.config.hold_music, node=call.node))
            self._note(CallAnnounced(call.call_id, position, ewt, self._now))
        if call.state in (CallState.QUEUED, CallState.OFFERING):
            self._timer(self._now + ann.every_s, "announce", call.call_id, call.timer_token)

    def _offers_exhausted(self, call: Call) -> None:
        """Every ringing leg of the call failed: it goes back to its place and on to the next agent."""
        call.apply(CallEvent.OFFERS_FAILED)
        rt = self._queues.get(call.queue or "")
        if rt is None:
            call.waiting_key = None
            self._overflow(call, None, "queue-removed")
            return
        if call.waiting_key is None or call.target_agent is not None:
            self._join_queue(call, rt, None, keep_queued_at=True)
            return
        cfg = rt.config
        if cfg.max_wait_s is not None and call.entered_at is not None and self._now >= call.entered_at + cfg.max_wait_s:
            self._overflow(call, rt, "max-wait")
            return
        call.step = min(call.step, rt.last_step)
        self._insert_waiting(call)
        self._dirty_calls[call.call_id] = None

    def _default_action(self) -> OverflowAction:
        if self.config.default_route is not None and (
            self.config.default_route.kind != "queue" or self.config.default_route.target in self._queues
        ):
            return self.config.default_route
        if self._queue_configs:
            return OverflowAction(kind="queue", target=self._queue_configs[0].name)
        return OverflowAction(kind="hangup", cause="UNALLOCATED_NUMBER")

    def _take_default_route(self, call: Call, reason: str) -> None:
        action = self._default_action()
        call.transfers.append(
            TransferRecord(self._now, "default-route", action.target or action.kind, call.queue, None, reason)
        )
        self._note(CallOverflowed(call.call_id, call.queue, action.kind, action.target, "default-route", self._now))
        disposition = Disposition.TRANSFERRED_OUT if action.kind == "extension" else Disposition.REJECTED
        self._apply_action(call, action, disposition)

    def _overflow(self, call: Call, rt: QueueRuntime | None, reason: str) -> None:
        action = rt.config.overflow if rt is not None else None
        if action is None:
            action = self._default_action()
        call.overflow_hops += 1
        if call.overflow_hops > self.config.max_overflow_hops and action.kind == "queue":
            action = OverflowAction(kind="hangup")
        self._remove_waiting(call)
        held_for = call.held_for
        self._unhold(call)
        call.prefer_agent = None
        if held_for is not None:
            self._sticky_note(call, held_for, "fallback")
        call.waiting_key = None
        call.timer_token += 1
        from_queue = rt.name if rt is not None else call.queue
        call.transfers.append(
            TransferRecord(self._now, f"overflow-{action.kind}", action.target or "", from_queue, None, reason)
        )
        self._note(CallOverflowed(call.call_id, from_queue, action.kind, action.target, reason, self._now))
        self._apply_action(call, action, Disposition.OVERFLOWED)

    def _apply_action(self, call: Call, action: OverflowAction, disposition: Disposition) -> None:
        now = self._now
        if action.kind == "queue":
            target = self._queues.get(action.target or "")
            if target is not None:
                self._answer_and_music(call, target)
                event: CallEvent | None = None
                if call.state is CallState.NEW:
                    event = CallEvent.QUEUE
                elif call.state is CallState.QUEUED:
                    event = CallEvent.OVERFLOW_QUEUE
                self._join_queue(call, target, event, keep_queued_at=True)
                return
            action = OverflowAction(kind="hangup")
        if action.kind == "extension":
            assert action.target is not None
            self._cmd(Transfer(call.uuid, action.target, context=action.context, node=call.node))
            self._end_call(call, disposition, f"transfer:{action.target}", True)
            return
        call.leave_disposition = disposition
        call.leave_cause = action.cause
        if action.announcement is not None:
            if not call.media_started:
                call.media_started = True
                self._cmd(Answer(call.uuid, node=call.node))
            self._cmd(Break(call.uuid, node=call.node))
            self._cmd(Playback(call.uuid, action.announcement, node=call.node))
            call.leave_path = action.announcement
            call.apply(CallEvent.LEAVE)
            self._timer(now + action.announcement_max_s, "leave", call.call_id, call.timer_token)
        else:
            self._cmd(Hangup(call.uuid, action.cause, node=call.node))
            call.apply(CallEvent.LEAVE)
            self._timer(now + self.config.cancel_grace_s, "leave", call.call_id, call.timer_token)

    def _end_call(self, call: Call, disposition: Disposition, reason: str, leg_alive: bool) -> None:
        """End the call exactly once: cancel its offers, end its talk, record the disposition."""
        if call.state is CallState.ENDED:
            return
        now = self._now
        self._remove_waiting(call)
        self._unhold(call)
        call.prefer_agent = None
        call.waiting_key = None
        call.timer_token += 1
        call.stop_waiting(now)
        call.apply(CallEvent.END)
        call.ended_at = now
        call.disposition = disposition
        call.end_reason = reason
        for leg in list(call.ringing.values()):
            self._leg_outcome(leg, OfferOutcome.CANCELLED, "ORIGINATOR_CANCEL")
        if call.connected is not None:
            self._end_talk(call.connected, kill=True)
        if self._by_uuid.get(call.uuid) is call:
            del self._by_uuid[call.uuid]
        if leg_alive:
            self._released[call.uuid] = call.node
        self._note(CallDisconnected(call.call_id, disposition, now))
        self._remember_sticky(call)
        self._maybe_finalize(call)

    def _maybe_finalize(self, call: Call) -> None:
        if call.state is CallState.ENDED and call.wrap_pending <= 0 and not call.finalized:
            call.finalized = True
            self._calls.pop(call.call_id, None)
            self._note(CallEnded(call.to_record()))

    # ------------------------------------------------------------------ events

    def _on_channel_input(self, ev: ChannelEvent) -> None:
        if not click_to_dial.on_channel(self, ev):  # a click-to-dial leg is handled there only
            self._on_channel(ev)

    def _on_channel(self, ev: ChannelEvent) -> None:
        uuid = ev.uuid
        leg = self._legs.get(uuid)
        if leg is not None:
            self._on_leg_event(leg, ev)
            return
        call = self._by_uuid.get(uuid)
        if call is not None:
            self._on_customer_event(call, ev)
            return
        hungup = isinstance(ev, ChannelHungUp)
        if uuid in self._released:
            if hungup:
                del self._released[uuid]
            return
        if uuid in self._dead:
            if hungup:
                del self._dead[uuid]
            elif isinstance(ev, (ChannelCreated, ChannelProgress, ChannelAnswered, ChannelParked)):
                self._cmd(Hangup(uuid, "LOSE_RACE", node=ev.node))
            return
        if (
            isinstance(ev, ChannelParked)
            and "ctilink_queue" in ev.variables
            and ev.variables.get("ctilink_role", "customer") == "customer"
        ):
            self._on_arrival(ev)
            return
        agents = self._foreign.get(uuid)
        if agents is not None:
            if hungup:
                del self._foreign[uuid]
                for agent_id in agents:
                    agent = self._agents.get(agent_id)
                    if agent is not None and agent.foreign.pop(uuid, None) is not None:
                        self._dirty_agents[agent_id] = None
            return
        if not hungup:
            self._match_foreign(ev)

    def _match_foreign(self, ev: ChannelEvent) -> None:
        """A channel we did not create, on an agent's phone: a direct or outbound call."""
        if "ctilink_role" in ev.variables:
            return  # a leg some ctilink created (customer or agent): not a private call
        found = channel_user(ev.channel_name)
        if found is None or found[0] not in self._agent_profiles:
            return
        entries = self._user_index.get(found[1])
        if not entries:
            return
        ids = list(dict.fromkeys(agent_id for agent_id, _, _ in entries))
        self._foreign[ev.uuid] = ids
        for agent_id in ids:
            self._agents[agent_id].foreign[ev.uuid] = ev.node
            self._dirty_agents[agent_id] = None

    def _on_leg_event(self, leg: Leg, ev: ChannelEvent) -> None:
        if isinstance(ev, ChannelHungUp):
            self._leg_gone(leg, ev.cause, ev.sip_code)
        elif isinstance(ev, ChannelAnswered):
            self._leg_answered(leg)
        elif isinstance(ev, ChannelBridged):
            self._leg_bridged(leg)
        elif isinstance(ev, (ChannelCreated, ChannelProgress, ChannelParked)):
            if leg.state is LegState.CANCELLING:
                self._cmd(Hangup(leg.uuid, "LOSE_RACE", node=leg.node))
            elif leg.state is LegState.ORIGINATING:
                leg.apply(LegEvent.CREATED)
        elif isinstance(ev, ChannelHeld):
            if leg.state is LegState.CONNECTED and leg.hold_since is None:
                leg.hold_since = self._now
        elif isinstance(ev, ChannelUnheld):
            if leg.hold_since is not None:
                leg.hold_s += self._now - leg.hold_since
                leg.hold_since = None

    def _leg_bridged(self, leg: Leg) -> None:
        call = self._calls.get(leg.call_id)
        if call is not None and call.connected is leg:
            leg.switch_ends_it = True
            leg.bridge_pending = False  # the switch says it is done: never bridge it twice

    def _on_customer_event(self, call: Call, ev: ChannelEvent) -> None:
        if isinstance(ev, ChannelBridged) and call.connected is not None and ev.other_uuid == call.connected.uuid:
            self._leg_bridged(call.connected)
        if isinstance(ev, ChannelHungUp):
            if call.state is CallState.CONNECTED:
                disposition = Disposition.ANSWERED
            elif call.state is CallState.LEAVING:
                disposition = call.leave_disposition or Disposition.OVERFLOWED
            elif call.hangup_requested:
                disposition = Disposition.TERMINATED
            else:
                disposition = Disposition.ABANDONED
            self._end_call(call, disposition, ev.cause, False)
        elif isinstance(ev, ChannelParked):
            if call.pending_moh and call.state in (CallState.QUEUED, CallState.OFFERING):
                rt = self._queues.get(call.queue or "")
                if rt is not None:
                    self._cmd(Playback(call.uuid, rt.config.hold_music, node=call.node))
            call.pending_moh = False
        elif isinstance(ev, (ChannelHeld, ChannelUnheld)) and call.connected is not None:
            self._on_leg_event(call.connected, ev)
        elif isinstance(ev, ExecuteComplete):
            if (
                call.state is CallState.LEAVING
                and call.leave_path is not None
                and ev.application == "playback"
                and ev.application_data == call.leave_path
            ):
                call.leave_path = None
                self._cmd(Hangup(call.uuid, call.leave_cause, node=call.node))
                call.timer_token += 1
                self._timer(self._now + self.config.cancel_grace_s, "leave", call.call_id, call.timer_token)

    def _on_command_failed(self, ev: CommandFailed) -> None:
        """A command never took effect. For an originate, the offer failed through no fault of the
        agent: their leg never existed, the call keeps its place and is offered again."""
        # (Logged once, by the link that saw it fail.)
        if click_to_dial.on_command_failed(self, ev):
            return
        leg = self._jobs.get(ev.job_uuid) if ev.job_uuid is not None else None
        if leg is None or leg.state not in (LegState.ORIGINATING, LegState.RINGING):
            return  # the channel events keep the truth about legs that exist
        leg.job_done = True
        self._leg_outcome(leg, OfferOutcome.NOT_SENT, "")
        self._leg_gone(leg, "NORMAL_TEMPORARY_FAILURE")

    def _on_job(self, ev: JobCompleted) -> None:
        if click_to_dial.on_job(self, ev):
            return
        leg = self._jobs.get(ev.job_uuid)
        if leg is None:
            return
        leg.job_done = True
        if ev.ok:
            if leg.state in (LegState.ORIGINATING, LegState.RINGING):
                self._leg_answered(leg)  # the answer event was lost; the job says it answered
            elif leg.state is LegState.CANCELLING:
                self._cmd(Hangup(leg.uuid, "LOSE_RACE", node=leg.node))
            else:
                self._bridge_if_pending(leg)
            return
        if leg.state is LegState.CONNECTED:
            # Channel events are the truth about a leg: this one answered, so a failed job only
            # says how the originate ended. The leg lives until a hang-up event says otherwise.
            log.warning("originate job failed for a leg that answered", uuid=leg.uuid, job=ev.body.strip()[:80])
            self._bridge_if_pending(leg)
            return
        parts = ev.body.split()
        cause = parts[1] if len(parts) > 1 and _CAUSE.match(parts[1]) else "NORMAL_TEMPORARY_FAILURE"
        self._leg_gone(leg, cause)

    def _on_presence(self, ev: EndpointEvent) -> None:
        entries = self._user_index.get(ev.user)
        if not entries:
            return  # not an agent's registration: keep nothing about it
        contact = ev.call_id or ev.contact or ""
        realms = self._contacts.setdefault(ev.user, {})
        if isinstance(ev, EndpointRegistered):
            realms.setdefault(ev.realm, set()).add(contact)
        elif isinstance(ev, (EndpointUnregistered, EndpointExpired)):
            contacts = realms.get(ev.realm)
            if contacts:
                if contact and contact in contacts:
                    contacts.discard(contact)
                else:
                    contacts.clear()
        for agent_id, index, realm in entries:
            agent = self._agents[agent_id]
            if index not in agent.tracked:
                continue
            registered = self._is_registered(ev.user, realm)
            if agent.registered.get(index, False) != registered:
                agent.registered[index] = registered
                self._note(AgentPresenceChanged(agent_id, agent.profile.endpoints[index], registered, self._now))
                self._dirty_agents[agent_id] = None

    def _is_registered(self, user: str, realm: str | None) -> bool:
        realms = self._contacts.get(user)
        if not realms:
            return False
        if realm is None:
            return any(realms.values())
        return bool(realms.get(realm))

    def _hold_back(self, ev: ChannelEvent) -> bool:
        """Keep a resync event about a channel the engine does not know until the marker."""
        uuid = ev.uuid
        if uuid in self._legs or uuid in self._by_uuid or uuid in self._released or uuid in self._dead:
            return False
        if uuid in self._c2d.by_uuid:
            return False  # a live click-to-dial leg: its session takes the resync's word on it
        if uuid in self._foreign:
            return False
        found = self._found.setdefault(ev.node, {})
        if uuid in found:
            found[uuid].merge(ev)
        elif adoption.is_adoptable(ev):
            found[uuid] = adoption.found_from(ev)
        else:
            self._held_back.setdefault(ev.node, []).append(ev)
        return True

    def _on_resynced(self, ev: Resynced) -> None:
        """After a (re)connect the node has exactly ``ev.uuids``: every call and agent leg of this
        node that it no longer has ended while nobody was listening. Each ends once, as ``lost``
        (never "answered": nobody saw how it ended), and its agents are freed. A leg whose channel
        was never seen (its originate may still be on its way) is left to its ring timer. Then the
        channels of ctilink calls the engine does not know are adopted, and the rest of what the
        resync described is handled as it came."""
        click_to_dial.resynced(self, ev)
        self._forget_gone(ev)
        alive = set(ev.uuids)
        found = self._found.pop(ev.node, {})
        held = self._held_back.pop(ev.node, [])
        self._apply_adoption(adoption.plan(found, ev.applications, alive), found)
        for item in held:
            if item.uuid in alive:
                self._on_channel_input(item)

    def _apply_adoption(self, plan: adoption.AdoptionPlan, found: Mapping[str, adoption.Found]) -> None:
        for adopted in plan.calls:
            self._adopt(adopted)
        for leg in plan.hang_up:
            log.info("hanging up an agent leg found without a call to join", uuid=leg.uuid, call_id=leg.call_id)
            self._cmd(Hangup(leg.uuid, "ORIGINATOR_CANCEL", node=leg.node))
            self._remember_dead(leg.uuid)
        for customer in plan.released:
            self._released[customer.uuid] = customer.node
        for pair in plan.click_to_dial:
            click_to_dial.adopt(self, pair.agent_leg, pair.customer)
        # An outbound customer not answered yet parks on its answer: then it arrives as usual.
        for customer in plan.not_yet:
            if customer.parked:
                self._released[customer.uuid] = customer.node

    def _adopt(self, adopted: adoption.AdoptedCall) -> None:
        """Take back a call ctilink was running when it lost the switch (see ctilink.core.adoption)."""
        c = adopted.customer
        now = self._now
        rt = self._queues.get(c.variables.get("ctilink_queue", ""))
        if c.call_id in self._calls or rt is None:
            # Not ours to run (an id already in use, a queue this configuration lacks): leave it.
            log.warning("not adopting a call found after a reconnect", call_id=c.call_id, uuid=c.uuid)
            self._released[c.uuid] = c.node
            if adopted.agent_leg is not None and not adopted.bridged:
                self._cmd(Hangup(adopted.agent_leg.uuid, "ORIGINATOR_CANCEL", node=c.node))
            return
        call = Call(
            call_id=c.call_id,
            uuid=c.uuid,
            node=c.node,
            seq=next(self._seq),
            arrived_at=now,
            caller_number=c.caller_number,
            caller_name=c.caller_name,
            destination_number=c.destination_number,
            queue=rt.name,
            first_queue=rt.name,
            priority=self._parse_priority(c.variables.get("ctilink_priority", ""), rt) or rt.config.default_priority,
            media_started=True,
        )
        self._calls[call.call_id] = call
        self._by_uuid[call.uuid] = call
        self._note(CallArrived(call.call_id, call.uuid, call.queue, call.caller_number, call.priority, now))
        found_leg = adopted.agent_leg
        agent = self._agents.get(found_leg.variables["ctilink_agent_id"]) if found_leg is not None else None
        if found_leg is None or agent is None:
            if found_leg is not None:
                self._cmd(Hangup(found_leg.uuid, "ORIGINATOR_CANCEL", node=c.node))  # an agent we do not have
            if not c.parked:
                self._cmd(Break(call.uuid, node=call.node))
            self._cmd(Playback(call.uuid, rt.config.hold_music, node=call.node))
            self._join_queue(call, rt, CallEvent.QUEUE, keep_queued_at=False)
            return
        call.attempts = 1
        leg = Leg(
            uuid=found_leg.uuid,
            job_uuid=f"adopted:{found_leg.uuid}",
            call_id=call.call_id,
            agent_id=agent.id,
            attempt=1,
            queue=rt.name,
            node=call.node,
            offered_at=now,
            state=LegState.CONNECTED,
            result=OfferOutcome.ANSWERED,
            result_at=now,
            answered_at=now,
            job_done=True,
            switch_ends_it=adopted.bridged,
        )
        self._legs[leg.uuid] = leg
        call.legs.append(leg)
        call.apply(CallEvent.OFFER)
        call.apply(CallEvent.ANSWER)
        call.connected = leg
        call.answered_at = now
        agent.legs[leg.uuid] = call.call_id
        if agent.state is AgentState.LOGGED_OUT:
            agent.pending_logout = True  # no session says they are logged in: out after this call
        elif agent.state is AgentState.NOT_READY:
            agent.pending_not_ready = agent.reason
        if agent.state is AgentState.WRAP_UP:
            self._finish_wrap_legs(agent)
        self._agent_apply(agent, AgentEvent.ADOPT, call.queue)
        self._pull(agent)
        self._refresh(agent)
        if not adopted.bridged:
            self._bridge(call, leg)
        self._note(CallAnswered(call.call_id, agent.id, leg.uuid, call.queue or "", 0.0, now))

    def _forget_gone(self, ev: Resynced) -> None:
        alive = set(ev.uuids)
        node = ev.node
        gone = [leg for leg in self._legs.values() if leg.node == node and leg.uuid not in alive]
        for leg in gone:
            # Already gone from the switch: ending its call must not hang it up (that would be a
            # uuid_kill of a channel FreeSWITCH no longer has); a partner still there is reaped.
            leg.switch_ends_it = True
        for call in [c for c in self._calls.values() if c.node == node and c.state is not CallState.ENDED]:
            if call.uuid not in alive:
                self._end_call(call, Disposition.LOST, "gone-while-disconnected", False)
        for leg in gone:
            if leg.state is not LegState.ORIGINATING and leg.uuid in self._legs:
                self._leg_gone(leg, "LOSE_RACE")

    def _on_shutdown(self, ev: SwitchShutdown) -> None:
        node = ev.node
        for call in [c for c in self._calls.values() if c.node == node and c.state is not CallState.ENDED]:
            self._end_call(call, Disposition.FAILED, "switch-shutdown", False)
        click_to_dial.shutdown(self, node)
        for leg in [leg for leg in self._legs.values() if leg.node == node]:
            self._leg_gone(leg, "SWITCH_SHUTDOWN")
        for uuid in [u for u, n in self._released.items() if n == node]:
            del self._released[uuid]
        for uuid, agent_ids in list(self._foreign.items()):
            for agent_id in agent_ids:
                agent = self._agents.get(agent_id)
                if agent is not None and agent.foreign.get(uuid) == node:
                    del agent.foreign[uuid]
                    self._dirty_agents[agent_id] = None
            if all(uuid not in self._agents[a].foreign for a in agent_ids if a in self._agents):
                del self._foreign[uuid]

    # ------------------------------------------------------------------ requests

    def _on_request(self, req: rq.Request) -> None:
        handler = self._REQUEST_HANDLERS.get(type(req))
        if handler is None and call_control.handles(req):
            call_control.handle(self, req)
            return
        if handler is None:
            raise InvalidValue("request", type(req).__name__, "a known request type")
        handler(self, req)

    def _agent(self, agent_id: str) -> Agent:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise UnknownAgent(agent_id)
        return agent

    def _req_login(self, req: rq.AgentLogin) -> None:
        agent = self._agent(req.agent_id)
        if req.not_ready_reason is not None and req.not_ready_reason not in self._reasons:
            raise UnknownReason(req.not_ready_reason, sorted(self._reasons))
        event = AgentEvent.LOGIN if req.not_ready_reason is None else AgentEvent.LOGIN_NOT_READY
        moved = None
        if req.endpoints is not None:
            try:
                moved = agent.profile.model_validate({**agent.profile.model_dump(), "endpoints": list(req.endpoints)})
            except ValueError:
                raise InvalidValue(
                    "endpoint", ", ".join(req.endpoints)[:200], "dial strings such as user/1001"
                ) from None
        transition(agent.state, event, agent.id)
        if moved is not None:  # checked above; applied only now that the login is allowed
            self._upsert(moved)
        agent.no_answer_streak = 0
        self._agent_apply(agent, event, req.not_ready_reason)
        agent.idle_since = self._now

    def _req_logout(self, req: rq.AgentLogout) -> None:
        agent = self._agent(req.agent_id)
        state = agent.state
        if state in (AgentState.RESERVED, AgentState.ON_CALL) or (
            state is AgentState.WRAP_UP and self._ringing_leg(agent) is not None
        ):
            agent.pending_logout = True
            self._dirty_agents[agent.id] = None
            return
        transition(state, AgentEvent.LOGOUT, agent.id)
        if state is AgentState.WRAP_UP:
            self._finish_wrap_legs(agent)
        self._agent_apply(agent, AgentEvent.LOGOUT, None)

    def _req_ready(self, req: rq.AgentReady) -> None:
        agent = self._agent(req.agent_id)
        state = agent.state
        if state is AgentState.AVAILABLE:
            return  # already ready: idempotent
        if state in (AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP):
            agent.pending_not_ready = None
            agent.pending_logout = False
            self._dirty_agents[agent.id] = None
            return
        transition(state, AgentEvent.READY, agent.id)
        agent.no_answer_streak = 0
        self._agent_apply(agent, AgentEvent.READY, None)

    def _req_not_ready(self, req: rq.AgentNotReady) -> None:
        agent = self._agent(req.agent_id)
        if req.reason not in self._reasons:
            raise UnknownReason(req.reason, sorted(self._reasons))
        if agent.state in (AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP):
            agent.pending_not_ready = req.reason
            self._dirty_agents[agent.id] = None
            return
        transition(agent.state, AgentEvent.NOT_READY, agent.id)
        self._agent_apply(agent, AgentEvent.NOT_READY, req.reason)

    def _req_end_wrap(self, req: rq.EndWrapUp) -> None:
        agent = self._agent(req.agent_id)
        self._wrap_up_over(agent)

    def _req_extend_wrap(self, req: rq.ExtendWrapUp) -> None:
        agent = self._agent(req.agent_id)
        seconds = req.seconds
        if not isinstance(seconds, (int, float)) or not (0 < seconds <= _MAX_WRAP_EXTENSION_S) or seconds != seconds:
            raise InvalidValue("seconds", seconds, f"a number of seconds in (0, {_MAX_WRAP_EXTENSION_S:g}]")
        transition(agent.state, AgentEvent.EXTEND_WRAP_UP, agent.id)
        assert agent.wrap_until is not None
        agent.wrap_until += float(seconds)
        agent.wrap_token += 1
        self._timer(agent.wrap_until, "wrap", agent.id, agent.wrap_token)

    def _req_disposition(self, req: rq.SetDisposition) -> None:
        agent = self._agent(req.agent_id)
        if req.code not in self._codes:
            raise UnknownDisposition(req.code, sorted(self._codes))
        talking = [self._legs[u] for u in agent.legs if u in self._legs and self._legs[u].talk_ended_at is None]
        candidates = self._wrap_legs.get(agent.id, []) + talking
        leg: Leg | None = None
        for candidate in reversed(candidates):
            if candidate.answered_at is not None and (req.call_id is None or candidate.call_id == req.call_id):
                leg = candidate
                break
        if leg is None:
            if req.call_id is not None and req.call_id not in self._calls:
                raise UnknownCall(req.call_id)
            raise NoCallForAgent(agent.id)
        leg.disposition_code = req.code

    def _req_transfer(self, req: rq.TransferCall) -> None:
        call = self._calls.get(req.call_id)
        if call is None or call.state is CallState.ENDED:
            raise UnknownCall(req.call_id)
        targets = [t for t in (req.queue, req.agent_id, req.number) if t is not None]
        if len(targets) != 1:
            raise InvalidValue("target", f"{len(targets)} targets", "exactly one of queue, agent_id, number")
        if call.state is not CallState.CONNECTED or call.connected is None:
            raise CallNotConnected(call.call_id, call.state.value)
        rt = agent = None
        if req.queue is not None:
            rt = self._queues.get(req.queue)
            if rt is None:
                raise UnknownQueue(req.queue, where="TransferCall.queue")
        elif req.agent_id is not None:
            agent = self._agent(req.agent_id)
            if not self._offerable(agent, direct=True):
                raise AgentUnavailable(agent.id, f"state {agent.state.value}")
        else:
            assert req.number is not None
            if not _DESTINATION.match(req.number):
                raise InvalidValue("number", req.number, "digits or a plain extension name")
            if req.context is not None and not _NAME.match(req.context):
                raise InvalidValue("context", req.context, "a plain dialplan context name")
        now = self._now
        leg = call.connected
        if rt is not None:
            kind, target = "queue", req.queue
        elif agent is not None:
            kind, target = "agent", req.agent_id
        else:
            kind, target = "number", req.number
        assert target is not None
        call.transfers.append(TransferRecord(now, kind, target, call.queue, leg.agent_id, "blind-transfer"))
        self._note(CallTransferred(call.call_id, leg.agent_id, kind, target, now))
        if kind == "number":
            self._cmd(Transfer(call.uuid, target, context=req.context or self.config.transfer_context, node=call.node))
            self._end_call(call, Disposition.TRANSFERRED_OUT, f"transfer:{target}", True)
            return
        # Take the customer out of the bridge into park; the old agent leg is hung up.
        self._cmd(Transfer(call.uuid, "park", dialplan="inline", node=call.node))
        self._end_talk(leg, kill=True)
        call.pending_moh = True
        call.waiting_key = None
        if rt is not None:
            call.apply(CallEvent.TRANSFER_QUEUE)
            self._join_queue(call, rt, None, keep_queued_at=False)
        else:
            assert agent is not None
            call.apply(CallEvent.TRANSFER_AGENT)
            call.target_agent = agent.id
            call.timer_token += 1
            call.start_waiting(now)
            self._offer(call, agent)

    def _req_hangup(self, req: rq.HangupCall) -> None:
        call = self._calls.get(req.call_id)
        if call is None or call.state is CallState.ENDED:
            raise UnknownCall(req.call_id)
        if not _CAUSE.match(req.cause):
            raise InvalidValue("cause", req.cause, "an upper-case hangup cause name")
        call.hangup_requested = True
        self._cmd(Hangup(call.uuid, req.cause, node=call.node))

    def _req_upsert(self, req: rq.UpsertAgent) -> None:
        profile = req.profile
        if not isinstance(profile, AgentProfile):
            raise InvalidValue("profile", type(profile).__name__, "an AgentProfile")
        if self._catalogue is not None:
            for skill in profile.skills:
                if skill not in self._catalogue:
                    raise UnknownSkill(skill, owner=f"agent {profile.id}")
        self._upsert(profile)

    def _upsert(self, profile: AgentProfile) -> None:
        agent = self._agents.get(profile.id)
        if agent is None:
            agent = Agent(profile=profile, seq=next(self._seq), state_since=self._now, idle_since=self._now)
            self._agents[profile.id] = agent
        else:
            self._detach(agent)
            self._unindex(agent)
            agent.profile = profile
        track_default = self.config.presence_tracking if profile.track_presence is None else profile.track_presence
        tracked = set()
        agent.registered = {}
        for index, endpoint in enumerate(profile.endpoints):
            key = registration_key(endpoint, self.config.default_realm)
            if key is None:
                continue
            self._user_index.setdefault(key[0], []).append((profile.id, index, key[1]))
            if track_default:
                tracked.add(index)
                agent.registered[index] = self._is_registered(key[0], key[1])
        agent.tracked = frozenset(tracked)
        agent.memberships = self._memberships(profile)
        self._refresh(agent)
        self._dirty_agents[agent.id] = None

    def _unindex(self, agent: Agent) -> None:
        for endpoint in agent.profile.endpoints:
            key = registration_key(endpoint, self.config.default_realm)
            if key is None:
                continue
            entries = [e for e in self._user_index.get(key[0], []) if e[0] != agent.id]
            if entries:
                self._user_index[key[0]] = entries
            else:
                self._user_index.pop(key[0], None)
                self._contacts.pop(key[0], None)

    def _req_remove(self, req: rq.RemoveAgent) -> None:
        agent = self._agent(req.agent_id)
        if agent.state is not AgentState.LOGGED_OUT or agent.legs:
            raise AgentBusy(agent.id, f"is {agent.state.value}; log the agent out first")
        self._detach(agent)
        self._unindex(agent)
        del self._agents[agent.id]
        self._wrap_legs.pop(agent.id, None)

    def _req_reserve(self, req: rq.ReserveAgent) -> None:
        agent = self._agent(req.agent_id)
        for field, value in (("campaign", req.campaign), ("reason", req.reason)):
            if not (isinstance(value, str) and _NAME.match(value)):
                raise InvalidValue(field, value, "a plain name (letters, digits, _.@+-; up to 64)")
        contact = req.contact_id
        if contact is not None and not (isinstance(contact, str) and 0 < len(contact) <= 128 and contact.isprintable()):
            raise InvalidValue("contact_id", contact, "printable text of 1 to 128 characters")
        if agent.state is not AgentState.AVAILABLE or agent.busy_count():
            # Taken meanwhile (or the last call's leg not yet confirmed gone) (an inbound offer rang first, a private call, not ready): the dialer
            # takes its preview back rather than show work the agent cannot do. A busy delay or an
            # unregistered phone does not refuse: a preview is read on screen, and the customer's
            # call falls back to normal routing if the phone still cannot ring when it arrives.
            raise AgentUnavailable(agent.id, f"is {agent.state.value} and cannot be reserved")
        self._agent_apply(agent, AgentEvent.RESERVE, req.reason)
        agent.reservation = Reservation(req.reason, req.campaign, req.contact_id)
        self._pull(agent)

    def _req_release(self, req: rq.ReleaseAgent) -> None:
        agent = self._agent(req.agent_id)
        held = agent.reservation
        if (
            held is None
            or held.campaign != req.campaign
            or (req.contact_id is not None and held.contact_id != req.contact_id)
        ):
            return  # nothing of theirs is held (already taken by its call, or released): idempotent
        self._release(agent)

    def _req_replace_queues(self, req: rq.ReplaceQueues) -> None:
        queues = list(req.queues)
        if not all(isinstance(q, QueueConfig) for q in queues):
            raise InvalidValue("queues", "non-QueueConfig item", "QueueConfig models")
        self._check_queue_set(queues, self.config.default_route)
        self._rebuild_queues(queues)

    _REQUEST_HANDLERS: ClassVar[dict[type, Callable[[Engine, Any], None]]] = {
        rq.AgentLogin: _req_login,
        rq.AgentLogout: _req_logout,
        rq.AgentReady: _req_ready,
        rq.AgentNotReady: _req_not_ready,
        rq.EndWrapUp: _req_end_wrap,
        rq.ExtendWrapUp: _req_extend_wrap,
        rq.SetDisposition: _req_disposition,
        rq.TransferCall: _req_transfer,
        rq.HangupCall: _req_hangup,
        rq.UpsertAgent: _req_upsert,
        rq.RemoveAgent: _req_remove,
        rq.ReplaceQueues: _req_replace_queues,
        rq.AddListEntry: _req_add_list,
        rq.RemoveListEntry: _req_remove_list,
        rq.ReserveAgent: _req_reserve,
        rq.ReleaseAgent: _req_release,
    }

    # ------------------------------------------------------------------ views

    def _agent_view(self, agent: Agent, at: float) -> AgentView:
        legs = [self._legs[u] for u in agent.legs if u in self._legs]
        return AgentView(
            agent_id=agent.id,
            name=agent.profile.name,
            state=agent.state,
            state_since=agent.state_since,
            time_in_state_s=max(0.0, at - agent.state_since),
            reason=agent.reason,
            pending_not_ready=agent.pending_not_ready,
            pending_logout=agent.pending_logout,
            calls=tuple(dict.fromkeys(leg.call_id for leg in legs)),
            foreign_channels=len(agent.foreign),
            on_hold=any(leg.hold_since is not None for leg in legs),
            offerable=agent.in_pools,
            endpoints_registered=tuple(
                (i not in agent.tracked) or agent.registered.get(i, False) for i in range(len(agent.profile.endpoints))
            ),
            calls_answered=agent.calls_answered,
            talk_time_s=agent.talk_time_s,
            no_answer_streak=agent.no_answer_streak,
            idle_since=agent.idle_since,
            wrap_up_until=agent.wrap_until,
            delayed_until=agent.delayed_until,
            reserved_for=agent.reservation.campaign if agent.reservation is not None else None,
        )

    def _call_view(self, call: Call, at: float) -> CallView:
        wait = call.wait_s + (at - call.wait_since if call.wait_since is not None else 0.0)
        return CallView(
            call_id=call.call_id,
            uuid=call.uuid,
            state=call.state,
            queue=call.queue,
            priority=call.priority,
            arrived_at=call.arrived_at,
            wait_s=max(0.0, wait),
            step=call.step,
            agent_id=call.connected.agent_id if call.connected is not None else None,
            ringing_agents=tuple(leg.agent_id for leg in call.ringing.values()),
        )

    def _agent_problems(self, agent: Agent) -> list[str]:
        problems = []
        known = [self._legs.get(u) for u in agent.legs]
        if any(leg is None for leg in known):
            problems.append(f"agent {agent.id} points at a leg the engine forgot")
        legs = [leg for leg in known if leg is not None]
        talking = [leg for leg in legs if leg.state is LegState.CONNECTED]
        if agent.reservation is not None and (agent.state is not AgentState.RESERVED or legs):
            problems.append(f"agent {agent.id} holds a reservation while {agent.state.value} with {len(legs)} legs")
        if agent.state is AgentState.RESERVED and agent.reservation is None and (not legs or talking):
            problems.append(f"agent {agent.id} is reserved with legs {[leg.state.value for leg in legs]}")
        if agent.state is AgentState.ON_CALL and not talking and not agent.direct and agent.click_to_dial is None:
            problems.append(f"agent {agent.id} is on-call without a connected leg or a direct call")
        if agent.state in (AgentState.AVAILABLE, AgentState.NOT_READY, AgentState.LOGGED_OUT) and any(
            leg.state in (LegState.ORIGINATING, LegState.RINGING, LegState.CONNECTED) for leg in legs
        ):
            problems.append(f"agent {agent.id} is {agent.state.value} with a live leg")
        if agent.state is AgentState.WRAP_UP and agent.wrap_until is None:
            problems.append(f"agent {agent.id} is in wrap-up without a deadline")
        if agent.in_pools != self._offerable(agent):
            problems.append(f"agent {agent.id}: in pools={agent.in_pools} but offerable={self._offerable(agent)}")
        return problems


__all__ = ["Engine", "offer_outcome"]
