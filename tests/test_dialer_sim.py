"""Campaigns end to end through the SIMULATED SWITCH: CampaignEngine (engine + dialer) driven by the sim.

Every flow here goes through the sim's fabric: Originates are rendered and executed, legs ring,
answer, fail or time out, the engine bridges agents, and the dialer maps outcomes back. The
outbound model is set per test so the outcome under test is certain (p = 1), not sampled.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

import pytest

from ctilink import commands as cmd
from ctilink.core import AgentProfile, Engine, EngineConfig, QueueConfig
from ctilink.core import notifications as nt
from ctilink.core import requests as rq
from ctilink.dialer.campaign import CampaignConfig, Mode, RetryRule, RetryRules
from ctilink.dialer.dialer import (
    AttemptRecorded,
    ContactUpdated,
    Dialer,
    DialRefused,
    PauseCampaign,
    PreviewAccept,
    PreviewOffered,
    PreviewSkip,
    ResumeCampaign,
    ScheduleCallback,
    StartCampaign,
)
from ctilink.dialer.pacer import Outcome
from ctilink.dialer.policies import PowerPacer
from ctilink.dialer.runtime import CampaignEngine
from ctilink.dialer.types import Contact
from ctilink.dialer.windows import CallingWindow
from ctilink.events import MachineDetected
from ctilink.sim import AgentBehaviour, CallerBehaviour, Fixed, SimulatedSwitch
from ctilink.sim.models import OutboundAnswer
from ctilink.testing.invariants import check_invariants

MONDAY_NOON_UTC = 1_700_481_600.0  # 2023-11-20 12:00 UTC (12:00 in London)
LONDON = [f"+4420712300{i:02d}" for i in range(1, 41)]
TALK = CallerBehaviour(patience=Fixed(120.0), talk=Fixed(30.0), hangs_up_first=1.0)


class Run:
    def __init__(
        self,
        campaign: CampaignConfig,
        agents: list[str],
        outbound: OutboundAnswer,
        *,
        n_contacts: int = 2,
        pacer: object | None = None,
        seed: int = 7,
        auto_answer: bool = False,
        agent_ring_s: float = 1.0,
        machine_disposition: str | None = None,
    ) -> None:
        config = EngineConfig(
            queues=[QueueConfig(name=campaign.queue, wrap_up_s=3.0, auto_answer=auto_answer)],
            agents=[AgentProfile(id=a, endpoints=[f"user/{a}"]) for a in agents],
            disposition_codes=list(campaign.machine_dispositions),
        )
        self.engine = Engine(config, rng=random.Random(seed))
        self.dialer = Dialer(dnc=self.engine.check_dnc)
        self.dialer.add_campaign(campaign, pacer=pacer)  # type: ignore[arg-type]
        self.rt = CampaignEngine(self.engine, self.dialer, MONDAY_NOON_UTC)
        self.sim = SimulatedSwitch(self.rt, seed=seed, start=MONDAY_NOON_UTC, outbound=outbound, keep_events=True)
        self.name = campaign.name
        self.loaded = self.dialer.load_contacts(
            self.name,
            [
                Contact(campaign=self.name, contact_id=f"c{i}", number=n, data={"name": f"Customer {i}"})
                for i, n in enumerate(LONDON[:n_contacts], 1)
            ],
            self.sim.now,
        ).notifications
        behaviour = AgentBehaviour(
            ring_delay=Fixed(agent_ring_s), wrap_up_time=Fixed(1.0), machine_disposition=machine_disposition
        )
        self.sim.add_agents(agents, behaviour)
        self.sim.run_for(1.0)

    def start(self) -> None:
        self.sim.request(StartCampaign(self.name))

    def dials(self, contact_id: str | None = None) -> list[cmd.Originate]:
        return [
            c
            for c in self.sim.commands_seen
            if isinstance(c, cmd.Originate)
            and c.variables.get("ctilink_role") == "customer"
            and (contact_id is None or c.variables["ctilink_contact_id"] == contact_id)
        ]

    def attempts(self, contact_id: str | None = None) -> list:
        return [
            n.attempt
            for n in self.sim.notifications
            if isinstance(n, AttemptRecorded)
            and n.attempt.ended_at is not None
            and (contact_id is None or n.attempt.contact_id == contact_id)
        ]

    def contact(self, contact_id: str) -> Contact:
        return [
            n.contact
            for n in self.sim.notifications
            if isinstance(n, ContactUpdated) and n.contact.contact_id == contact_id
        ][-1]

    def notes(self, kind: type) -> list:
        return [n for n in self.sim.notifications if isinstance(n, kind)]


def campaign(**kw: object) -> CampaignConfig:
    base: dict[str, object] = dict(
        name="spring",
        mode=Mode.PROGRESSIVE,
        queue="outbound",
        region="GB",
        caller_id_number="442070000000",
        max_attempts=3,
        windows=(CallingWindow(days=(0, 1, 2, 3, 4, 5, 6), start=dt.time(8), end=dt.time(21)),),
    )
    base.update(kw)
    return CampaignConfig(**base)  # type: ignore[arg-type]


def answered(p_machine: float = 0.0) -> OutboundAnswer:
    return OutboundAnswer(ring_delay=Fixed(4.0), p_answer=1.0, p_busy=0.0, behaviour=TALK, p_machine=p_machine)


def test_progressive_answers_connect_to_the_agent_and_every_attempt_ends_connected() -> None:
    run = Run(campaign(), ["1001"], answered(), n_contacts=3)
    run.start()
    run.sim.run_for(300)
    dials = run.dials()
    assert len(dials) == 3
    assert all(d.application == "park" and d.timeout_s == 20 for d in dials)
    assert [a.outcome for a in run.attempts()] == ["connected"] * 3
    assert all(a.data["agent_id"] == "1001" for a in run.attempts())
    # one agent, one line: each dial waited for the previous customer to be done
    starts = [a.started_at for a in run.attempts()]
    assert starts == sorted(starts) and starts[1] - starts[0] > 30
    assert [run.contact(f"c{i}").status for i in (1, 2, 3)] == ["done"] * 3
    assert len(run.notes(nt.CallAnswered)) == 3 and not [e for e in run.sim.errors if not e.stale]
    assert check_invariants(run.engine) == []
    stats = run.dialer.stats("spring", run.sim.now)
    assert stats.connected == 3 and stats.abandoned == 0 and stats.dials_in_flight == 0


@pytest.mark.parametrize(
    ("model", "outcome", "cause"),
    [
        (OutboundAnswer(p_answer=0.0, p_busy=1.0), "busy", "USER_BUSY"),
        (OutboundAnswer(p_answer=0.0, p_busy=0.0), "no_answer", "NO_ANSWER"),
        (OutboundAnswer(p_answer=0.0, p_busy=0.0, p_failed=1.0), "failed", "NORMAL_TEMPORARY_FAILURE"),
    ],
)
def test_unanswered_outcomes_are_mapped_back_and_retried_after_their_delay(
    model: OutboundAnswer, outcome: str, cause: str
) -> None:
    retry = RetryRules(
        busy=RetryRule(delay_s=120.0), no_answer=RetryRule(delay_s=120.0), failed=RetryRule(delay_s=120.0)
    )
    run = Run(campaign(retry=retry, max_attempts=2), ["1001"], model, n_contacts=1)
    run.start()
    run.sim.run_for(60)
    (first,) = run.attempts("c1")
    assert first.outcome == outcome and first.data["cause"] == cause
    contact = run.contact("c1")
    assert contact.status == "pending" and contact.next_attempt_at == pytest.approx(first.ended_at + 120.0)
    assert len(run.dials("c1")) == 1  # not redialed before the retry delay
    run.sim.run_for(200)
    assert len(run.dials("c1")) == 2
    assert [a.outcome for a in run.attempts("c1")] == [outcome, outcome]
    assert run.contact("c1").status == "exhausted"  # max_attempts = 2: no third dial
    run.sim.run_for(600)
    assert len(run.dials("c1")) == 2


def test_answering_machines_are_hung_up_and_recorded_as_machine() -> None:
    run = Run(campaign(amd=True), ["1001"], answered(p_machine=1.0), n_contacts=1)
    run.start()
    run.sim.run_for(60)
    (dial,) = run.dials()
    assert dial.variables["execute_on_answer"] == "avmd_start"
    verdicts = [e for e in run.sim.events_seen if isinstance(e, MachineDetected)]
    assert [v.result for v in verdicts] == ["machine"]
    (attempt,) = run.attempts()
    assert attempt.outcome == "machine"
    hangups = [c for c in run.sim.commands_seen if isinstance(c, cmd.Hangup) and c.uuid == dial.uuid]
    assert hangups, "the dialer hangs up a machine"
    assert not run.notes(nt.CallArrived)  # never offered to an agent


def test_amd_human_verdict_connects() -> None:
    run = Run(campaign(amd=True), ["1001"], answered(p_machine=0.0), n_contacts=1)
    run.start()
    run.sim.run_for(120)
    assert [e.result for e in run.sim.events_seen if isinstance(e, MachineDetected)] == ["human"]
    assert [a.outcome for a in run.attempts()] == ["connected"]


def test_live_answers_with_no_free_agent_hear_the_announcement_and_count_as_abandoned() -> None:
    # a blind 3:1 over-dial for one agent: two of three live answers cannot be connected in 2 s
    run = Run(campaign(max_lines=3), ["1001"], answered(), n_contacts=3, pacer=PowerPacer(ratio=3.0))
    run.start()
    run.sim.run_for(20)
    assert len(run.dials()) == 3
    outcomes = Counter(a.outcome for a in run.attempts())
    assert outcomes["abandoned"] == 2
    plays = [c for c in run.sim.commands_seen if isinstance(c, cmd.Playback) and "moh" not in c.path]
    assert len(plays) == 2 and all(p.path == "ivr/ivr-call_being_transferred.wav" for p in plays)
    run.sim.run_for(120)
    assert Counter(a.outcome for a in run.attempts()) == {"abandoned": 2, "connected": 1}
    stats = run.dialer.stats("spring", run.sim.now)
    assert stats.abandoned == 2 and stats.abandon_rate == pytest.approx(2 / 3)
    abandoned = [run.contact(a.contact_id) for a in run.attempts() if a.outcome == "abandoned"]
    assert all(c.next_attempt_at is not None and c.next_attempt_at - run.sim.now > 70 * 3600 for c in abandoned)


def test_window_and_dnc_refusals_are_recorded_and_the_window_reschedules() -> None:
    # London is at 12:00; the window opens at 13:00 on Mondays
    run = Run(
        campaign(windows=(CallingWindow(days=(0,), start=dt.time(13), end=dt.time(14)),)),
        ["1001"],
        answered(),
        n_contacts=2,
    )
    run.sim.request(rq.AddListEntry(list_name="dnc", number=LONDON[1]))
    run.start()
    run.sim.run_for(30)
    refused = {(r.contact_id, r.reason) for r in run.notes(DialRefused)}
    assert refused == {("c1", "window"), ("c2", "dnc")}
    assert run.dials() == []
    assert run.contact("c2").status == "dnc"
    opens = MONDAY_NOON_UTC + 3600
    due = run.contact("c1").next_attempt_at
    assert due is not None and opens <= due <= opens + 120  # rescheduled to the opening, not dropped
    run.sim.run_until(opens - 1)
    assert run.dials() == []
    run.sim.run_until(opens + 300)
    assert [d.variables["ctilink_contact_id"] for d in run.dials()] == ["c1"]
    assert [a.outcome for a in run.attempts("c1")] == ["refused", "connected"]
    assert run.attempts("c1")[1].started_at >= opens


def test_pause_stops_new_dials_and_resume_continues() -> None:
    run = Run(campaign(), ["1001"], answered(), n_contacts=4)
    run.start()
    run.sim.run_for(10)  # c1 answered and talking
    run.sim.request(PauseCampaign("spring"))
    run.sim.run_for(300)
    assert len(run.dials()) == 1 and [a.outcome for a in run.attempts()] == ["connected"]
    run.sim.request(ResumeCampaign("spring"))
    run.sim.run_for(300)
    assert len(run.dials()) == 4
    assert Counter(a.outcome for a in run.attempts()) == {"connected": 4}


def test_preview_accept_dials_for_that_agent_and_skip_records_the_reason() -> None:
    run = Run(campaign(mode=Mode.PREVIEW), ["1001"], answered(), n_contacts=2)
    run.start()
    (offer,) = run.notes(PreviewOffered)
    assert offer.agent_id == "1001" and offer.contact_id == "c1" and offer.fields["name"] == "Customer 1"
    assert run.dials() == []  # nothing is dialed before the agent says so
    run.sim.request(PreviewSkip("spring", "1001", "wrong person"))
    (skipped,) = run.attempts("c1")
    assert skipped.outcome == "skipped" and skipped.data["reason"] == "wrong person"
    offers = run.notes(PreviewOffered)
    assert [o.contact_id for o in offers] == ["c1", "c2"]
    run.sim.request(PreviewAccept("spring", "1001"))
    (dial,) = run.dials()
    assert dial.variables["ctilink_contact_id"] == "c2"
    run.sim.run_for(120)
    (attempt,) = run.attempts("c2")
    assert attempt.outcome == "connected" and attempt.data["agent_id"] == "1001"


def test_callbacks_are_dialed_at_their_time_for_the_kept_agent() -> None:
    run = Run(campaign(), ["1001", "1002"], answered(), n_contacts=1)
    at = MONDAY_NOON_UTC + 600
    run.sim.request(ScheduleCallback("spring", "c1", at, agent_id="1002"))
    run.start()
    run.sim.run_for(300)
    assert run.dials() == [] and run.contact("c1").status == "callback"
    run.sim.run_until(at + 120)
    (_dial,) = run.dials()
    (attempt,) = run.attempts("c1")
    assert attempt.started_at >= at and attempt.outcome == "connected" and attempt.data["agent_id"] == "1002"
    answers = run.notes(nt.CallAnswered)
    assert [a.agent_id for a in answers] == ["1002"]


def test_predictive_campaign_runs_an_hour_with_bounded_lines_and_one_outcome_per_attempt() -> None:
    agents = [f"10{i:02d}" for i in range(1, 7)]
    model = OutboundAnswer(p_answer=0.5, p_busy=0.15, p_failed=0.05, behaviour=TALK)
    run = Run(
        campaign(
            mode=Mode.PREDICTIVE,
            max_lines=12,
            retry=RetryRules(
                busy=RetryRule(retry=False), no_answer=RetryRule(retry=False), failed=RetryRule(retry=False)
            ),
        ),
        agents,
        model,
        n_contacts=40,
        seed=3,
    )
    # more contacts than the fixture list: numbers from the same block
    extra = [Contact(campaign="spring", contact_id=f"x{i}", number=f"+4420712{i:05d}") for i in range(100, 700)]
    run.dialer.load_contacts("spring", extra, run.sim.now)
    peak = 0
    run.sim.on_command.append(lambda c: None)
    run.start()
    end = run.sim.now + 3600
    while run.sim.now < end:
        run.sim.run_for(5)
        peak = max(peak, run.dialer.stats("spring", run.sim.now).dials_in_flight)
    started = {n.attempt.attempt_id for n in run.notes(AttemptRecorded) if n.attempt.ended_at is None}
    ended = Counter(n.attempt.attempt_id for n in run.notes(AttemptRecorded) if n.attempt.ended_at is not None)
    assert started and all(ended[a] <= 1 for a in started)
    in_flight = run.dialer.stats("spring", run.sim.now).dials_in_flight
    assert len(started) - sum(1 for a in started if ended[a]) == in_flight
    assert peak <= 12
    stats = run.dialer.stats("spring", run.sim.now)
    assert stats.connected > 50
    assert peak > len(agents) // 2
    assert stats.abandon_rate <= 0.1
    assert check_invariants(run.engine) == [] and not [e for e in run.sim.errors if not e.stale]


@pytest.mark.parametrize(("auto_answer", "outcome"), [(False, "abandoned"), (True, "connected")])
def test_a_phone_slower_than_the_connect_deadline_abandons_unless_it_answers_at_once(
    auto_answer: bool, outcome: str
) -> None:
    # The agent is free when the customer answers, but their phone rings 4 s: past the 2 s
    # deadline. Asked to auto-answer (sip_auto_answer), the phone picks up at once.
    run = Run(campaign(), ["1001"], answered(), n_contacts=1, auto_answer=auto_answer, agent_ring_s=4.0)
    run.start()
    run.sim.run_for(120)
    assert [a.outcome for a in run.attempts()] == [outcome]


def test_amd_errors_machine_ring_times_and_a_changing_answer_rate_are_the_switchs_word() -> None:
    # Every answer is a machine, AMD misses every one, machines pick up at 9 s: the dialer can only
    # go by what the switch reports, so each is connected to the agent after a 9 s ring.
    model = OutboundAnswer(
        ring_delay=Fixed(4.0),
        p_answer=1.0,
        p_busy=0.0,
        behaviour=TALK,
        p_machine=1.0,
        machine_ring_delay=Fixed(9.0),
        amd_miss=1.0,
    )
    run = Run(campaign(amd=True), ["1001"], model, n_contacts=2)
    run.start()
    run.sim.run_for(300)
    attempts = run.attempts()
    assert [a.outcome for a in attempts] == ["connected", "connected"]
    answered = [e for e in run.sim.events_seen if isinstance(e, MachineDetected)]
    assert [e.result for e in answered] == ["human", "human"]
    rings = run.dialer._campaign("spring").stats.ring[Outcome.LIVE]
    assert 9.0 <= rings.quantile(0.0, 0.0) < 9.5  # the machines' ring, not the humans' 4 s
    # A false positive: a human AMD calls a machine is hung up as one.
    fp = OutboundAnswer(ring_delay=Fixed(4.0), p_answer=1.0, p_busy=0.0, behaviour=TALK, amd_false_positive=1.0)
    run = Run(campaign(amd=True), ["1001"], fp, n_contacts=1)
    run.start()
    run.sim.run_for(60)
    assert [a.outcome for a in run.attempts()] == ["machine"]
    # Nobody answers after the first minute.
    later = OutboundAnswer(
        ring_delay=Fixed(4.0), p_answer=1.0, p_busy=0.0, behaviour=TALK, answer_schedule=((60.0, 0.0),)
    )
    assert later.answer_rate(59.0) == 1.0 and later.answer_rate(60.0) == 0.0
    with pytest.raises(ValueError, match="answer_schedule"):
        OutboundAnswer(answer_schedule=((0.0, 1.5),))


@pytest.mark.parametrize(("code", "live"), [(None, 3), ("machine", 0)])
def test_a_machine_amd_missed_that_the_agent_marks_machine_leaves_the_live_answers(code: str | None, live: int) -> None:
    # Every answer is a machine that AMD calls human, so each is connected to the agent. The agent
    # who hears a machine marks the call "machine" (the campaign's machine disposition): the legal
    # count then has no live answer. An agent who says nothing leaves three.
    model = OutboundAnswer(
        ring_delay=Fixed(4.0),
        p_answer=1.0,
        p_busy=0.0,
        behaviour=TALK,
        p_machine=1.0,
        amd_miss=1.0,
        machine_behaviour=CallerBehaviour(patience=Fixed(120.0), talk=Fixed(8.0), hangs_up_first=1.0),
    )
    run = Run(campaign(amd=True), ["1001"], model, n_contacts=3, machine_disposition=code)
    run.start()
    run.sim.run_for(300)
    assert [a.outcome for a in run.attempts()] == ["connected"] * 3
    records = [n.record for n in run.notes(nt.CallEnded)]
    assert [r.disposition_code for r in records] == [code] * 3
    assert [r.talk_s for r in records] == pytest.approx([8.0] * 3, abs=0.5)  # the machine's own length
    assert run.dialer._campaign("spring").stats.live_total == live
    assert check_invariants(run.engine) == []
