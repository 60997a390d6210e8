"""Escalation steps, overflow, empty-queue policies, announcements and wait estimates."""

from __future__ import annotations

from core_switch import agent, make_switch

from ctilink import commands as cmd
from ctilink.core import (
    Announcement,
    CallState,
    Disposition,
    EmptyPolicy,
    EscalationStep,
    OverflowAction,
    QueueConfig,
)
from ctilink.core import notifications as nt
from ctilink.core import requests as rq
from ctilink.events import ExecuteComplete


def test_relax_skill_level_after_wait() -> None:
    queue = QueueConfig(
        name="support", required_skills={"en": 8}, escalation=[EscalationStep(after_s=30, relax_skills={"en": 5})]
    )
    sw = make_switch(agents=[agent("expert", {"en": 9}), agent("junior", {"en": 5})], queues=[queue])
    sw.login("expert", "junior")
    sw.request(rq.AgentNotReady("expert", "break"))
    sw.park("c1")
    assert sw.offers() == []
    sw.advance(29.9)
    assert sw.offers() == []
    sw.advance(30.0)
    assert [(n.step, n.at) for n in sw.of(nt.CallEscalated)] == [(1, 30.0)]
    assert sw.leg_of("junior")


def test_also_qualify_and_widen_to_queue() -> None:
    support = QueueConfig(
        name="support",
        required_skills={"en": 5},
        escalation=[
            EscalationStep(after_s=10, also_qualify={"fr": 3}),
            EscalationStep(after_s=20, widen_to_queues=["sales"]),
        ],
    )
    sales = QueueConfig(name="sales", required_skills={"sales": 1})
    sw = make_switch(
        agents=[agent("en", {"en": 5}), agent("fr", {"fr": 4}), agent("seller", {"sales": 2})], queues=[support, sales]
    )
    sw.login("en", "fr", "seller")
    sw.request(rq.AgentNotReady("en", "break"))
    sw.request(rq.AgentNotReady("fr", "break"))
    sw.park("c1")
    sw.advance(15)
    sw.request(rq.AgentReady("fr"))  # qualifies from step 1 on: the agent takes the call at once
    assert sw.leg_of("fr")
    sw.request(rq.AgentNotReady("seller", "break"))
    sw.park("c2", caller="2")
    sw.request(rq.AgentReady("seller"))
    assert len(sw.offers()) == 1  # seller does not qualify before step 2
    sw.advance(35.0)  # c2 arrived at 15: step 1 at 25, step 2 at 35
    assert sw.leg_of("seller")


def test_step_with_nobody_logged_in_is_skipped_at_once() -> None:
    queue = QueueConfig(
        name="support",
        required_skills={"en": 8},
        escalation=[
            EscalationStep(after_s=60, widen_to_queues=["empty"]),
            EscalationStep(after_s=120, relax_skills={"en": 2}),
        ],
    )
    sw = make_switch(
        agents=[agent("j", {"en": 3}), agent("e", {"x": 1})],
        queues=[queue, QueueConfig(name="empty", required_skills={"x": 1})],
    )
    sw.login("j")
    sw.request(rq.AgentNotReady("j", "break"))
    sw.park("c1")
    # base step: nobody with en>=8 logged in -> step 1; "empty" has nobody logged in -> step 2, all at t=0
    assert [(n.step, n.at) for n in sw.of(nt.CallEscalated)] == [(1, 0.0), (2, 0.0)]
    sw.request(rq.AgentReady("j"))
    assert sw.leg_of("j")


def test_overflow_after_max_wait_to_another_queue_keeps_queued_time() -> None:
    first = QueueConfig(
        name="support", required_skills={"en": 1}, max_wait_s=60, overflow=OverflowAction(kind="queue", target="backup")
    )
    backup = QueueConfig(name="backup", hold_music="local_stream://other")
    sw2 = make_switch(agents=[agent("b", {})], queues=[first, backup])
    sw2.park("old", queue="support")
    sw2.park("late", queue="backup", caller="2", at=10.0)
    effects = sw2.advance(60.0)
    over = sw2.of(nt.CallOverflowed)
    assert [(o.from_queue, o.kind, o.target, o.reason, o.at) for o in over] == [
        ("support", "queue", "backup", "max-wait", 60.0)
    ]
    assert cmd.Playback("old", "local_stream://other") in effects.commands
    order = [w.call_id for w in sw2.engine.snapshot().queue("backup").waiting]
    assert order == [sw2.call_id("old"), sw2.call_id("late")]  # it keeps its original queued time
    sw2.login("b")
    assert sw2.offers()[-1].variables["ctilink_call_id"] == sw2.call_id("old")
    sw2.hangup("old", at=70.0)
    record = sw2.record(sw2.call_id("old")).record
    assert record.first_queue == "support" and record.queue == "backup"
    assert [t.kind for t in record.transfers] == ["overflow-queue"]


def test_overflow_when_full_to_voicemail_extension() -> None:
    queue = QueueConfig(
        name="support", max_length=1, overflow=OverflowAction(kind="extension", target="vm-support", context="public")
    )
    sw = make_switch(queues=[queue])
    sw.park("c1")
    effects = sw.park("c2", caller="2")
    assert cmd.Transfer("c2", "vm-support", context="public") in effects.commands
    assert sw.of(nt.CallOverflowed)[0].reason == "full"
    assert sw.of(nt.CallEnded)[0].record.disposition is Disposition.OVERFLOWED
    sw.hangup("c2")  # the leg's later hangup is not a second end
    assert len(sw.of(nt.CallEnded)) == 1


