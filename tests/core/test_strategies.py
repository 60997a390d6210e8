"""Agent selection strategies, the custom-strategy plug-in and the screening hook."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence

from core_switch import Switch, agent, make_switch

from ctilink import commands as cmd
from ctilink.core import CallInfo, CandidateAgent, Disposition, QueueConfig, ScreenDecision, Strategy
from ctilink.core import notifications as nt
from ctilink.core import requests as rq
from ctilink.core.errors import ConfigError, ScreenFailed


def _switch(strategy: str, agents: list, **queue: object) -> Switch:
    queue.setdefault("wrap_up_s", 0)
    return make_switch(agents=agents, queues=[QueueConfig(name="support", strategy=strategy, **queue)])


def _serve(sw: Switch, uuid: str, talk: float = 1.0) -> str:
    """Park a call, answer it with whoever was offered, talk, hang up; returns the agent id."""
    sw.park(uuid)
    offer = sw.offers()[-1]
    sw.answer(offer.uuid)
    sw.hangup(uuid, at=sw.now + talk)
    sw.hangup(offer.uuid)
    sw.advance(sw.now + 1)
    return offer.variables["ctilink_agent_id"]


def test_longest_idle_agent_default() -> None:
    sw = _switch(Strategy.LONGEST_IDLE, [agent("a"), agent("b"), agent("c")])
    sw.login("b")
    sw.advance(1)
    sw.login("c")
    sw.advance(2)
    sw.login("a")
    assert [_serve(sw, f"c{i}") for i in range(4)] == ["b", "c", "a", "b"]


def test_fewest_calls() -> None:
    sw = _switch(Strategy.FEWEST_CALLS, [agent("a"), agent("b")])
    sw.login("a", "b")
    first = _serve(sw, "c1")
    second = _serve(sw, "c2")
    assert first != second
    sw.request(rq.AgentNotReady(second, "break"))
    _serve(sw, "c3")
    sw.request(rq.AgentReady(second))
    assert _serve(sw, "c4") == second  # 1 call against 2


def test_least_talk_time() -> None:
    sw = _switch(Strategy.LEAST_TALK_TIME, [agent("a"), agent("b")])
    sw.login("a", "b")
    long_talker = _serve(sw, "c1", talk=100)
    short_talker = _serve(sw, "c2", talk=1)
    assert [_serve(sw, f"c{i}", talk=1) for i in range(3, 6)] == [short_talker] * 3
    assert long_talker != short_talker


def test_round_robin_remembers_position() -> None:
    sw = _switch(Strategy.ROUND_ROBIN, [agent("a"), agent("b"), agent("c")])
    sw.login("a", "b", "c")
    assert [_serve(sw, f"c{i}") for i in range(5)] == ["a", "b", "c", "a", "b"]
    sw.request(rq.AgentNotReady("c", "break"))
    assert [_serve(sw, f"d{i}") for i in range(3)] == ["a", "b", "a"]  # c skipped, position kept


def test_linear_top_down_with_explicit_order() -> None:
    sw = _switch(Strategy.LINEAR, [agent("a"), agent("b"), agent("c")], agent_order=["c", "a", "b"])
    sw.login("a", "b", "c")
    assert [_serve(sw, f"c{i}") for i in range(3)] == ["c", "c", "c"]
    sw.park("x1")
    sw.park("x2")
    assert [o.variables["ctilink_agent_id"] for o in sw.offers()[-2:]] == ["c", "a"]


def test_random_is_seeded_and_spreads() -> None:
    def run(seed: int) -> list[str]:
        sw = make_switch(
            agents=[agent("a"), agent("b"), agent("c")],
            queues=[QueueConfig(name="support", strategy="random", wrap_up_s=0)],
            rng=random.Random(seed),
        )
        sw.login("a", "b", "c")
        return [_serve(sw, f"c{i}") for i in range(30)]

    assert run(1) == run(1)
    assert run(1) != run(2)
    assert set(Counter(run(1))) == {"a", "b", "c"}


def test_highest_skill_level_ties_by_longest_idle() -> None:
    agents = [agent("lo", {"en": 3}), agent("hi1", {"en": 9}), agent("hi2", {"en": 9})]
    sw = _switch(Strategy.HIGHEST_SKILL, agents, required_skills={"en": 1})
    sw.login("lo")
    sw.advance(1)
    sw.login("hi2")
    sw.advance(2)
    sw.login("hi1")
    assert [_serve(sw, f"c{i}") for i in range(3)] == ["hi2", "hi1", "hi2"]


def test_ring_all_first_answer_wins_others_cancelled() -> None:
    sw = _switch(Strategy.RING_ALL, [agent("a"), agent("b"), agent("c")])
    sw.login("a", "b", "c")
    effects = sw.park("c1")
    legs = {o.variables["ctilink_agent_id"]: o.uuid for o in sw.offers(effects)}
    assert set(legs) == {"a", "b", "c"}
    sw.ring(legs["a"])
    effects = sw.answer_and_return(legs["b"], at=2.0)
    hangups = {c.uuid: c.cause for c in sw.cmds(cmd.Hangup, effects)}
    assert hangups == {legs["a"]: "LOSE_RACE", legs["c"]: "LOSE_RACE"}
    assert cmd.Bridge("c1", legs["b"]) in effects.commands
    results = {n.agent_id: n.result.value for n in sw.of(nt.OfferResult)}
    assert results == {"a": "cancelled", "b": "answered", "c": "cancelled"}
    for loser in ("a", "c"):
        sw.hangup(legs[loser], "LOSE_RACE")
        assert sw.state(loser) == "available"
        assert sw.engine.agent_view(loser).no_answer_streak == 0


def test_custom_strategy_plug_in_and_fallback() -> None:
    seen: list[tuple[list[str], str | None]] = []

    def by_name_desc(agents: Sequence[CandidateAgent], call: CallInfo) -> list[str]:
        seen.append(([a.agent_id for a in agents], call.caller_number))
        return sorted((a.agent_id for a in agents), reverse=True)

    def broken(agents: Sequence[CandidateAgent], call: CallInfo) -> list[str]:
        raise RuntimeError("boom")

    sw = make_switch(
        agents=[agent("a"), agent("b"), agent("c")],
        queues=[QueueConfig(name="support", strategy="desc", wrap_up_s=0), QueueConfig(name="q2", strategy="broken")],
        strategies={"desc": by_name_desc, "broken": broken},
    )
    sw.login("a", "b", "c")
    assert _serve(sw, "c1") == "c"
    assert seen[0] == (["a", "b", "c"], "15551230001")
    sw.park("c2", queue="q2")
    assert sw.offers()[-1].variables["ctilink_agent_id"] in {"a", "b"}  # fell back, call not lost

    try:
        make_switch(queues=[QueueConfig(name="support", strategy="nope")])
    except ConfigError as exc:
        assert "nope" in str(exc)
    else:
        raise AssertionError("unknown strategy accepted")


def test_screen_hook_decisions() -> None:
    def screen(info: CallInfo) -> ScreenDecision:
        number = info.caller_number or ""
        if number.startswith("666"):
            return ScreenDecision.reject("CALL_REJECTED")
        if number.startswith("999"):
            return ScreenDecision.to_extension("voicemail", context="public")
        if number.startswith("777"):
            return ScreenDecision.accept(priority=90)
        if number.startswith("555"):
            return ScreenDecision.to_agent("b")
        if number.startswith("000"):
            raise ValueError("hook bug")
        return ScreenDecision.accept()

    sw = make_switch(agents=[agent("a"), agent("b")], screen=screen)
    sw.park("r", caller="6661")
    assert cmd.Hangup("r", "CALL_REJECTED") in sw.commands
    assert sw.of(nt.CallEnded)[-1].record.disposition is Disposition.REJECTED
    sw.park("v", caller="9991")
    assert cmd.Transfer("v", "voicemail", context="public") in sw.commands
    assert sw.of(nt.CallEnded)[-1].record.disposition is Disposition.TRANSFERRED_OUT
    sw.park("n", caller="1231")
    sw.park("p", caller="7771")
    order = [w.call_id for w in sw.engine.snapshot().queue("support").waiting]
    assert order == [sw.call_id("p"), sw.call_id("n")]
    sw.login("a", "b")
    sw.park("d", caller="5551")  # both busy now: the agent route falls back to the queue
    assert sw.engine.call_view(sw.call_id("d")).state.value == "queued"
    effects = sw.park("e", caller="0001")
    assert isinstance(effects.error, ScreenFailed)
    assert sw.engine.call_view(sw.call_id("e")).state.value == "queued"


def test_screen_routes_to_available_agent_directly() -> None:
    sw = make_switch(agents=[agent("a"), agent("b")], screen=lambda info: ScreenDecision.to_agent("b"))
    sw.login("a")
    sw.advance(5)
    sw.login("b")
    sw.park("c1")
    assert sw.offers()[-1].variables["ctilink_agent_id"] == "b"  # not a, the longest idle
    sw.fail_leg(sw.offers()[-1].uuid, "USER_BUSY", 486)
    assert sw.offers()[-1].variables["ctilink_agent_id"] == "a"  # then the queue takes over
