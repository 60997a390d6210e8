"""The engine's invariants under random traffic: a hypothesis state machine drives the real engine
through the simulated switch (logins, logouts, pauses, calls, answers, abandons, agent hangups,
transfers, supervisor hangups, time) and checks after every step and every notification:

- no agent is on more calls than its maximum (engine view and live legs at the switch);
- no call is offered to two agents at once, except by a ring-all queue;
- every call ends exactly once, and arrived = ended + live + awaiting its record;
- no agent who is not available is offered a call (the state it left for RESERVED, and the state
  it is in at the offer);
- every agent is in exactly one state: the chain of AgentStateChanged is unbroken, each change is in
  the transition table, and it agrees with the engine's snapshot;
- the engine's invariants (``check_invariants``) holds and every command would render for the live edge.
"""

from __future__ import annotations

import math
import random
import uuid as uuidlib
from collections import Counter, defaultdict
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ctilink.commands import Command, UnsafeValueError
from ctilink.core import AgentProfile, AgentState, Engine, EngineConfig, OverflowAction, QueueConfig
from ctilink.core import notifications as nt
from ctilink.core import requests as rq
from ctilink.core.agent import TRANSITIONS
from ctilink.esl.render import render
from ctilink.sim import AgentBehaviour, CallerBehaviour, Fixed, SimulatedSwitch, Uniform
from ctilink.testing.invariants import check_invariants

AGENTS = {
    "a1": ({"support": 5}, 1),
    "a2": ({"support": 3, "sales": 4}, 1),
    "a3": ({"sales": 6}, 1),
    "a4": ({"support": 2, "sales": 2, "vip": 8}, 1),
    "a5": ({"support": 7, "vip": 3}, 2),  # a second line
}
QUEUES = [
    QueueConfig(name="support", required_skills={"support": 1}, ring_timeout_s=6, wrap_up_s=5),
    QueueConfig(name="sales", required_skills={"sales": 1}, strategy="ring-all", ring_timeout_s=8, wrap_up_s=3),
    QueueConfig(
        name="vip",
        required_skills={"vip": 5},
        strategy="fewest-calls",
        ring_timeout_s=5,
        wrap_up_s=0,
        max_wait_s=40,
        overflow=OverflowAction(kind="queue", target="support"),
    ),
]
RING_ALL = {"sales"}
ALLOWED = {old: set(events.values()) for old, events in TRANSITIONS.items()}
MULTI_LINE_FROM = {AgentState.AVAILABLE, AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP}


