"""Sticky-agent routing: remember who served a caller, offer their next call to that agent first,
wait for them while they are busy (without blocking anyone else), fall back when they cannot come."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from core_switch import Switch, agent, make_switch

from ctilink.core import QueueConfig
from ctilink.core import notifications as nt
from ctilink.core import requests as rq
from ctilink.core.agent import AgentState
from ctilink.core.config import StickyConfig
from ctilink.core.errors import UnknownAgent
from ctilink.core.sticky import StickyMemory, decide
from ctilink.events import ChannelParked

REPEAT = "15551230001"
E164 = "+15551230001"
DAY = 86400.0


def build(sticky: StickyConfig | None = StickyConfig(enabled=True), **config: object) -> Switch:
    """Queues support and sales (both served by 1001, 1002; 1003 serves sales only), wrap-up 5 s.
    ``sticky=None``: the default configuration (sticky routing off)."""
    sw = make_switch(
        agents=[
            agent("1001", {"support": 1, "sales": 1}),
            agent("1002", {"support": 1, "sales": 1}),
            agent("1003", {"sales": 1}),
        ],
        queues=[
            QueueConfig(name="support", required_skills={"support": 1}, wrap_up_s=5),
            QueueConfig(name="sales", required_skills={"sales": 1}, wrap_up_s=5),
        ],
        sticky=sticky or StickyConfig(),
        **config,
    )
    return sw


def served(
    sw: Switch,
    uuid: str,
    agent_id: str,
    caller: str = REPEAT,
    queue: str = "support",
    talk: float = 30.0,
    exclusive: bool = True,
) -> str:
    """A whole call from ``caller`` answered by ``agent_id``, wrap-up done. ``exclusive``: the other
    available agents pause for it (and are ready again, so ``agent_id`` is now the most recently
    idle); otherwise ``agent_id`` must be the one the engine offers it to."""
    others = [a for a in ("1001", "1002", "1003") if exclusive and a != agent_id and known(sw, a) == "available"]
    for other in others:
        sw.request(rq.AgentNotReady(other, "break"))
    sw.park(uuid, queue=queue, caller=caller)
    call_id = sw.call_id(uuid)
    leg = sw.leg_of(agent_id)
    sw.answer(leg)
    sw.hangup(uuid, at=sw.now + talk)
    sw.hangup(leg)
    for other in others:
        sw.request(rq.AgentReady(other))
    sw.advance(sw.now + 5.0)
    return call_id


def occupy(sw: Switch, agent_id: str, uuid: str = "busy") -> str:
    """Put ``agent_id`` on a call with someone else (the others pause for it); returns the agent leg."""
    others = [a for a in ("1001", "1002", "1003") if a != agent_id and known(sw, a) == "available"]
    for other in others:
        sw.request(rq.AgentNotReady(other, "break"))
    sw.park(uuid, caller="15551239000")
    leg = sw.leg_of(agent_id)
    sw.answer(leg)
    for other in others:
        sw.request(rq.AgentReady(other))
    return leg


def known(sw: Switch, agent_id: str) -> str | None:
    try:
        return sw.state(agent_id)
    except Exception:
        return None


def routed(sw: Switch, call_id: str | None = None) -> list[tuple[str, str]]:
    return [(n.agent_id, n.outcome) for n in sw.of(nt.StickyRouted) if call_id is None or n.call_id == call_id]


def offered_to(sw: Switch, call_id: str) -> list[str]:
    return [n.agent_id for n in sw.of(nt.CallOffered) if n.call_id == call_id]


def test_a_call_that_talked_to_an_agent_is_remembered() -> None:
    sw = build()
    sw.login("1001")
    served(sw, "c1", "1001")
    [memo] = sw.of(nt.StickyRemembered)
    assert (memo.number, memo.queue, memo.agent_id, memo.at, memo.expires_at) == (
        E164,
        "support",
        "1001",
        30.0,
        30.0 + 30 * DAY,
    )
    assert sw.engine.sticky_agent("(555) 123-0001", "support", 31.0) == "1001"
    assert sw.engine.sticky_agent(REPEAT, "sales", 31.0) is None


def test_unanswered_and_anonymous_calls_are_not_remembered() -> None:
    sw = build()
    sw.park("abandon", caller=REPEAT)  # nobody logged in: the caller gives up
    sw.hangup("abandon", at=10.0)
    sw.login("1001")
    served(sw, "anon", "1001", caller="anonymous")
    served(sw, "ext", "1001", caller="1001")  # an internal extension is not a customer number
    assert sw.of(nt.StickyRemembered) == []


def test_disabled_sticky_remembers_nothing_and_routes_by_strategy() -> None:
    sw = build(sticky=None)
    sw.login("1001", "1002")
    served(sw, "c1", "1001")
    served(sw, "c2", "1002")  # longest idle
    assert sw.of(nt.StickyRemembered) == [] and sw.of(nt.StickyRouted) == []


def test_hit_offers_the_repeat_caller_to_the_remembered_agent() -> None:
    sw = build()
    sw.login("1001", "1002")
    served(sw, "c1", "1001")
    sw.advance(100.0)
    # 1002 has been idle longest, but the caller's agent is 1001.
    call_id = served(sw, "c2", "1001", exclusive=False)
    assert routed(sw, call_id) == [("1001", "hit")]
    record = sw.record(call_id).record
    assert (record.sticky_agent, record.sticky_outcome) == ("1001", "hit")
    # Another caller still goes by the strategy.
    other = served(sw, "c3", "1002", caller="15551230009", exclusive=False)
    assert routed(sw, other) == []


def test_wait_holds_the_call_for_the_busy_agent_without_blocking_others() -> None:
    sw = build()
    sw.login("1001", "1002")
    served(sw, "c1", "1001")
    busy_leg = occupy(sw, "1001")
    effects = sw.park("c2", caller=REPEAT, at=50.0)
    held = sw.call_id("c2")
    assert routed(sw, held) == [("1001", "wait")]
    assert sw.offers(effects) == [], "1002 is free but the call waits for 1001"
    queued = sw.of(nt.CallQueued, effects.notifications)
    assert [(q.call_id, q.position) for q in queued] == [(held, 1)]
    view = sw.engine.snapshot().queue("support")
    assert [(w.call_id, w.position, w.held_for) for w in view.waiting] == [(held, 1, "1001")]
    assert view.available_agents == 1
    # A caller behind it is not blocked: 1002 takes them at once, and they are second in line.
    effects = sw.park("c3", caller="15551230007", at=55.0)
    behind = sw.call_id("c3")
    assert sw.leg_of("1002", effects) and offered_to(sw, behind) == ["1002"]
    # 1001 frees up within the wait: the held call is theirs.
    sw.hangup("busy", at=60.0)
    sw.hangup(busy_leg)
    sw.advance(65.0)  # wrap-up ends at 65
    assert offered_to(sw, held) == ["1001"] and routed(sw, held) == [("1001", "wait"), ("1001", "hit")]
    assert sw.engine.call_view(held).wait_s == 15.0


def test_wait_runs_out_then_the_call_routes_normally_from_its_place() -> None:
    sw = build(sticky=StickyConfig(enabled=True, wait_s=20))
    sw.login("1001", "1002")
    served(sw, "c1", "1001")
    occupy(sw, "1001")
    sw.request(rq.AgentNotReady("1002", "break"))
    sw.park("c2", caller=REPEAT, at=50.0)
    held = sw.call_id("c2")
    sw.park("c4", caller="15551230004", at=52.0)  # nobody for it: waits behind the held call
    assert [w.call_id for w in sw.engine.snapshot().queue("support").waiting] == [held, sw.call_id("c4")]
    sw.request(rq.AgentReady("1002"))
    later = sw.call_id("c4")
    assert offered_to(sw, later) == ["1002"], "the free agent takes the next call, not the held one"
    sw.answer(sw.leg_of("1002"))
    sw.advance(69.9)
    assert routed(sw, held) == [("1001", "wait")]
    sw.advance(70.0)
    assert routed(sw, held) == [("1001", "wait"), ("1001", "fallback")]
    assert sw.engine.snapshot().queue("support").waiting[0].held_for is None
    sw.hangup("c4", at=75.0)
    sw.hangup(sw.leg_of("1002"))
    sw.advance(79.9)
    assert offered_to(sw, held) == []
    sw.advance(80.0)  # 1002's wrap-up is over: the first free agent takes the call normally
    assert offered_to(sw, held) == ["1002"]


def test_zero_wait_falls_back_at_once_when_busy() -> None:
    sw = build(sticky=StickyConfig(enabled=True, wait_s=0))
    sw.login("1001", "1002")
    served(sw, "c1", "1001")
    occupy(sw, "1001")
    effects = sw.park("c2", caller=REPEAT)
    call_id = sw.call_id("c2")
    assert routed(sw, call_id) == [("1001", "fallback")] and sw.leg_of("1002", effects)


@pytest.mark.parametrize("absent", ["logout", "not-ready", "unqualified"])
def test_logged_out_not_ready_or_unqualified_agent_falls_back_at_once(absent: str) -> None:
    sw = build(sticky=StickyConfig(enabled=True, scope="global"))
    sw.login("1001", "1002", "1003")
    served(sw, "c1", "1003", queue="sales")
    queue = "support"
    if absent == "logout":
        sw.request(rq.AgentLogout("1003"))
        queue = "sales"
    elif absent == "not-ready":
        sw.request(rq.AgentNotReady("1003", "lunch"))
        queue = "sales"
    effects = sw.park("c2", queue=queue, caller=REPEAT)
    call_id = sw.call_id("c2")
    assert routed(sw, call_id) == [("1003", "fallback")]
    assert sw.offers(effects), "routed normally at once"


def test_agent_leaving_while_a_call_waits_releases_it_at_once() -> None:
    sw = build()
    sw.login("1001", "1002")
    served(sw, "c1", "1001")
    occupy(sw, "1001")
    sw.request(rq.AgentNotReady("1002", "break"))
    sw.park("c2", caller=REPEAT, at=40.0)
    held = sw.call_id("c2")
    sw.request(rq.AgentReady("1002"))
    assert offered_to(sw, held) == [], "still waiting for 1001"
    sw.send(rq.AgentNotReady("1001", "lunch"), at=45.0)  # pending while on the call: 1001 will not come back
    assert routed(sw, held) == [("1001", "wait"), ("1001", "fallback")]
    assert offered_to(sw, held) == ["1002"]


def test_caller_hanging_up_while_held_leaves_nothing_behind() -> None:
    sw = build()
    sw.login("1001")
    served(sw, "c1", "1001")
    sw.park("busy", caller="15551239000")
    sw.park("c2", caller=REPEAT)
    held = sw.call_id("c2")
    sw.hangup("c2", at=sw.now + 4.0)
    assert sw.record(held).record.disposition.value == "abandoned"
    assert routed(sw, held) == [("1001", "wait")]
    assert sw.engine.snapshot().queue("support").waiting == ()


def test_max_wait_overflow_while_held_ends_the_wait() -> None:
    from ctilink.core import OverflowAction

    sw = make_switch(
        agents=[agent("1001")],
        queues=[
            QueueConfig(
                name="support", wrap_up_s=5, max_wait_s=10, overflow=OverflowAction(kind="extension", target="vm")
            )
        ],
        sticky=StickyConfig(enabled=True),
    )
    sw.login("1001")
    served(sw, "c1", "1001")
    occupy(sw, "1001")
    sw.park("c2", caller=REPEAT)
    held = sw.call_id("c2")
    sw.advance(sw.now + 10.0)
    assert routed(sw, held) == [("1001", "wait"), ("1001", "fallback")]
    assert sw.record(held).record.disposition.value == "overflowed"


def test_ttl_expiry_reports_expired_and_routes_normally() -> None:
    sw = build(sticky=StickyConfig(enabled=True, ttl_s=1000))
    sw.login("1001", "1002")
    served(sw, "c1", "1001")
    sw.advance(2000.0)
    call_id = served(sw, "c2", "1002", exclusive=False)  # longest idle; the memory had lapsed
    assert routed(sw, call_id) == [("1001", "expired")]
    assert sw.record(call_id).record.sticky_outcome == "expired"
    # The new call made a new memory (with 1002).
    assert sw.engine.sticky_agent(REPEAT, "support", sw.now) == "1002"


def test_per_queue_memory_does_not_cross_queues_but_global_does() -> None:
    for scope, expected in (("queue", []), ("global", [("1001", "hit")])):
        sw = build(sticky=StickyConfig(enabled=True, scope=scope))
        sw.login("1001", "1002")
        served(sw, "c1", "1001")
        sw.advance(100.0)
        sw.park("c2", queue="sales", caller=REPEAT)
        call_id = sw.call_id("c2")
        assert routed(sw, call_id) == expected, scope
        assert offered_to(sw, call_id) == (["1001"] if scope == "global" else ["1002"])
        assert sw.of(nt.StickyRemembered)[0].queue == ("support" if scope == "queue" else None)


def test_newest_agent_replaces_the_memory() -> None:
    sw = build()
    sw.login("1001", "1002")
    served(sw, "c1", "1001")
    sw.request(rq.AgentNotReady("1001", "break"))
    c2 = served(sw, "c2", "1002")
    assert routed(sw, c2) == [("1001", "fallback")]
    sw.request(rq.AgentReady("1001"))
    sw.request(rq.AgentNotReady("1002", "break"))
    sw.request(
        rq.AgentReady("1002"),
    )  # 1001 is now the longest idle: the strategy's pick
    sw.advance(sw.now + 100)
    call_id = served(sw, "c3", "1002", exclusive=False)
    assert routed(sw, call_id) == [("1002", "hit")]


def test_sticky_agent_missing_the_offer_lets_the_call_route_normally() -> None:
    sw = build()
    sw.login("1001", "1002")
    served(sw, "c1", "1001")
    sw.advance(100.0)
    sw.park("c2", caller=REPEAT)
    call_id = sw.call_id("c2")
    sw.fail_leg(sw.leg_of("1001"), "USER_BUSY", 486)
    assert offered_to(sw, call_id) == ["1001", "1002"]


def test_preferred_agent_variable_is_the_callback_hook() -> None:
    sw = build(sticky=None)
    sw.login("1001", "1002")
    sw.send(
        ChannelParked(
            uuid="cb",
            caller_number=REPEAT,
            destination_number="7000",
            variables={"ctilink_queue": "support", "ctilink_preferred_agent": "1002"},
        )
    )
    call_id = sw.call_id("cb")
    assert offered_to(sw, call_id) == ["1002"]
    assert [(n.outcome, n.source) for n in sw.of(nt.StickyRouted)] == [("hit", "preferred")]
    effects = sw.send(
        ChannelParked(
            uuid="cb2",
            caller_number=REPEAT,
            destination_number="7000",
            variables={"ctilink_queue": "support", "ctilink_preferred_agent": "ghost'\n"},
        )
    )
    assert isinstance(effects.error, UnknownAgent)
    assert offered_to(sw, sw.call_id("cb2")) == ["1001"]


def test_escalation_while_held_keeps_the_hold() -> None:
    from ctilink.core import EscalationStep

    sw = make_switch(
        agents=[agent("1001", {"a": 2}), agent("1002", {"a": 1})],
        queues=[
            QueueConfig(
                name="support",
                required_skills={"a": 2},
                wrap_up_s=5,
                escalation=[EscalationStep(after_s=5, relax_skills={"a": 1})],
            )
        ],
        sticky=StickyConfig(enabled=True, wait_s=30),
    )
    sw.login("1001", "1002")
    served(sw, "c1", "1001")
    occupy(sw, "1001")
    sw.park("c2", caller=REPEAT, at=sw.now + 1)
    held = sw.call_id("c2")
    sw.advance(sw.now + 10.0)  # escalated to step 1, where 1002 qualifies: still held for 1001
    assert [n.call_id for n in sw.of(nt.CallEscalated)] == [held] and offered_to(sw, held) == []
    assert sw.engine.snapshot().queue("support").waiting[0].step == 1
    sw.hangup("busy", at=sw.now + 1)
    sw.hangup(sw.leg_of("1001"))
    sw.advance(sw.now + 5.0)
    assert offered_to(sw, held) == ["1001"]


def test_load_sticky_and_refused_rows() -> None:
    @dataclass
    class Row:
        number: str
        queue: str | None
        agent_id: str
        updated_at: float
        expires_at: float

    sw = build()
    sw.login("1001", "1002")
    refused = sw.engine.load_sticky(
        [
            Row(E164, "support", "1002", 0.0, 1000.0),
            Row("5551230001", "support", "1001", 0.0, 1000.0),
            Row(E164, "support", "bad id!", 0.0, 1000.0),
            Row(E164, None, "1001", 0.0, 1000.0),  # a global row while the scope is per queue: ignored
        ]
    )
    assert [type(e).__name__ for _, e in refused] == ["InvalidNumber", "InvalidValue"]
    call_id = served(sw, "c1", "1002", exclusive=False)  # 1001 would be the strategy's pick (tie, first)
    assert routed(sw, call_id) == [("1002", "hit")]


def test_decide_rule_table() -> None:
    def d(state: AgentState | None, **kw: object) -> str:
        facts: dict = {"offerable": False, "qualified": True, "reachable": True, "leaving": False, "wait_s": 30.0}
        facts.update(kw)
        return decide(state, **facts)

    assert d(AgentState.AVAILABLE, offerable=True) == "hit"
    for busy in (AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP, AgentState.AVAILABLE):
        assert d(busy) == "wait"
        assert d(busy, wait_s=0) == "fallback"
        assert d(busy, leaving=True) == "fallback"
    assert d(None) == d(AgentState.LOGGED_OUT) == d(AgentState.NOT_READY) == "fallback"
    assert d(AgentState.AVAILABLE, offerable=True, qualified=False) == "fallback"
    assert d(AgentState.AVAILABLE, offerable=True, reachable=False) == "fallback"


def test_memory_purges_long_expired_entries() -> None:
    memory = StickyMemory(StickyConfig(enabled=True, ttl_s=10, forget_after_expiry_s=5))
    for n in range(100):
        memory.remember(f"+1555123{n:04d}", "q", "a1", n / 10)
    assert len(memory) == 100
    assert memory.purge(20.0) == 51  # remembered at 0.0..5.0: expired at 10..15, forgotten by 20
    assert len(memory) == 49
    memo = memory.peek("+15551230060", "q", 15.0)
    assert memo is not None and memory.peek("+15551230060", "q", 16.0) is None
    assert memory.recall("+15551230060", "q", 20.0) == (memo, True)
    assert memory.recall("+15551230060", "q", 20.0) == (None, False), "an expired memory is reported once"


def test_agent_losing_the_skill_while_a_call_waits_releases_it() -> None:
    sw = build()
    sw.login("1001", "1002")
    served(sw, "c1", "1001")
    occupy(sw, "1001")
    sw.request(rq.AgentNotReady("1002", "break"))
    sw.park("c2", caller=REPEAT)
    held = sw.call_id("c2")
    sw.request(rq.AgentReady("1002"))
    assert offered_to(sw, held) == []
    sw.request(rq.UpsertAgent(agent("1001", {"sales": 1})))  # no longer serves support
    assert routed(sw, held) == [("1001", "wait"), ("1001", "fallback")]
    assert offered_to(sw, held) == ["1002"]


def test_queue_removed_while_held_overflows_and_ends_the_wait() -> None:
    sw = build()
    sw.login("1001")
    served(sw, "c1", "1001")
    occupy(sw, "1001")
    sw.park("c2", caller=REPEAT)
    held = sw.call_id("c2")
    sw.request(rq.ReplaceQueues((QueueConfig(name="sales", required_skills={"sales": 1}),)))
    assert routed(sw, held) == [("1001", "wait"), ("1001", "fallback")]
    assert sw.of(nt.CallOverflowed)[-1].reason == "queue-removed"
