"""Campaign flows end to end through the engine (CampaignEngine = Engine + Dialer), playing the switch."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "dialer"))

import pytest
from helpers import Rig, contacts

from ctilink import commands as cmd
from ctilink.core import notifications as nt
from ctilink.dialer.campaign import CampaignConfig, Mode
from ctilink.dialer.dialer import (
    DialerError,
    DialRefused,
    PauseCampaign,
    PreviewAccept,
    PreviewOffered,
    PreviewSkip,
    ResumeCampaign,
    ScheduleCallback,
    StartCampaign,
)
from ctilink.esl.render import render

LONDON = ["+442071230001", "+442071230002", "+442071230003", "+442071230004"]


def campaign(**kw: object) -> CampaignConfig:
    base = dict(name="spring", mode=Mode.PROGRESSIVE, queue="outbound", region="GB", caller_id_number="442070000000")
    base.update(kw)
    return CampaignConfig(**base)  # type: ignore[arg-type]


def started(cfg: CampaignConfig, agents: list[str], numbers: list[str], **kw: object) -> Rig:
    rig = Rig(cfg, agents, **kw)  # type: ignore[arg-type]
    rig.load(contacts(cfg.name, numbers))
    for a in agents:
        rig.login(a)
    rig.send(StartCampaign(cfg.name))
    return rig


def test_progressive_answer_connects_to_agent_and_records_attempt() -> None:
    rig = started(campaign(), ["1001"], LONDON[:2])
    dials = rig.dials()
    assert len(dials) == 1  # one agent: one line
    d = dials[0]
    assert d.variables["ctilink_role"] == "customer" and d.variables["ctilink_campaign"] == "spring"
    assert d.variables["ctilink_contact_id"] == "c1" and d.timeout_s == 20 and d.application == "park"
    rendered = render(d)
    assert rendered.verb == "bgapi" and rendered.text.startswith("originate {origination_uuid=")
    assert rig.contact("c1").status == "dialing"
    rig.now += 6
    rig.answer(d.uuid)
    assert len(rig.agent_legs()) == 1  # the engine offered the live customer to the agent
    rig.now += 0.5
    rig.connect_agent()
    assert any(isinstance(n, nt.CallAnswered) for n in rig.notes)
    bridges = [c for c in rig.commands if isinstance(c, cmd.Bridge)]
    assert bridges and bridges[-1].uuid == d.uuid
    rig.advance(rig.now + 5)  # past the 2 s deadline: connected, so nothing happens
    assert not [c for c in rig.commands if isinstance(c, cmd.Playback) and "transferred" in c.path]
    rig.now += 60
    rig.hangup(d.uuid)
    (attempt,) = rig.attempts()
    assert attempt.outcome == "connected" and attempt.data["agent_id"] == "1001"
    assert attempt.data["duration_s"] == pytest.approx(65.5)
    assert rig.contact("c1").status == "done"
    assert rig.dialer.stats("spring", rig.now).connected == 1


@pytest.mark.parametrize(
    ("cause", "sip", "outcome", "delay"),
    [
        ("USER_BUSY", 486, "busy", 600.0),
        ("NO_ANSWER", None, "no_answer", 3600.0),
        ("NORMAL_TEMPORARY_FAILURE", 503, "failed", 1800.0),
    ],
)
def test_unanswered_outcomes_schedule_retries(cause: str, sip: int | None, outcome: str, delay: float) -> None:
    rig = started(campaign(), ["1001"], LONDON[:1])
    d = rig.dials()[0]
    t0 = rig.now
    rig.now += 3
    rig.fail(d.uuid, cause, sip)
    (attempt,) = rig.attempts()
    assert attempt.outcome == outcome
    if sip is not None:
        assert attempt.data["sip_code"] == sip
    contact = rig.contact("c1")
    assert contact.status == "pending" and contact.attempts == 1
    assert contact.next_attempt_at == pytest.approx(t0 + 3 + delay)
    rig.advance(t0 + delay)  # not due yet: no second dial
    assert len(rig.dials()) == 1
    rig.advance(t0 + 3 + delay + 1)
    assert len(rig.dials()) == 2 and rig.dials()[1].variables["ctilink_contact_id"] == "c1"


def test_max_attempts_then_refused_with_reason() -> None:
    rig = started(campaign(max_attempts=1), ["1001"], LONDON[:1])
    rig.fail(rig.dials()[0].uuid, "USER_BUSY", 486)
    assert rig.contact("c1").status == "exhausted"
    rig.advance(rig.now + 7200)
    assert len(rig.dials()) == 1


def test_live_answer_with_no_agent_hears_announcement_and_counts_abandoned() -> None:
    cfg = campaign(mode=Mode.PREDICTIVE)
    rig = started(cfg, ["1001"], LONDON[:2])
    first = rig.dials()[0]
    rig.answer(first.uuid)
    rig.connect_agent()  # 1001 is now on a call
    # force a second live answer while the only agent talks
    assert rig.dialer._campaigns["spring"].state is not None  # campaign running
    second_contact = rig.dialer._campaigns["spring"].contacts["c2"]
    rig.dialer._dial(rig.dialer._campaigns["spring"], second_contact, rig.now, agent_id=None)
    second = [c for c in rig.dialer._take().commands if isinstance(c, cmd.Originate)]
    rig.commands.extend(second)
    rig.now += 4
    rig.answer(second[0].uuid)
    rig.advance(rig.now + 2.5)
    plays = [c for c in rig.commands if isinstance(c, cmd.Playback) and c.uuid == second[0].uuid]
    assert plays and plays[0].path == cfg.abandon_announcement
    outcomes = {a.contact_id: a.outcome for a in rig.attempts()}
    assert outcomes["c2"] == "abandoned"
    stats = rig.dialer.stats("spring", rig.now)
    assert stats.abandoned == 1 and stats.live_answers == 2 and stats.abandon_rate == pytest.approx(0.5)
    assert rig.contact("c2").next_attempt_at == pytest.approx(rig.now - 0.5 + 72 * 3600, abs=1)
    rig.advance(rig.now + 31)
    assert any(isinstance(c, cmd.Hangup) and c.uuid == second[0].uuid for c in rig.commands)


def test_amd_machine_is_hung_up_and_not_a_live_answer() -> None:
    rig = started(campaign(amd=True), ["1001"], LONDON[:1])
    d = rig.dials()[0]
    assert d.variables["execute_on_answer"] == "avmd_start"
    rig.answer(d.uuid)
    assert rig.agent_legs() == []  # waiting for the AMD verdict
    rig.amd(d.uuid, "machine")
    assert any(isinstance(c, cmd.Hangup) and c.uuid == d.uuid for c in rig.commands)
    rig.hangup(d.uuid)
    assert rig.attempts()[0].outcome == "machine"
    assert rig.dialer.stats("spring", rig.now).live_answers == 0
    assert rig.contact("c1").status == "pending"


def test_missing_amd_module_degrades_to_live() -> None:
    rig = started(campaign(amd=True), ["1001"], LONDON[:1])
    d = rig.dials()[0]
    rig.answer(d.uuid)
    rig.advance(rig.now + 5.1)  # no verdict within the AMD timeout: live
    assert len(rig.agent_legs()) == 1


def test_dnc_and_window_refusals_are_recorded() -> None:
    rig = started(campaign(), ["1001"], [LONDON[0], "+12125550100", LONDON[1]], dnc={LONDON[0]})
    refused = {n.contact_id: n.reason for n in rig.notes if isinstance(n, DialRefused)}
    assert refused == {"c1": "dnc", "c2": "window"}  # 12:00 UTC is 07:00 in New York
    assert rig.contact("c1").status == "dnc"
    assert rig.contact("c2").status == "pending" and rig.contact("c2").next_attempt_at > rig.now
    assert {a.contact_id: a.data["reason"] for a in rig.attempts() if a.outcome == "refused"} == refused
    assert [d.variables["ctilink_contact_id"] for d in rig.dials()] == ["c3"]


def test_pause_and_resume() -> None:
    rig = started(campaign(), ["1001"], LONDON[:2])
    rig.send(PauseCampaign("spring"))
    rig.fail(rig.dials()[0].uuid, "USER_BUSY", 486)
    rig.advance(rig.now + 30)
    assert len(rig.dials()) == 1
    rig.send(ResumeCampaign("spring"))
    assert len(rig.dials()) == 2 and rig.dials()[1].variables["ctilink_contact_id"] == "c2"


def test_preview_accept_skip_and_timeout() -> None:
    cfg = campaign(mode=Mode.PREVIEW, preview_timeout_s=20, preview_timeout_action="return")
    rig = started(cfg, ["1001"], LONDON[:3])
    offers = [n for n in rig.notes if isinstance(n, PreviewOffered)]
    assert [(o.agent_id, o.contact_id, o.fields["name"]) for o in offers] == [("1001", "c1", "Customer 1")]
    assert rig.dials() == []  # nothing dialed before the agent accepts
    rig.send(PreviewSkip("spring", "1001", "wrong\x00 person"))
    skipped = rig.attempts()[0]
    assert skipped.outcome == "skipped" and skipped.data["reason"] == "wrong? person"
    offers = [n for n in rig.notes if isinstance(n, PreviewOffered)]
    assert offers[-1].contact_id == "c2"
    rig.send(PreviewAccept("spring", "1001"))
    d = rig.dials()[0]
    assert d.variables["ctilink_contact_id"] == "c2"
    rig.answer(d.uuid)
    leg = rig.agent_legs()[-1]
    assert leg.variables["ctilink_agent_id"] == "1001"
    with pytest.raises(DialerError):
        rig.dialer.request(PreviewAccept("spring", "1001"), rig.now)


def test_preview_timeout_returns_contact() -> None:
    rig = started(campaign(mode=Mode.PREVIEW, preview_timeout_s=20), ["1001"], LONDON[:1])
    rig.advance(rig.now + 21)
    assert rig.dials() == []
    assert rig.contact("c1").status == "pending"


def test_callback_for_agent_is_kept_for_that_agent() -> None:
    rig = started(campaign(mode=Mode.PREVIEW), ["1001", "1002"], LONDON[:1])
    # both agents idle; c1 previewed to one of them; schedule it as a callback for 1002 instead
    rig.send(PreviewSkip("spring", next(n for n in rig.notes if isinstance(n, PreviewOffered)).agent_id, "later"))
    rig.send(ScheduleCallback("spring", "c1", rig.now + 3600, agent_id="1002"))
    assert rig.contact("c1").status == "callback"
    rig.advance(rig.now + 3601)
    offers = [n for n in rig.notes if isinstance(n, PreviewOffered)]
    assert offers[-1].agent_id == "1002" and offers[-1].contact_id == "c1"
    with pytest.raises(DialerError):
        rig.dialer.request(ScheduleCallback("spring", "nope", rig.now), rig.now)


def test_restart_mid_campaign_never_redials_in_flight_contact() -> None:
    rig = started(campaign(), ["1001", "1002"], LONDON[:3])
    assert len(rig.dials()) == 2
    rig.fail(rig.dials()[0].uuid, "USER_BUSY", 486)  # c1 done for now; c3 dialed next
    # what the daemon persisted: the last ContactUpdated per contact, and every attempt
    from ctilink.store.sqlite import SqliteStore

    store = SqliteStore(":memory:")
    latest = {}
    for n in rig.notes:
        if hasattr(n, "contact"):
            latest[n.contact.contact_id] = n.contact
    store.put_contacts(latest.values())
    for a in [*rig.attempts(False), *rig.attempts(True)]:
        store.put_attempt(a)
    in_flight = {c.contact_id for c in latest.values() if c.status == "dialing"}
    assert in_flight == {"c2", "c3"}
    # a fresh engine + dialer from the store
    fresh = Rig(campaign(), ["1001", "1002"], now=rig.now + 5, prefix="r")
    fresh.load(store.get_contacts("spring", limit=100))
    for a in ("1001", "1002"):
        fresh.login(a)
    fresh.send(StartCampaign("spring"))
    assert fresh.dials() == []  # c1 waits its busy delay, c2/c3 were in flight: no blind redial
    interrupted = {a.contact_id for a in fresh.attempts() if a.outcome == "interrupted"}
    assert interrupted == {"c2", "c3"}
    for a in fresh.attempts():
        store.put_attempt(a)
    assert [x.outcome for x in store.attempts_for("spring", "c2")] == ["interrupted"]
    assert [x.outcome for x in store.attempts_for("spring", "c1")] == ["busy"]
    fresh.advance(fresh.now + 601)
    assert sorted(d.variables["ctilink_contact_id"] for d in fresh.dials()) == ["c1", "c2"]
