"""Contacts CSV import and the pacer's decisions (pure units)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctilink.dialer.contacts import ImportError_, import_campaign_contacts
from ctilink.dialer.pacer import (
    AgentPhase,
    AgentView,
    DialPhase,
    DialStats,
    DialView,
    Outcome,
    PacerSnapshot,
    PredictivePacer,
)
from ctilink.dialer.policies import AdaptiveDialLevelPacer, LookAheadPacer, PowerPacer, ProgressivePacer
from ctilink.store.sqlite import SqliteStore

MAP = {"contact_id": "id", "number": "phone", "priority": "prio", "timezone": "tz"}


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "c.csv"
    p.write_text(text, encoding="utf-8")
    return p


def test_import_reports_every_bad_row_and_keeps_extra_columns(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "id,phone,prio,tz,name,plan\n"
        "a1,020 7123 0001,5,,Ann,gold\n"
        "a2,12,0,,Bob,x\n"
        "a1,020 7123 0002,0,,Dup,x\n"
        "a3,020 7123 0003,high,,Cy,x\n"
        "a4,020 7123 0004,0,Mars/Base,Di,x\n"
        "a5,020 7123 0005,0,Europe/Paris,Ed\x07,x\n",
    )
    store = SqliteStore(":memory:")
    strict = import_campaign_contacts(store, "spring", path, MAP, "GB", partial=False)
    assert not strict.committed and store.get_contacts("spring") == []
    assert [line for line, _ in strict.rejected] == [3, 4, 5, 6]
    reasons = " | ".join(r for _, r in strict.rejected)
    assert (
        "not a valid number" in reasons and "duplicate" in reasons and "integer" in reasons and "Mars/Base" in reasons
    )
    report = import_campaign_contacts(store, "spring", path, MAP, "GB", partial=True)
    assert report.committed and report.imported == 2 and report.rows == 6
    got = {c.contact_id: c for c in store.get_contacts("spring")}
    assert got["a1"].number == "+442071230001" and got["a1"].priority == 5
    assert got["a1"].data == {"name": "Ann", "plan": "gold"}
    assert got["a5"].data["timezone"] == "Europe/Paris" and got["a5"].data["name"] == "Ed?"


def test_import_rejects_bad_mapping_and_missing_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "id,phone\nx,020 7123 0001\n")
    store = SqliteStore(":memory:")
    with pytest.raises(ImportError_, match="number"):
        import_campaign_contacts(store, "s", path, {"contact_id": "id"}, "GB", partial=True)
    with pytest.raises(ImportError_, match="not in the CSV header"):
        import_campaign_contacts(store, "s", path, {"contact_id": "id", "number": "tel"}, "GB", partial=True)
    with pytest.raises(ImportError_, match="unknown field"):
        import_campaign_contacts(store, "s", path, {"contact_id": "id", "number": "phone", "evil": "x"}, "GB", True)


def trained_stats(p_live: float = 0.3, n: int = 400) -> DialStats:
    stats = DialStats()
    for i in range(n):
        u = (i * 0.618) % 1.0
        if u < p_live:
            stats.dial_ended(Outcome.LIVE, 4 + (i % 7))
        elif u < p_live + 0.15:
            stats.dial_ended(Outcome.MACHINE, 5 + (i % 5))
        else:
            stats.dial_ended(Outcome.NO_ANSWER, 20.0)
        stats.talk_ended(60 + (i % 240))
        stats.wrap_ended(8 + (i % 14))
    for i in range(200):
        stats.live_answer(float(i), False)
    return stats


def snap(agents: list[AgentView], dials: list[DialView], stats: DialStats, now: float = 300.0) -> PacerSnapshot:
    return PacerSnapshot(now=now, agents=agents, dials=dials, stats=stats)


def test_predictive_overdials_idle_agents_but_progressive_without_data() -> None:
    idle = [AgentView(AgentPhase.IDLE, 5.0)] * 10
    assert PredictivePacer().dials_to_place(snap(idle, [], DialStats())) == 10  # warm-up: progressive
    n = PredictivePacer().dials_to_place(snap(idle, [], trained_stats()))
    assert 10 < n <= 40  # a 30 % live rate lets it dial more lines than idle agents


def test_predictive_counts_agents_about_to_free_and_waiting_live_calls() -> None:
    stats = trained_stats()
    talking_early = [AgentView(AgentPhase.TALKING, 1.0)] * 10
    wrapping_late = [AgentView(AgentPhase.WRAP_UP, 20.0)] * 10
    assert PredictivePacer().dials_to_place(snap(talking_early, [], stats)) == 0
    assert PredictivePacer().dials_to_place(snap(wrapping_late, [], stats)) > 0
    idle = [AgentView(AgentPhase.IDLE, 5.0)] * 3
    waiting = [DialView(DialPhase.WAITING, 1.0)] * 3
    assert PredictivePacer().dials_to_place(snap(idle, waiting, stats)) == 0


def test_predictive_falls_back_to_progressive_when_the_cap_is_at_risk() -> None:
    stats = trained_stats()
    for i in range(7):
        stats.live_answer(250.0 + i, True)  # 7 / 207 = 3.4 % > 3 % cap
    idle = [AgentView(AgentPhase.IDLE, 5.0)] * 10
    assert PredictivePacer().dials_to_place(snap(idle, [], stats)) == 10
    ringing = [DialView(DialPhase.RINGING, 1.0)] * 4
    assert PredictivePacer().dials_to_place(snap(idle, ringing, stats)) == 6


def test_baselines_and_line_limit() -> None:
    stats = trained_stats()
    idle = [AgentView(AgentPhase.IDLE, 5.0)] * 4
    assert ProgressivePacer().dials_to_place(snap(idle, [DialView(DialPhase.RINGING, 2.0)], stats)) == 3
    assert PowerPacer(ratio=2.0).dials_to_place(snap(idle, [], stats)) == 8
    limited = PacerSnapshot(now=0.0, agents=idle, dials=[], stats=stats, max_lines=2)
    assert PredictivePacer().dials_to_place(limited) == 2
    vici = AdaptiveDialLevelPacer()
    assert vici.dials_to_place(snap(idle, [], stats, now=0.0)) == 4  # level 1.0 to start
    vici.dials_to_place(snap(idle, [], stats, now=16.0))  # agents sat idle: the level rises
    assert vici.level > 1.0


def test_look_ahead_keeps_the_live_answers_expected_a_margin_under_the_agents_expected_free() -> None:
    stats = trained_stats()
    p_live = stats.outcome_mix()[Outcome.LIVE]
    idle = [AgentView(AgentPhase.IDLE, 5.0)] * 4
    assert LookAheadPacer().dials_to_place(snap(idle, [], DialStats())) == 4  # warm-up: progressive
    # no margin: live answers expected up to the four free agents, about 4 / p_live dials
    assert LookAheadPacer(margin=0.0).dials_to_place(snap(idle, [], stats)) == int(4 / p_live)
    by_margin = [LookAheadPacer(margin=z).dials_to_place(snap(idle, [], stats)) for z in (0.0, 0.5, 1.0, 2.0)]
    assert by_margin == sorted(by_margin, reverse=True) and by_margin[0] > by_margin[-1]
    # three live answers waiting take three of the four free agents
    waiting = [DialView(DialPhase.WAITING, 1.0)] * 3
    assert LookAheadPacer(margin=0.0).dials_to_place(snap(idle, waiting, stats)) == int(1 / p_live)
    # agents in a call are free by the horizon at the mean rate only (about 5 % each here)
    talking = [AgentView(AgentPhase.TALKING, 1.0)] * 10
    assert LookAheadPacer(margin=0.0).dials_to_place(snap(talking, [], stats)) == 1
    # never under progressive, never over the line limit
    assert LookAheadPacer(margin=9.0).dials_to_place(snap(idle, [], stats)) == 4
    limited = PacerSnapshot(now=0.0, agents=idle, dials=[], stats=stats, max_lines=2)
    assert LookAheadPacer(margin=0.0).dials_to_place(limited) == 2


def test_a_bad_hour_does_not_brake_while_the_day_is_far_under_the_cap() -> None:
    # 2,000 answers over the day at 1 %, then an hour at 4 %: the day stays at 1.2 %.
    stats = trained_stats()
    for i in range(2000):
        stats.live_answer(i * 30.0, i % 100 == 0)
    start = 2000 * 30.0
    for i in range(100):
        stats.live_answer(start + i * 30.0, i % 25 == 0)
    now = start + 100 * 30.0
    live, abandoned = stats.window(now)
    assert abandoned / live > 0.03  # the reported hourly rate is over the cap
    idle = [AgentView(AgentPhase.IDLE, 5.0)] * 10
    assert PredictivePacer().dials_to_place(snap(idle, [], stats, now=now)) > 10  # still predictive


def test_the_cap_holds_over_its_window_after_the_lifetime_has_forgotten_it() -> None:
    # A long quiet past keeps the lifetime rate low; the last day's own rate is at the cap.
    stats = trained_stats()
    stats.cap_window_s = 86400.0
    for i in range(20000):
        stats.live_answer(-10 * 86400.0 + i, False)
    now = 10 * 86400.0
    for i in range(300):
        stats.live_answer(now - 80000.0 + i * 100, i % 33 == 0)  # 10 / 300 = 3.3 %
    assert stats.lifetime_rate() < 0.01
    idle = [AgentView(AgentPhase.IDLE, 5.0)] * 10
    assert PredictivePacer().dials_to_place(snap(idle, [], stats, now=now)) == 10  # progressive


def test_an_amd_verdict_delay_lengthens_the_horizon_agents_may_free_up_in() -> None:
    wrapping = [AgentView(AgentPhase.WRAP_UP, 5.0)] * 10  # wrap-up samples run 8-21 s
    without = PredictivePacer().dials_to_place(snap(wrapping, [], trained_stats()))
    stats = trained_stats()
    for _ in range(50):
        stats.live_known(8.0)  # each live answer is known 8 s after it is answered
    assert PredictivePacer().dials_to_place(snap(wrapping, [], stats)) > without


def test_abandons_settling_after_a_fall_back_still_lower_the_tolerance() -> None:
    # The dials placed while predicting settle up to one dial's lifetime later, often after the
    # pacer fell back to progressive: their abandons must count, or tau only ever climbs.
    stats = trained_stats()
    pacer = PredictivePacer()
    idle = [AgentView(AgentPhase.IDLE, 5.0)] * 10
    assert pacer.dials_to_place(snap(idle, [], stats, now=300.0)) > 10  # predicting
    before = pacer.tau(0.03)
    for i in range(7):
        stats.live_answer(301.0 + i, True)  # 7 / 207: the cap is at risk, so progressive next
    assert pacer.dials_to_place(snap(idle, [], stats, now=310.0)) == 10
    first = pacer.tau(0.03)
    assert first < before
    stats.live_answer(312.0, True)  # a dial placed at 300 abandons while the pacer is progressive
    assert pacer.dials_to_place(snap(idle, [], stats, now=315.0)) == 10
    lowered = pacer.tau(0.03)
    assert lowered < first
    # long after the last prediction, answers of the progressive spell teach it nothing
    for i in range(300):
        stats.live_answer(400.0 + i, False)
    pacer.dials_to_place(snap(idle, [], stats, now=10_000.0))
    assert pacer.tau(0.03) == lowered
