"""The engine's state: one plain dataclass, and the few ways to add to the effects being built.

Rules:
- Everything the engine knows between two inputs lives in one :class:`EngineState`. The concern
  modules (``pools``, ``offers``, ``queueing`` ...) are functions that take it as their first
  argument; none of them keeps state of its own, and there is no module-global state.
- Output goes only through :meth:`EngineState.cmd` (a switch command), :meth:`EngineState.note`
  (a notification) and :meth:`EngineState.reject` (a refusal, as an ``InputRejected``), into the
  :class:`~ctilink.core.effects.Effects` of the input being handled; timers only through
  :meth:`EngineState.timer`, onto the heap the engine fires from.
- Work the engine must still do before an input is over is a set of ids (the ``dirty_*``,
  ``new_available`` and ``exhausted`` work lists), emptied by the engine's drain loop; a concern
  marks work there instead of calling a concern above it, which keeps the modules layered.

What it never holds: sockets, clocks, persistence. ``now`` is the time of the input being handled.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import structlog

from ctilink.commands import Command
from ctilink.core.adoption import Found
from ctilink.core.agent import Agent
from ctilink.core.call import Call, Leg
from ctilink.core.click_to_dial import Sessions
from ctilink.core.config import EngineConfig, QueueConfig
from ctilink.core.effects import Effects
from ctilink.core.errors import CtilinkError, IllegalTransition, UnknownAgent, log_fields
from ctilink.core.lists_screen import ListScreen
from ctilink.core.notifications import InputRejected, Notification
from ctilink.core.queue import QueueRuntime
from ctilink.core.routing import Requirement
from ctilink.core.screening import CustomStrategy, ScreenHook
from ctilink.core.sticky import StickyMemory
from ctilink.events import ChannelEvent

log = structlog.get_logger("ctilink.core")

DEAD_LEGS_KEPT = 10_000


class Timer(StrEnum):
    """The engine's timer kinds (``ctilink.core.timers`` holds what each checks and does)."""

    RING = "ring"  # an agent leg rang out
    GRACE = "grace"  # an agent leg we hung up never confirmed its end
    REAP_LEG = "reap_leg"  # a bridged agent leg outlived its customer
    REAP_CALL = "reap_call"  # a customer outlived its bridged agent leg
    WRAP = "wrap"  # an agent's wrap-up is over
    DELAY = "delay"  # an agent's busy / no-answer / reject rest is over
    ESCALATE = "escalate"  # a waiting call moves to its next escalation step
    MAXWAIT = "maxwait"  # a waiting call waited as long as its queue allows
    ANNOUNCE = "announce"  # a waiting call hears its position
    STICKY = "sticky"  # a call held for its sticky agent stops waiting for them
    LEAVE = "leave"  # a leaving call's announcement or hang-up never finished


@dataclass(eq=False)
class EngineState:
    """What the engine knows. Built by :class:`~ctilink.core.engine.Engine`; read by the views."""

    config: EngineConfig
    rng: random.Random
    new_id: Callable[[], str]
    screen: ScreenHook
    custom: dict[str, CustomStrategy]
    lists: ListScreen
    sticky: StickyMemory
    reasons: set[str]
    codes: set[str]
    catalogue: set[str] | None
    agent_profiles: set[str]
    agents: dict[str, Agent] = field(default_factory=dict)
    queues: dict[str, QueueRuntime] = field(default_factory=dict)
    queue_configs: list[QueueConfig] = field(default_factory=list)
    base_of: dict[str, Requirement] = field(default_factory=dict)
    calls: dict[str, Call] = field(default_factory=dict)  # live calls, and ended ones waiting for wrap-up
    by_uuid: dict[str, Call] = field(default_factory=dict)  # customer uuid -> live call
    legs: dict[str, Leg] = field(default_factory=dict)
    jobs: dict[str, Leg] = field(default_factory=dict)
    released: dict[str, str] = field(default_factory=dict)  # customer uuids that left our control -> node
    dead: OrderedDict[str, None] = field(default_factory=OrderedDict)  # agent legs we gave up on: kill on sight
    foreign: dict[str, list[str]] = field(default_factory=dict)  # channel uuid -> agent ids whose phone it is on
    user_index: dict[str, list[tuple[str, int, str | None]]] = field(default_factory=dict)
    contacts: dict[str, dict[str, set[str]]] = field(default_factory=dict)  # user -> realm -> contacts
    wrap_legs: dict[str, list[Leg]] = field(default_factory=dict)
    timers: list[tuple[float, int, str, str, int]] = field(default_factory=list)
    timer_seq: itertools.count[int] = field(default_factory=itertools.count)
    seq: itertools.count[int] = field(default_factory=itertools.count)
    dirty_agents: dict[str, None] = field(default_factory=dict)
    dirty_calls: dict[str, None] = field(default_factory=dict)
    dirty_queues: dict[str, None] = field(default_factory=dict)
    new_available: dict[str, None] = field(default_factory=dict)
    exhausted: dict[str, None] = field(default_factory=dict)  # calls whose last ringing offer failed
    waiters: dict[str, dict[str, None]] = field(default_factory=dict)  # agent id -> calls held for them
    # What a resync describes is held back until its marker: adoptable channels (per node, by
    # uuid) and the rest of its events, replayed after the adoption (ctilink.core.recovery).
    found: dict[str, dict[str, Found]] = field(default_factory=dict)
    held_back: dict[str, list[ChannelEvent]] = field(default_factory=dict)
    c2d: Sessions = field(default_factory=Sessions)  # click-to-dial sessions
    now: float = 0.0
    clock_started: bool = False
    eff: Effects = field(default_factory=Effects)

    def cmd(self, command: Command) -> None:
        self.eff.commands.append(command)

    def note(self, notification: Notification) -> None:
        self.eff.notifications.append(notification)

    def reject(self, error: CtilinkError, subject: str, item: object = None) -> None:
        level = "error" if isinstance(error, IllegalTransition) else "warning"
        getattr(log, level)("input rejected", subject=subject, **log_fields(error, item))
        self.note(InputRejected(error=error, subject=subject, at=self.now))

    def timer(self, at: float, kind: str, key: str, token: int) -> None:
        heapq.heappush(self.timers, (at, next(self.timer_seq), kind, key, token))

    def agent(self, agent_id: str) -> Agent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise UnknownAgent(agent_id)
        return agent

    def remember_dead(self, uuid: str) -> None:
        self.dead[uuid] = None
        while len(self.dead) > DEAD_LEGS_KEPT:
            self.dead.popitem(last=False)


__all__ = ["DEAD_LEGS_KEPT", "EngineState", "Timer"]
