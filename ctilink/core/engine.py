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
  through small work lists (the drain loop here). Nothing polls.
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
  matched to it and the calls behind it flow on. The agent freeing up (``matching.match_agent`` serves
  held calls first), the wait running out (``sticky`` timer) or the agent leaving releases it.

- Outbound reservations: ``ReserveAgent`` holds an available agent (``RESERVED``, no leg) for a
  campaign's preview or kept callback, so routing skips them while they read a contact or the
  customer is dialed for them. The customer leg of that campaign and contact naming the agent as
  preferred agent takes the reservation on arrival: it rings that agent at once (no queueing), or,
  if they cannot take it, the agent is released and the call routes normally. ``ReleaseAgent``
  (skip, timeout, failed dial) gives the agent back, honouring a not-ready / logout asked meanwhile.
- Click-to-dial (``click_to_dial.py``) is a state machine of its own whose sessions the engine
  keeps in ``state.c2d``: channel events, job results and failed commands about its legs go to it
  first (and only), its timers are the ``c2d:*`` kinds, and it moves agents with the agent table.

Layout: this module is the door (``handle`` / ``tick`` dispatch, the effects being built, the
timer heap, the drain loop, the public reads). What the engine knows is one
:class:`~ctilink.core.state.EngineState`; each concern is a module of functions over it, layered
so that none calls a concern above it (``docs/engine.md`` has the map): ``pools``, ``settle``,
``sticky_routing``, ``offers``, ``queueing``, ``matching``, ``arrival``, ``presence``, ``admin``,
``click_to_dial_legs``, ``channels``, ``recovery``, ``agent_requests``, ``transfer``,
``call_control``, ``timers``, ``views``.

What it must never know about: ESL text, sockets, persistence, metrics, HTTP. Those are edges.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ctilink.core import (
    admin,
    agent_requests,
    call_control,
    channels,
    matching,
    pools,
    presence,
    queueing,
    recovery,
    settle,
    sticky_routing,
    timers,
    transfer,
    views,
)
from ctilink.core import requests as rq
from ctilink.core.call import CallState
from ctilink.core.config import NAME_RE, AgentProfile, EngineConfig
from ctilink.core.effects import Effects
from ctilink.core.errors import ConfigError, CtilinkError, InvalidValue, UnknownAgent, UnknownCall
from ctilink.core.ids import seeded_ids
from ctilink.core.lists_screen import ListScreen
from ctilink.core.notifications import ListChanged
from ctilink.core.offers import offer_outcome
from ctilink.core.screening import CustomStrategy, ScreenHook, accept_all
from ctilink.core.snapshot import AgentView, CallView, EngineSnapshot
from ctilink.core.state import EngineState
from ctilink.core.sticky import StickyMemory, StickyRow
from ctilink.core.strategies import BUILTIN_STRATEGIES
from ctilink.events import (
    ChannelEvent,
    CommandFailed,
    EndpointEvent,
    Event,
    JobCompleted,
    Resynced,
    SwitchShutdown,
)
from ctilink.lists.model import Entry
from ctilink.lists.numbers import ANONYMOUS

#: Request type -> its handler (call control's requests are added from its own table).
REQUESTS: dict[type, Callable[[EngineState, Any], None]] = {
    rq.AgentLogin: agent_requests.login,
    rq.AgentLogout: agent_requests.logout,
    rq.AgentReady: agent_requests.ready,
    rq.AgentNotReady: agent_requests.not_ready,
    rq.EndWrapUp: agent_requests.end_wrap,
    rq.ExtendWrapUp: agent_requests.extend_wrap,
    rq.SetDisposition: agent_requests.disposition,
    rq.ReserveAgent: agent_requests.reserve,
    rq.ReleaseAgent: agent_requests.release,
    rq.TransferCall: transfer.transfer,
    rq.HangupCall: call_control.hangup,
    rq.UpsertAgent: admin.upsert_agent,
    rq.RemoveAgent: admin.remove_agent,
    rq.ReplaceQueues: admin.replace_queues,
    rq.AddListEntry: admin.add_list_entry,
    rq.RemoveListEntry: admin.remove_list_entry,
    **{kind: call_control.handle for kind in call_control.REQUEST_TYPES},
}


def _on_channel(s: EngineState, ev: ChannelEvent) -> None:
    if not (ev.resync and recovery.hold_back(s, ev)):
        channels.on_channel_input(s, ev)


def _on_request(s: EngineState, req: rq.Request) -> None:
    handler = REQUESTS.get(type(req))
    if handler is None:
        raise InvalidValue("request", type(req).__name__, "a known request type")
    handler(s, req)