def test_overflow_hangup_after_announcement() -> None:
    queue = QueueConfig(
        name="support",
        max_wait_s=30,
        overflow=OverflowAction(kind="hangup", announcement="ivr/closed.wav", announcement_max_s=20),
    )
    sw = make_switch(queues=[queue])
    sw.park("c1")
    effects = sw.advance(30)
    assert effects.commands == [cmd.Break("c1"), cmd.Playback("c1", "ivr/closed.wav")]
    assert sw.engine.call_view(sw.call_id("c1")).state is CallState.LEAVING
    effects = sw.send(ExecuteComplete(uuid="c1", application="playback", application_data="ivr/closed.wav"), at=34)
    assert effects.commands == [cmd.Hangup("c1", "NORMAL_CLEARING")]
    sw.hangup("c1")
    assert sw.of(nt.CallEnded)[0].record.disposition is Disposition.OVERFLOWED


def test_overflow_hangup_announcement_bounded_by_timer() -> None:
    queue = QueueConfig(
        name="support",
        max_wait_s=10,
        overflow=OverflowAction(kind="hangup", announcement="ivr/closed.wav", announcement_max_s=5),
    )
    sw = make_switch(queues=[queue], cancel_grace_s=3)
    sw.park("c1")
    assert cmd.Hangup("c1", "NORMAL_CLEARING") in sw.advance(15).commands
    sw.advance(18)  # the switch never confirmed: the call still ends, exactly once
    assert sw.of(nt.CallEnded)[0].record.disposition is Disposition.OVERFLOWED
    sw.hangup("c1")
    assert len(sw.of(nt.CallEnded)) == 1


def test_join_when_empty_refuses_and_leave_when_empty_overflows() -> None:
    queue = QueueConfig(
        name="support",
        wrap_up_s=5,
        join_when_empty=EmptyPolicy.NO_AGENTS,
        leave_when_empty=EmptyPolicy.NO_READY,
        overflow=OverflowAction(kind="extension", target="vm"),
    )
    sw = make_switch(queues=[queue], agents=[agent("a")])
    sw.park("c1")
    assert [(o.call_id, o.reason) for o in sw.of(nt.CallOverflowed)] == [(sw.call_id("c1"), "empty")]
    sw.login("a")
    sw.park("c2", caller="2")
    sw.answer(sw.leg_of("a"))
    sw.park("c3", caller="3")
    assert sw.engine.call_view(sw.call_id("c3")).state is CallState.QUEUED  # a is busy but staffed
    sw.request(rq.AgentNotReady("a", "break"))  # pending until the call and wrap-up are over
    sw.hangup("c2", at=10.0)
    sw.advance(14.9)
    assert sw.engine.call_view(sw.call_id("c3")).state is CallState.QUEUED
    sw.advance(15.0)  # wrap-up over, a goes not ready: nobody ready, c3 leaves
    over = sw.of(nt.CallOverflowed)[-1]
    assert (over.call_id, over.reason, over.at) == (sw.call_id("c3"), "empty", 15.0)
    assert cmd.Transfer("c3", "vm") in sw.commands


def test_call_joining_an_already_empty_queue_leaves_at_once() -> None:
    queue = QueueConfig(
        name="support", leave_when_empty=EmptyPolicy.NO_READY, overflow=OverflowAction(kind="extension", target="vm")
    )
    sw = make_switch(queues=[queue], agents=[agent("a")])
    sw.park("c1")
    assert sw.of(nt.CallOverflowed)[0].reason == "empty"


def test_periodic_announcement_with_position_and_estimate() -> None:
    queue = QueueConfig(
        name="support", announcement=Announcement(path="ivr/pos-{position}-{wait_min}m.wav", every_s=30)
    )
    sw = make_switch(queues=[queue], agents=[agent("a")], aht_default_s=120)
    sw.login("a")
    sw.request(rq.AgentNotReady("a", "break"))
    sw.park("c1")
    sw.park("c2", caller="2", at=1.0)
    assert sw.engine.queue_position(sw.call_id("c2")) == (2, None)  # nobody staffed: no estimate
    sw.request(rq.AgentReady("a"))
    sw.fail_leg(sw.leg_of("a"), "NO_ANSWER")  # a is staffed (ready) but both calls wait now
    position, estimate = sw.engine.queue_position(sw.call_id("c2"))
    assert sw.engine.snapshot().queue("support").staffed_agents == 1
    assert estimate == position * 120.0


def test_announcement_commands() -> None:
    queue = QueueConfig(
        name="support", announcement=Announcement(path="ivr/pos-{position}.wav", every_s=30, first_after_s=10)
    )
    sw = make_switch(queues=[queue])
    sw.park("c1")
    sw.park("c2", caller="2")
    effects = sw.advance(10)
    assert effects.commands == [
        cmd.Break("c1"),
        cmd.Playback("c1", "ivr/pos-1.wav"),
        cmd.Playback("c1", "local_stream://moh"),
        cmd.Break("c2"),
        cmd.Playback("c2", "ivr/pos-2.wav"),
        cmd.Playback("c2", "local_stream://moh"),
    ]
    assert [n.at for n in sw.of(nt.CallAnnounced)] == [10.0, 10.0]
    sw.hangup("c1", at=20)
    sw.advance(40)
    assert [(n.position, n.at) for n in sw.of(nt.CallAnnounced)][2:] == [(1, 40.0)]