class EngineMachine(RuleBasedStateMachine):
    @initialize(
        seed=st.integers(0, 2**20),
        p_fail=st.sampled_from([0.0, 0.2, 0.5]),
        staffed=st.sets(st.sampled_from(sorted(AGENTS)), min_size=1),
    )
    def setup(self, seed: int, p_fail: float, staffed: set[str]) -> None:
        ids = random.Random(seed)
        self.engine = Engine(
            EngineConfig(
                queues=QUEUES,
                agents=[
                    AgentProfile(id=a, endpoints=[f"sofia/internal/{a}@127.0.0.1"], skills=sk, max_calls=m)
                    for a, (sk, m) in AGENTS.items()
                ],
                max_no_answer=2,
                busy_delay_s=3.0,
                reject_delay_s=3.0,
            ),
            rng=random.Random(seed),
            id_factory=lambda: str(uuidlib.UUID(int=ids.getrandbits(128), version=4)),
        )
        phone = AgentBehaviour(
            ring_delay=Uniform(0.5, 9.0), p_no_answer=p_fail / 2, p_busy=p_fail / 4, p_reject=p_fail / 4
        )
        # Every command the engine emits must render (the simulated switch refuses any that does not).
        self.sim = SimulatedSwitch(self.engine, seed=seed, default_agent=phone, validate_commands=True)
        self.sim.on_notification.append(self.on_note)
        self.sim.on_command.append(self.on_command)
        self.violations: list[str] = []
        self.state = {a: AgentState.LOGGED_OUT for a in AGENTS}
        self.outstanding: dict[str, set[str]] = defaultdict(set)
        self.queue_of_offer: dict[str, str] = {}
        self.arrived: set[str] = set()
        self.disconnected: set[str] = set()
        self.ended: Counter[str] = Counter()
        for agent in sorted(staffed):
            self.sim.request(rq.AgentLogin(agent))

    # -- incremental checks, in notification order -------------------------------------------------

    def on_command(self, cmd: Command) -> None:
        try:
            render(cmd)
        except UnsafeValueError as exc:
            self.violations.append(f"unrenderable command {cmd!r}: {exc}")

    def on_note(self, note: Any) -> None:
        kind = type(note)
        bad = self.violations.append
        if kind is nt.AgentStateChanged:
            a = note.agent_id
            if note.old is not self.state[a]:
                bad(f"{a}: change from {note.old} but it was {self.state[a]}")
            if note.new not in ALLOWED[note.old]:
                bad(f"{a}: {note.old} -> {note.new} is not in the transition table")
            if note.new is AgentState.RESERVED and note.old is not AgentState.AVAILABLE:
                if AGENTS[a][1] == 1 or note.old not in MULTI_LINE_FROM:
                    bad(f"{a}: reserved for a call from {note.old}")
            self.state[a] = note.new
        elif kind is nt.CallOffered:
            a, call = note.agent_id, note.call_id
            if self.state[a] not in (AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP):
                bad(f"{a} offered {call} while {self.state[a]}")
            if self.state[a] is not AgentState.RESERVED and AGENTS[a][1] == 1:
                bad(f"{a} (one line) offered {call} while {self.state[a]}")
            if self.outstanding[call] and note.queue not in RING_ALL:
                bad(f"{call} offered to {a} while ringing {sorted(self.outstanding[call])} in {note.queue}")
            if a in self.outstanding[call]:
                bad(f"{call} offered twice to {a}")
            self.outstanding[call].add(a)
        elif kind is nt.OfferResult:
            if note.agent_id not in self.outstanding[note.call_id]:
                bad(f"result for an offer never made: {note}")
            self.outstanding[note.call_id].discard(note.agent_id)
        elif kind is nt.CallArrived:
            if note.call_id in self.arrived:
                bad(f"{note.call_id} arrived twice")
            self.arrived.add(note.call_id)
        elif kind is nt.CallDisconnected:
            if note.call_id in self.disconnected:
                bad(f"{note.call_id} disconnected twice")
            self.disconnected.add(note.call_id)
            if self.outstanding[note.call_id]:
                pass  # offers still ringing are cancelled right after; their results follow
        elif kind is nt.CallEnded:
            rec = note.record
            self.ended[rec.call_id] += 1
            if self.ended[rec.call_id] > 1:
                bad(f"{rec.call_id} ended twice")
            if rec.call_id not in self.disconnected:
                bad(f"{rec.call_id} ended without a disconnect")
            if (rec.answered_at is not None) != any(o.answered_at is not None for o in rec.offers):
                bad(f"{rec.call_id}: answered_at disagrees with its offers")

    # -- rules ------------------------------------------------------------------------------------

    @rule(agent=st.sampled_from(sorted(AGENTS)), not_ready=st.booleans())
    def login(self, agent: str, not_ready: bool) -> None:
        self.sim.request(rq.AgentLogin(agent, not_ready_reason="break" if not_ready else None))

    @rule(agent=st.sampled_from(sorted(AGENTS)))
    def logout(self, agent: str) -> None:
        self.sim.request(rq.AgentLogout(agent))

    @rule(agent=st.sampled_from(sorted(AGENTS)))
    def ready(self, agent: str) -> None:
        self.sim.request(rq.AgentReady(agent))

    @rule(agent=st.sampled_from(sorted(AGENTS)), reason=st.sampled_from(["break", "lunch", "nap!"]))
    def not_ready(self, agent: str, reason: str) -> None:
        self.sim.request(rq.AgentNotReady(agent, reason))

    @rule(agent=st.sampled_from(sorted(AGENTS)))
    def end_wrap_up(self, agent: str) -> None:
        self.sim.request(rq.EndWrapUp(agent))

    @rule(
        queue=st.sampled_from(["support", "sales", "vip", "no-such-queue"]),
        patience=st.sampled_from([math.inf, 3.0, 12.0, 45.0]),
        talk=st.sampled_from([5.0, 20.0, 90.0]),
        caller_ends=st.booleans(),
    )
    def new_call(self, queue: str, patience: float, talk: float, caller_ends: bool) -> None:
        behaviour = CallerBehaviour(patience=Fixed(patience), talk=Fixed(talk), hangs_up_first=float(caller_ends))
        self.sim.inbound_call(queue, behaviour=behaviour)
        self.sim.run_for(0.1)

    def _legs(self, role: str) -> list[str]:
        chans = self.sim.fabric.channels.values()
        if role == "customer":
            return sorted(c.uuid for c in chans if c.direction == "inbound")
        return sorted(c.uuid for c in chans if c.ctl.get("ctilink_role") == "agent")

    @precondition(lambda self: bool(self._legs("customer")))
    @rule(data=st.data())
    def caller_hangs_up(self, data: st.DataObject) -> None:
        self.sim.hangup(data.draw(st.sampled_from(self._legs("customer"))))

    @precondition(lambda self: bool(self._legs("agent")))
    @rule(data=st.data())
    def agent_phone_hangs_up(self, data: st.DataObject) -> None:
        uuid = data.draw(st.sampled_from(self._legs("agent")))
        answered = self.sim.fabric.channels[uuid].answered
        self.sim.hangup(uuid, None if answered else "CALL_REJECTED")

    def _calls(self, connected: bool) -> list[str]:
        return sorted(c.call_id for c in self.engine.snapshot().calls if (c.agent_id is not None) == connected)

    @precondition(lambda self: bool(self._calls(True)))
    @rule(data=st.data(), queue=st.sampled_from(["support", "sales", "vip"]))
    def transfer(self, data: st.DataObject, queue: str) -> None:
        self.sim.request(rq.TransferCall(data.draw(st.sampled_from(self._calls(True))), queue=queue))

    @precondition(lambda self: bool(self._calls(False)))
    @rule(data=st.data())
    def supervisor_hangs_up(self, data: st.DataObject) -> None:
        self.sim.request(rq.HangupCall(data.draw(st.sampled_from(self._calls(False)))))

    @rule(seconds=st.sampled_from([0.05, 0.5, 2.0, 7.0, 30.0, 120.0]))
    def advance(self, seconds: float) -> None:
        self.sim.run_for(seconds)

    # -- invariants after every step --------------------------------------------------------------

    @invariant()
    def no_violations(self) -> None:
        assert self.violations == []
        assert check_invariants(self.engine) == []
        assert [e for e in self.sim.errors if not e.stale] == []

    @invariant()
    def agents_in_one_state_within_their_lines(self) -> None:
        snap = self.engine.snapshot()
        assert sorted(v.agent_id for v in snap.agents) == sorted(AGENTS)
        per_agent_legs = Counter(
            c.ctl["ctilink_agent_id"] for c in self.sim.fabric.channels.values() if c.ctl.get("ctilink_role") == "agent"
        )
        for view in snap.agents:
            limit = AGENTS[view.agent_id][1]
            assert view.state is self.state[view.agent_id], f"{view.agent_id}: notifications disagree with snapshot"
            assert len(set(view.calls)) <= limit, f"{view.agent_id} on {view.calls}"
            assert per_agent_legs[view.agent_id] <= limit, f"{view.agent_id}'s phone has too many legs"

    @invariant()
    def calls_are_conserved(self) -> None:
        live = {c.call_id for c in self.engine.snapshot().calls}
        ended = set(self.ended)
        awaiting_record = self.disconnected - ended
        assert not (live & ended) and not (live & self.disconnected)
        assert self.arrived == live | ended | awaiting_record
        assert len(self.arrived) == len(live) + len(ended) + len(awaiting_record)

    def teardown(self) -> None:
        if not hasattr(self, "sim"):
            return
        for agent in AGENTS:
            self.sim.request(rq.AgentLogout(agent))
        for uuid in self._legs("customer"):
            self.sim.hangup(uuid)
        self.sim.run_for(600.0)
        assert self.violations == []
        assert self.sim.fabric.channels == {}
        assert set(self.ended) == self.arrived and set(self.ended.values()) <= {1}
        assert all(not offers for offers in self.outstanding.values()), "an offer never got its result"


EngineMachine.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestEngineInvariants = EngineMachine.TestCase