#: Input type -> its handler, tried in order (the first whose type matches).
INPUTS: tuple[tuple[type, Callable[[EngineState, Any], None]], ...] = (
    (rq.Request, _on_request),
    (ChannelEvent, _on_channel),
    (JobCompleted, channels.on_job),
    (CommandFailed, channels.on_command_failed),
    (EndpointEvent, presence.on_presence),
    (SwitchShutdown, recovery.on_shutdown),
    (Resynced, recovery.on_resynced),
)


def _take_first(work: dict[str, None]) -> str:
    """The oldest id of a work list, taken off it (a dict keeps insertion order)."""
    key = next(iter(work))
    del work[key]
    return key


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
        custom: dict[str, CustomStrategy] = dict(strategies or {})
        for name in custom:
            if name in BUILTIN_STRATEGIES or not NAME_RE.match(name):
                raise ConfigError(f"custom strategy name {name!r} is a built-in name or not a plain name")
        self.state = s = EngineState(
            config=config,
            rng=rng if rng is not None else random.Random(0),
            # Seeded apart from the routing rng, so the ids do not change which agent a strategy
            # picks; a process that outlives restarts injects real uuids (ctilink.service.build).
            new_id=id_factory if id_factory is not None else seeded_ids(random.Random(0)),
            screen=screen if screen is not None else accept_all,
            custom=custom,
            lists=ListScreen(config.lists, config.default_region),
            sticky=StickyMemory(config.sticky),
            reasons=set(config.not_ready_reasons) | {"no-answer"},
            codes=set(config.disposition_codes),
            catalogue=set(config.skills) if config.skills is not None else None,
            agent_profiles=set(config.agent_sip_profiles),
        )
        admin.check_queue_set(s, list(config.queues), config.default_route)
        admin.rebuild_queues(s, list(config.queues))
        for profile in config.agents:
            admin.upsert(s, profile)
        s.eff = Effects()

    # ------------------------------------------------------------------ inputs

    def handle(self, item: object, now: float) -> Effects:
        """Process one event (``ctilink.events``) or request (``ctilink.core.requests``)."""
        s = self.state
        self._begin(now)
        try:
            for kind, handler in INPUTS:
                if isinstance(item, kind):
                    handler(s, item)
                    break
            else:
                if not isinstance(item, Event):
                    raise InvalidValue("input", type(item).__name__, "a ctilink event or request")
        except CtilinkError as exc:
            s.reject(exc, type(item).__name__, item)
        self._drain()
        return self._finish()

    def tick(self, now: float) -> Effects:
        """Fire every timer due at or before ``now`` (each at its own deadline, in order)."""
        s = self.state
        self._begin(now)
        while s.timers and s.timers[0][0] <= now:
            deadline, _, kind, key, token = heapq.heappop(s.timers)
            if not timers.timer_valid(s, kind, key, token):
                continue
            s.now = max(s.now, deadline)
            try:
                timers.fire(s, kind, key)
            except CtilinkError as exc:
                s.reject(exc, f"timer:{kind}", key)
            self._drain()
        s.now = max(s.now, now)
        self._drain()
        return self._finish()

    def next_deadline(self) -> float | None:
        """When the engine next wants ``tick(now)``, or None if no timer is pending."""
        s = self.state
        heap = s.timers
        while heap and not timers.timer_valid(s, heap[0][2], heap[0][3], heap[0][4]):
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def _begin(self, now: float) -> None:
        s = self.state
        s.now = max(s.now, now)
        if not s.clock_started:
            # Agents configured at construction met the engine before it had a time: their first
            # state began at its first input, not at 0 (the first AgentStateChanged carried the
            # Unix time as its duration).
            s.clock_started = True
            for agent in s.agents.values():
                agent.state_since = agent.idle_since = s.now
        s.eff = Effects()
        expiry = s.lists.next_expiry()
        if expiry is not None and expiry <= s.now:
            # A few per input, so one input never pays for a mass expiry; the daemon deletes them.
            for entry in s.lists.purge_expired(s.now):
                s.note(ListChanged("expire", entry, s.now))

    def _finish(self) -> Effects:
        s = self.state
        effects, s.eff = s.eff, Effects()
        return effects

    def _drain(self) -> None:
        """Requeue calls whose offers all failed, settle agents, then match waiting calls and newly
        offerable agents, until nothing is left."""
        s = self.state
        while True:
            if s.exhausted:
                call_id = _take_first(s.exhausted)
                call = s.calls.get(call_id)
                if call is not None and call.state is CallState.OFFERING and not call.ringing:
                    queueing.offers_exhausted(s, call)
                continue
            if s.dirty_agents:
                ids = list(s.dirty_agents)
                s.dirty_agents.clear()
                for agent_id in ids:
                    agent = s.agents.get(agent_id)
                    if agent is not None:
                        settle.reconcile(s, agent)
                        pools.refresh(s, agent)
                    if agent_id in s.waiters:
                        sticky_routing.check_waiters(s, agent_id)
                continue
            if s.dirty_queues:
                name = _take_first(s.dirty_queues)
                queueing.leave_if_empty(s, name)
                continue
            if s.dirty_calls:
                call_id = _take_first(s.dirty_calls)
                waiting = s.calls.get(call_id)
                if waiting is not None and waiting.state is CallState.QUEUED and waiting.in_list:
                    matching.match_call(s, waiting)
                continue
            if s.new_available:
                agent_id = _take_first(s.new_available)
                free = s.agents.get(agent_id)
                if free is not None and free.in_pools:
                    matching.match_agent(s, free)
                continue
            break

    # ------------------------------------------------------------------ reads

    def queue_position(self, call_id: str) -> tuple[int, float | None]:
        """(position in its queue, estimated wait in seconds); position 0 = ringing or with an agent.
        The estimate is None when no eligible agent is staffed."""
        return queueing.queue_position(self.state, call_id)

    def snapshot(self, now: float | None = None) -> EngineSnapshot:
        """A read-only view of agents, queues and live calls."""
        return views.snapshot(self.state, now)

    def agent_view(self, agent_id: str, now: float | None = None) -> AgentView:
        agent = self.state.agents.get(agent_id)
        if agent is None:
            raise UnknownAgent(agent_id)
        return views.agent_view(self.state, agent, self.state.now if now is None else now)

    def call_view(self, call_id: str, now: float | None = None) -> CallView:
        call = self.state.calls.get(call_id)
        if call is None or call.state is CallState.ENDED:
            raise UnknownCall(call_id)
        return views.call_view(self.state, call, self.state.now if now is None else now)

    def agent_profile(self, agent_id: str) -> AgentProfile | None:
        """The profile the engine routes the agent with now (endpoints as last upserted)."""
        agent = self.state.agents.get(agent_id)
        return agent.profile if agent is not None else None

    def call_id_for_uuid(self, uuid: str) -> str | None:
        """The call a live customer leg belongs to."""
        call = self.state.by_uuid.get(uuid)
        return call.call_id if call is not None else None

    # -- number lists and sticky memory (reads raise typed errors; changes are requests) --------

    def load_lists(self, entries: Iterable[Entry]) -> list[tuple[object, CtilinkError]]:
        """Load list entries (the store's, at start, before the first input). No notifications.
        Returns the (entry, error) pairs refused (e.g. a route target no command could carry)."""
        return self.state.lists.load(entries)

    def load_sticky(self, rows: Iterable[StickyRow]) -> list[tuple[object, CtilinkError]]:
        """Load sticky memory (the store's live ``StickyRecord`` rows, at start). No notifications.
        Returns the (row, error) pairs refused."""
        return self.state.sticky.load(rows)

    def check_dnc(self, number: str, campaign: str | None, now: float) -> Entry | None:
        """The do-not-call entry forbidding a dial of ``number`` for ``campaign`` (scopes
        ``campaign:<name>`` then ``global``), or None. Raises ``InvalidNumber`` / ``InvalidValue``."""
        return self.state.lists.check_dnc(number, campaign, now)[1]

    def ensure_dialable(self, number: str, campaign: str | None, now: float) -> str:
        """The number as E.164 if it may be dialled; raises :class:`DoNotCallError` if it is on
        the do-not-call list (``InvalidNumber`` if it is not a number)."""
        return self.state.lists.ensure_dialable(number, campaign, now)

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
        return self.state.lists.query(list_name, scope=scope, number=number, now=now, limit=limit)

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
        lists = self.state.lists
        scopes = lists.scopes(destination, queue)
        if campaign is not None:
            scopes.insert(0, f"campaign:{campaign}")
        return lists.lookup(number, list_name, scopes, now)

    def sticky_agent(self, number: str, queue: str | None, now: float) -> str | None:
        """The agent remembered for ``number`` (raw; normalized with ``default_region``) in
        ``queue``, if the memory is live. The dialer's hook for callbacks: it may set the
        ``ctilink_preferred_agent`` variable on the customer leg it parks."""
        normalized = self.state.lists.normalize_caller(number)
        if normalized is None or normalized == ANONYMOUS:
            return None
        memo = self.state.sticky.peek(normalized, queue, now)
        return memo.agent_id if memo is not None else None


__all__ = ["INPUTS", "REQUESTS", "Engine", "offer_outcome"]
