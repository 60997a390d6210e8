"""Multi-line agents (``max_calls > 1``): a second offer still ringing when the first call ends.

Found by tests/test_engine_invariants.py (seed 697): agent a5 (two lines) was ringing on line 2
when the customer of line 1 hung up; the agent went to wrap-up, then answered line 2. The answer
was an illegal transition (wrap-up -> answer) *after* the call and the leg had already been
switched to connected and bridged, so the agent later went available while talking.
"""

from __future__ import annotations

from core_switch import Switch, agent, make_switch

from ctilink import commands as cmd
from ctilink.core import QueueConfig
from ctilink.core import notifications as nt
from ctilink.core import requests as rq


def two_lines(wrap_up_s: float = 5, **config: object) -> Switch:
    sw = make_switch(
        agents=[agent("1001", max_calls=2)], queues=[QueueConfig(name="support", wrap_up_s=wrap_up_s)], **config
    )
    sw.login("1001")
    return sw


def first_talking_second_ringing(sw: Switch) -> tuple[str, str]:
    """c1 connected to 1001 on line 1; c2 offered to 1001 on line 2 and ringing."""
    sw.park("c1", at=1.0)
    leg1 = sw.leg_of("1001")
    sw.ring(leg1)
    sw.answer(leg1, at=2.0)
    assert sw.state("1001") == "on-call"
    sw.park("c2", caller="15551230002", at=3.0)
    leg2 = sw.leg_of("1001")
    assert leg2 != leg1
    sw.ring(leg2)
    assert sw.state("1001") == "on-call"
    return leg1, leg2


def changes(sw: Switch) -> list[tuple[str, str, str | None]]:
    return [(n.old.value, n.new.value, n.reason) for n in sw.of(nt.AgentStateChanged)][1:]


def test_second_line_answered_during_wrap_up_puts_agent_on_call() -> None:
    sw = two_lines()
    leg1, leg2 = first_talking_second_ringing(sw)
    sw.hangup("c1", at=4.0)  # customer of line 1 goes: wrap-up with line 2 still ringing
    sw.hangup(leg1)
    assert sw.state("1001") == "wrap-up"
    effects = sw.answer_and_return(leg2, at=6.0)
    assert effects.error is None, effects.error
    assert sw.state("1001") == "on-call"
    assert [(b.uuid, b.other_uuid) for b in sw.cmds(cmd.Bridge, effects)] == [("c2", leg2)]
    # Picking up the next call ends the previous call's wrap-up; its record is complete.
    record = sw.record(sw.call_id("c1")).record
    assert record.wrap_up_s == 2.0
    assert sw.engine.call_view(sw.call_id("c2")).state.value == "connected"
    sw.advance(30.0)  # the old wrap-up timer must not fire while the agent talks on line 2
    assert sw.state("1001") == "on-call"
    sw.hangup("c2", at=40.0)
    sw.hangup(leg2)
    assert sw.state("1001") == "wrap-up"
    sw.advance(45.0)
    assert sw.state("1001") == "available"
    assert changes(sw) == [
        ("available", "reserved", "support"),
        ("reserved", "on-call", "support"),
        ("on-call", "wrap-up", "support"),
        ("wrap-up", "on-call", "support"),
        ("on-call", "wrap-up", "support"),
        ("wrap-up", "available", None),
    ]


def test_wrap_up_ending_while_second_line_rings_leaves_agent_reserved() -> None:
    sw = two_lines()
    leg1, leg2 = first_talking_second_ringing(sw)
    sw.hangup("c1", at=4.0)
    sw.hangup(leg1)
    sw.advance(9.5)  # wrap-up over, line 2 still ringing: reserved, never available with a live leg
    assert sw.state("1001") == "reserved"
    sw.answer(leg2, at=10.0)
    assert sw.state("1001") == "on-call"


def test_wrap_up_ending_then_second_line_fails_makes_agent_available() -> None:
    sw = two_lines(no_answer_delay_s=10)
    leg1, leg2 = first_talking_second_ringing(sw)
    sw.hangup("c1", at=4.0)
    sw.hangup(leg1)
    sw.send(rq.EndWrapUp("1001"), at=5.0)
    assert sw.state("1001") == "reserved"
    assert sw.record(sw.call_id("c1")).record.wrap_up_s == 1.0
    effects = sw.fail_leg(leg2, "NO_ANSWER")
    assert sw.state("1001") == "available"
    assert sw.offers(effects) == []  # the no-answer delay holds the agent back, as after any offer
    assert changes(sw)[-3:] == [
        ("on-call", "wrap-up", "support"),
        ("wrap-up", "reserved", "support"),
        ("reserved", "available", "no-answer"),
    ]
    sw.advance(15.5)
    assert sw.state("1001") == "reserved"  # c2 offered again once the delay is over


def test_call_ending_without_wrap_up_while_second_line_rings() -> None:
    sw = two_lines(wrap_up_s=0)
    leg1, leg2 = first_talking_second_ringing(sw)
    sw.request(rq.AgentNotReady("1001", "break"))  # pending: honoured when the offer closes
    sw.hangup("c1", at=4.0)
    sw.hangup(leg1)
    assert sw.state("1001") == "reserved"
    sw.fail_leg(leg2, "NO_ANSWER")
    assert sw.state("1001") == "not-ready"


def test_logout_during_wrap_up_with_second_line_ringing_waits_for_the_offer() -> None:
    sw = two_lines()
    leg1, leg2 = first_talking_second_ringing(sw)
    sw.hangup("c1", at=4.0)
    sw.hangup(leg1)
    effects = sw.request(rq.AgentLogout("1001"))
    assert effects.error is None
    assert sw.state("1001") in ("wrap-up", "reserved")  # never logged out with a ringing phone
    sw.answer(leg2, at=6.0)
    assert sw.state("1001") == "on-call"
    sw.hangup("c2", at=8.0)
    sw.hangup(leg2)
    assert sw.state("1001") == "wrap-up"  # the logout is honoured after this call's wrap-up
    sw.advance(13.0)
    assert sw.state("1001") == "logged-out"


def test_second_line_ringing_when_wrap_up_starts_is_not_a_zombie_after_caller_leaves() -> None:
    sw = two_lines()
    leg1, leg2 = first_talking_second_ringing(sw)
    sw.hangup("c1", at=4.0)
    sw.hangup(leg1)
    sw.hangup("c2", at=5.0)  # caller 2 gives up while line 2 rings: the leg is cancelled
    assert [h.uuid for h in sw.cmds(cmd.Hangup)][-1] == leg2
    effects = sw.answer(leg2, at=5.5)  # the phone answers late anyway: killed again, no bridge
    assert [h.uuid for h in sw.cmds(cmd.Hangup, effects)] == [leg2]
    assert sw.cmds(cmd.Bridge, effects) == []
    assert sw.state("1001") == "wrap-up"
    sw.hangup(leg2, "ORIGINATOR_CANCEL")
    sw.advance(20.0)
    assert sw.state("1001") == "available"
