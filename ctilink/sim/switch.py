"""The simulated switch: drives an engine with a discrete-event model of FreeSWITCH.

Rules:
- The engine is driven exactly as the live edge drives it: typed events in (``engine.handle(event,
  now)``), commands out, ``engine.tick(now)`` when its ``next_deadline()`` is due. The sim never
  reaches into the engine's state; it learns about agents and calls only from notifications.
- Commands pass through the real renderer (:func:`ctilink.esl.render.render`) before the switch
  acts on them: a command the live edge would refuse as unsafe is refused here too, recorded in
  :attr:`SimulatedSwitch.errors`, and never executed.
- Virtual time only. Everything is a pure function of the engine, the models and ``seed``: the same
  seed gives the same event and notification sequence. Each source of randomness has its own
  seeded stream, so adding an agent does not change when callers arrive.
- The loop is separable for a real-time driver: :meth:`next_time` says when something is next due
  and :meth:`process_due` runs everything due at or before ``now`` (each action at its own
  scheduled time). :meth:`run_until` is those two in a loop.

Theory of operation: a :class:`~ctilink.sim.scheduler.Scheduler` holds every timed action (caller
arrivals, rings, patience, talk, agents' clicks, commands in flight). The engine's own deadline is
merged in at each step. Fabric events go first to the behaviour models (:class:`Parties`,
:class:`AgentPeople`), then to the engine; the engine's commands go back to the fabric after the
switch's command latency; its notifications go to :attr:`notifications`, the hooks and
:class:`SimStats`. This module owns the wiring and the loop; models, channels and statistics live
in their own modules.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from ctilink.commands import Command, Originate, UnsafeValueError
from ctilink.core.notifications import InputRejected
from ctilink.esl.render import render
from ctilink.events import Event
from ctilink.sim.agents import AgentPeople
from ctilink.sim.fabric import CommandError, SwitchFabric
from ctilink.sim.models import AgentBehaviour, CallerBehaviour, LegOutcome, OutboundAnswer, Route, SwitchTiming
from ctilink.sim.parties import Parties
from ctilink.sim.scheduler import Scheduler
from ctilink.sim.stats import SimStats


class EffectsLike(Protocol):
    commands: list[Any]
    notifications: list[Any]


class EngineLike(Protocol):
    """What the sim needs from :class:`ctilink.core.Engine`."""

    def handle(self, item: Any, now: float) -> Any: ...

    def tick(self, now: float) -> Any: ...

    def next_deadline(self) -> float | None: ...


class SimulationError(RuntimeError):
    """The simulation cannot go on (the engine keeps asking for a tick in the past, say)."""


@dataclass(frozen=True, slots=True)
class CallerStream:
    """A Poisson stream of inbound calls to one queue (``rate_per_s`` calls per second)."""

    queue: str
    rate_per_s: float
    behaviour: CallerBehaviour
    destination: str
    start: float
    stop: float


class SimulatedSwitch:
    """One simulated FreeSWITCH node wired to an engine. See the module docstring."""

    def __init__(
        self,
        engine: EngineLike,
        *,
        seed: int = 0,
        node: str = "sim-1",
        start: float = 0.0,
        timing: SwitchTiming = SwitchTiming(),
        default_agent: AgentBehaviour = AgentBehaviour(),
        outbound: OutboundAnswer = OutboundAnswer(),
        keep_notifications: bool = True,
        keep_commands: bool = True,
        keep_events: bool = False,
        validate_commands: bool = True,
        service_level_s: float = 20.0,
    ) -> None:
        self.engine = engine
        self.seed = seed
        self.scheduler = Scheduler(start)
        self.start = start
        self._rngs: dict[str, random.Random] = {}
        self.fabric = SwitchFabric(self.scheduler, self._decide, node=node, rng=self.rng("uuids"), timing=timing)
        self.parties = Parties(self.scheduler, self.fabric, self.rng("parties"))
        self.agents = AgentPeople(
            self.scheduler, self.request, self.rng("agents"), default=default_agent, phone_hold=self._phone_hold
        )
        self.outbound = outbound
        self.stats = SimStats(service_level_s=service_level_s)
        self.notifications: list[Any] = []
        self.commands_seen: list[Command] = []
        self.events_seen: list[Event] = []
        self.rejected_requests: list[tuple[float, Any, Exception]] = []  # (when, request, typed error)
        self.on_notification: list[Callable[[Any], None]] = []
        self.on_event: list[Callable[[Event], None]] = []
        self.on_command: list[Callable[[Command], None]] = []
        self.events_sent = 0
        self.keep_notifications = keep_notifications
        self.keep_commands = keep_commands
        self.keep_events = keep_events
        self.validate_commands = validate_commands
        self.render_errors: list[CommandError] = []
        self._numbers = itertools.count(1)
        self._streams: list[CallerStream] = []
        self._destinations: dict[str, str] = {}

    # -- seeded randomness ----------------------------------------------------------------------

    def rng(self, purpose: str) -> random.Random:
        """The seeded random stream for one purpose (string seeds hash deterministically)."""
        r = self._rngs.get(purpose)
        if r is None:
            r = self._rngs[purpose] = random.Random(f"ctilink-sim:{self.seed}:{purpose}")
        return r

    @property
    def now(self) -> float:
        return self.scheduler.now

    @property
    def errors(self) -> list[CommandError]:
        """Commands the switch refused (``-ERR``) or the renderer found unsafe."""
        return self.render_errors + self.fabric.errors

    # -- population -----------------------------------------------------------------------------

    def route(self, destination: str, route: Route) -> None:
        """Add a dialplan extension (what an inbound call to ``destination`` does)."""
        self.fabric.dialplan[destination] = route

    def queue_destination(self, queue: str) -> str:
        """The extension that sends callers to ``queue`` (created on first use: the queue's own name)."""
        dest = self._destinations.get(queue)
        if dest is None:
            dest = self._destinations[queue] = queue
            self.fabric.dialplan.setdefault(dest, Route({"ctilink_queue": queue}))
        return dest

    def add_agents(
        self,
        agent_ids: Iterable[str],
        behaviour: AgentBehaviour | None = None,
        *,
        login_at: float | None = None,
        ready: bool = True,
        register: str | None = None,
    ) -> None:
        """Agents (configured in the engine) who log in at ``login_at`` (default now) and go ready.

        ``register``: a SIP realm; each agent's phone registers as ``<agent_id>@<realm>`` first.
        """
        at = self.now if login_at is None else login_at
        for agent_id in agent_ids:
            if register is not None:
                self.scheduler.at(at, self._register, agent_id, register)
            self.agents.add(agent_id, behaviour, login_at=at, ready=ready)

    def _register(self, user: str, realm: str) -> None:
        self.fabric.register(user, realm)
        self._drain()

    def register(self, user: str, realm: str) -> None:
        """A phone registers now (sofia::register)."""
        self._register(user, realm)

    def unregister(self, user: str, realm: str) -> None:
        """A phone unregisters now (sofia::unregister)."""
        self.fabric.unregister(user, realm)
        self._drain()

    def add_caller_stream(
        self,
        queue: str,
        rate_per_s: float,
        behaviour: CallerBehaviour = CallerBehaviour(),
        *,
        start: float | None = None,
        stop: float = math.inf,
        destination: str | None = None,
    ) -> CallerStream:
        """Poisson arrivals at ``rate_per_s`` to ``queue`` from ``start`` (default now) until ``stop``."""
        if not (isinstance(rate_per_s, (int, float)) and rate_per_s > 0 and math.isfinite(rate_per_s)):
            raise ValueError(f"rate_per_s: expected a finite rate > 0, got {rate_per_s!r}")
        dest = destination or self.queue_destination(queue)
        if behaviour.answer_before_park:
            route = self.fabric.dialplan.get(dest, Route({"ctilink_queue": queue}))
            self.fabric.dialplan[dest] = Route(route.variables, answer=True)
        stream = CallerStream(queue, float(rate_per_s), behaviour, dest, self.now if start is None else start, stop)
        self._streams.append(stream)
        rng = self.rng(f"arrivals:{len(self._streams)}:{queue}")
        self.scheduler.at(stream.start + rng.expovariate(stream.rate_per_s), self._arrival, stream, rng)
        return stream

    def _arrival(self, stream: CallerStream, rng: random.Random) -> None:
        if self.now >= stream.stop:
            return
        self._new_caller(stream.destination, stream.behaviour, None, None)
        self.scheduler.after(rng.expovariate(stream.rate_per_s), self._arrival, stream, rng)

    def inbound_call(
        self,
        queue: str | None = None,
        *,
        destination: str | None = None,
        caller_number: str | None = None,
        caller_name: str | None = None,
        behaviour: CallerBehaviour = CallerBehaviour(),
        at: float | None = None,
    ) -> str:
        """One inbound call to ``queue`` (or ``destination``) now or ``at``; returns its uuid."""
        if (queue is None) == (destination is None):
            raise ValueError("inbound_call: give exactly one of queue or destination")
        dest = destination if destination is not None else self.queue_destination(queue or "")
        uuid = self.fabric.new_uuid()
        self.scheduler.at(
            self.now if at is None else at, self._new_caller, dest, behaviour, caller_number, caller_name, uuid
        )
        return uuid

    def _new_caller(
        self,
        destination: str,
        behaviour: CallerBehaviour,
        number: str | None,
        name: str | None,
        uuid: str | None = None,
    ) -> None:
        n = next(self._numbers)
        ch = self.fabric.inbound_call(
            number or f"1555124{n % 10_000:04d}", destination, caller_name=name or f"Sim Caller {n}", uuid=uuid
        )
        self.parties.attach(ch.uuid, behaviour)
        self._drain()

    def _phone_hold(self, uuid: str, on: bool) -> None:
        self.fabric.phone_hold(uuid, on)
        self._drain()

    def hangup(self, uuid: str, cause: str | None = None) -> bool:
        """The far end of ``uuid`` hangs up now (a test's hand on the phone)."""
        done = self.fabric.remote_hangup(uuid, cause)
        self._drain()
        return done

    def request(self, item: Any, at: float | None = None) -> None:
        """Send a request (login, ready, transfer, ...) to the engine now or at ``at``."""
        if at is None or at <= self.now:
            self._send_request(item)
        else:
            self.scheduler.at(at, self._send_request, item)

    def _send_request(self, item: Any) -> None:
        effects = self.engine.handle(item, self.now)
        # A person clicking at a bad moment (ready while on a call) is normal traffic: the engine
        # refuses with a typed error and the sim carries on, keeping the refusal.
        for note in effects.notifications:
            if type(note) is InputRejected:
                self.rejected_requests.append((self.now, item, note.error))
        self._apply(effects)
        self._drain()

    # -- the originate decision ------------------------------------------------------------------

    def _decide(self, cmd: Originate) -> tuple[LegOutcome, float]:
        role = cmd.variables.get("ctilink_role")
        if role == "agent":
            auto = cmd.variables.get("sip_auto_answer") == "true"  # mod_sofia: Call-Info answer-after=0
            return self.agents.decide(cmd.variables.get("ctilink_agent_id", ""), auto_answer=auto)
        rng = self.rng("outbound")
        draw = rng.random()
        model = self.outbound
        p_answer = model.answer_rate(self.now - self.start) if model.answer_schedule else model.p_answer
        if draw < model.p_busy:
            return "busy", 0.0
        if draw < model.p_busy + p_answer:
            if model.machine_ring_delay is None:  # (draws in this order: seeded runs stay as they were)
                delay = model.ring_delay.sample(rng)
                machine = model.p_machine > 0 and rng.random() < model.p_machine
            else:
                machine = model.p_machine > 0 and rng.random() < model.p_machine
                delay = (model.machine_ring_delay if machine else model.ring_delay).sample(rng)
            self.parties.attach(cmd.uuid, (machine and model.machine_behaviour) or model.behaviour)
            verdict = None
            if any(a in cmd.variables.get("execute_on_answer", "") for a in ("amd", "avmd")):
                answer_at = self.now + self.fabric.timing.progress + delay
                verdict_at = answer_at + model.amd_delay.sample(rng)
                verdict = self._amd_says(machine, rng)
                self.scheduler.at(verdict_at, self._amd_verdict, cmd.uuid, verdict)
            if machine and verdict != "machine":  # a machine an agent may be connected to
                self.agents.machine_legs.add(cmd.uuid)
            return "answer", delay
        if draw < model.p_busy + p_answer + model.p_failed:
            return "unreachable", 0.0
        return "no_answer", 0.0

    def _amd_says(self, machine: bool, rng: random.Random) -> str:
        model = self.outbound
        wrong = model.amd_miss if machine else model.amd_false_positive
        if wrong > 0 and rng.random() < wrong:
            machine = not machine
        return "machine" if machine else "human"

    def _amd_verdict(self, uuid: str, result: str) -> None:
        self.fabric.machine_detected(uuid, result)
        self._drain()

    # -- the loop --------------------------------------------------------------------------------

    def next_time(self) -> float | None:
        """When the next action (switch, people or engine timer) is due; ``None`` if nothing is."""
        t = self.scheduler.next_time()
        d = self.engine.next_deadline()
        if d is None:
            return t
        d = max(d, self.scheduler.now)
        return d if t is None or d < t else t

    def process_due(self, now: float) -> int:
        """Run every action due at or before ``now``, each at its own time; then the clock is ``now``."""
        done = 0
        sched = self.scheduler
        engine = self.engine
        stuck = 0
        while True:
            t = sched.next_time()
            d = engine.next_deadline()
            if d is not None and d <= now and (t is None or d <= t):
                sched.advance_to(d)
                effects = engine.tick(sched.now)
                if engine.next_deadline() == d and not effects.commands and not effects.notifications:
                    stuck += 1
                    if stuck > 3:
                        raise SimulationError(f"engine deadline {d} did not move after tick({sched.now})")
                self._apply(effects)
            elif t is not None and t <= now:
                # ``t`` is the live action on top (next_time just dropped cancelled ones): run it.
                timer = sched.pop_next()
                timer.fn(*timer.args)
                stuck = 0
            else:
                break
            self._drain()
            done += 1
        sched.advance_to(now)
        return done

    def step(self) -> bool:
        """Run the next instant that has anything due. False when nothing is left to do."""
        t = self.next_time()
        if t is None:
            return False
        self.process_due(t)
        return True

    def run_until(self, t: float) -> None:
        """Run virtual time forward to ``t``."""
        self.process_due(t)

    def run_for(self, seconds: float) -> None:
        """Run virtual time forward by ``seconds``."""
        self.process_due(self.now + seconds)

    # -- plumbing --------------------------------------------------------------------------------

    def _drain(self) -> None:
        outbox = self.fabric.outbox
        if not outbox:
            return
        popleft = outbox.popleft
        engine = self.engine
        sched = self.scheduler
        parties = self.parties.observe
        agents = self.agents.observe_event
        apply = self._apply
        while outbox:
            event = popleft()
            parties(event)
            agents(event)
            if self.keep_events:
                self.events_seen.append(event)
            if self.on_event:
                for hook in self.on_event:
                    hook(event)
            self.events_sent += 1
            apply(engine.handle(event, sched.now))

    def _apply(self, effects: EffectsLike) -> None:
        commands = effects.commands
        if commands:
            fabric = self.fabric
            for cmd in commands:
                if self.keep_commands:
                    self.commands_seen.append(cmd)
                if self.on_command:
                    for hook in self.on_command:
                        hook(cmd)
                if self.validate_commands:
                    try:
                        render(cmd)
                    except (UnsafeValueError, TypeError) as exc:
                        self.render_errors.append(CommandError(self.now, cmd, f"unsafe: {exc}"))
                        continue
                fabric.submit(cmd)
        notifications = effects.notifications
        if notifications:
            sched = self.scheduler
            observe = self.stats.observe
            agents = self.agents.observe_notification
            for note in notifications:
                if self.keep_notifications:
                    self.notifications.append(note)
                observe(note, sched.now)
                agents(note)
                if self.on_notification:
                    for hook in self.on_notification:
                        hook(note)


__all__ = ["CallerStream", "EngineLike", "SimulatedSwitch", "SimulationError"]
