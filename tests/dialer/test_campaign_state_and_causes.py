"""The dialer's run-state table, its agent states, and the hang-up table it shares with the engine."""

from __future__ import annotations

import pytest
from helpers import MONDAY_NOON_UTC, Ids

from ctilink.commands import HANGUP_CAUSES
from ctilink.core.agent import AgentState
from ctilink.core.call import OfferOutcome
from ctilink.core.causes import CAUSES, CauseClass, classify
from ctilink.core.engine import offer_outcome
from ctilink.dialer.campaign import AttemptOutcome, CampaignConfig
from ctilink.dialer.campaign_state import (
    TRANSITIONS,
    CampaignEvent,
    CampaignState,
    IllegalCampaignTransition,
    transition,
)
from ctilink.dialer.dialer import AGENT_PHASES, Dialer
from ctilink.dialer.errors import DialerError
from ctilink.dialer.messages import CampaignStateChanged, PauseCampaign, ResumeCampaign, StartCampaign, StopCampaign
from ctilink.dialer.outcomes import ATTEMPT_OUTCOMES, unanswered_outcome

SIP_CODES = (None, 403, 404, 408, 480, 486, 487, 488, 500, 503, 600, 603)


def test_the_table_names_every_state_and_only_known_events() -> None:
    assert set(TRANSITIONS) == set(CampaignState)
    for state, row in TRANSITIONS.items():
        assert set(row) <= set(CampaignEvent), state
        assert row.get(CampaignEvent.STOP) is CampaignState.STOPPED  # stop is always allowed
        assert row.get(CampaignEvent.START) in (CampaignState.RUNNING, None)


def test_resume_does_not_undo_a_stop_and_the_error_names_campaign_state_and_event() -> None:
    with pytest.raises(IllegalCampaignTransition) as raised:
        transition("spring", CampaignState.STOPPED, CampaignEvent.RESUME)
    assert isinstance(raised.value, DialerError)
    text = str(raised.value)
    assert "spring" in text and "stopped" in text and "resume" in text
    assert raised.value.code == "illegal-transition"


def _dialer() -> Dialer:
    dialer = Dialer(id_factory=Ids("d"))
    dialer.add_campaign(CampaignConfig(name="spring", queue="outbound", agents=["1001"]))
    return dialer


def test_requests_move_the_run_state_through_the_table_and_repeats_say_nothing() -> None:
    dialer, now = _dialer(), MONDAY_NOON_UTC
    said: list[CampaignState] = []
    for req in (StartCampaign("spring"), StartCampaign("spring"), PauseCampaign("spring"), ResumeCampaign("spring")):
        out = dialer.request(req, now)
        said += [n.state for n in out.notifications if isinstance(n, CampaignStateChanged)]
    assert said == [CampaignState.RUNNING, CampaignState.PAUSED, CampaignState.RUNNING]
    dialer.request(StopCampaign("spring"), now)
    with pytest.raises(IllegalCampaignTransition):
        dialer.request(ResumeCampaign("spring"), now)
    again = dialer.request(StartCampaign("spring"), now)
    assert [n.state for n in again.notifications if isinstance(n, CampaignStateChanged)] == [CampaignState.RUNNING]


def test_agent_states_are_the_engines_enum_and_every_one_is_mapped() -> None:
    assert set(AGENT_PHASES) == set(AgentState)
    dialer = _dialer()
    with pytest.raises(KeyError):
        dialer.agent_changed("1001", "on_call", MONDAY_NOON_UTC)  # type: ignore[arg-type]  # strings are not states


def test_every_hang_up_class_has_an_attempt_outcome() -> None:
    assert set(ATTEMPT_OUTCOMES) == set(CauseClass)


@pytest.mark.parametrize("cause", sorted(HANGUP_CAUSES))
def test_the_engine_and_the_dialer_read_every_cause_the_same_way(cause: str) -> None:
    for code in SIP_CODES:
        offer, attempt = offer_outcome(cause, code), unanswered_outcome(cause, code)
        # A no-answer for an agent's offer is a no-answer for a customer dial, and only then.
        assert (offer is OfferOutcome.NO_ANSWER) == (attempt is AttemptOutcome.NO_ANSWER), (cause, code)
        # Someone at the far end refused (busy or decline): the dialer's busy, and only then.
        assert (offer in (OfferOutcome.BUSY, OfferOutcome.REJECTED)) == (attempt is AttemptOutcome.BUSY), (cause, code)
        # Called off on our side or failed: never held against the customer as a no-answer or busy.
        if offer in (OfferOutcome.CANCELLED, OfferOutcome.FAILED):
            assert attempt is AttemptOutcome.FAILED, (cause, code)


def test_the_causes_the_two_once_disagreed_on() -> None:
    assert offer_outcome("ORIGINATOR_CANCEL") is OfferOutcome.CANCELLED
    assert unanswered_outcome("ORIGINATOR_CANCEL", None) is AttemptOutcome.FAILED  # not a no-answer
    assert offer_outcome("CALL_REJECTED") is OfferOutcome.REJECTED
    assert unanswered_outcome("CALL_REJECTED", 603) is AttemptOutcome.BUSY
    # FreeSWITCH's own ring timeout CANCELs and the far end answers 487: the cause says who gave up.
    assert classify("NO_ANSWER", 487) is CauseClass.NO_ANSWER
    # The table names FreeSWITCH's causes, and the one ctilink gives legs on a switch shutting down.
    assert set(CAUSES) - HANGUP_CAUSES == {"SWITCH_SHUTDOWN"}


def test_the_docs_draw_the_run_state_table() -> None:
    from pathlib import Path

    from ctilink.core.diagrams import mermaid

    docs = (Path(__file__).parents[2] / "docs" / "dialer.md").read_text()
    assert mermaid(TRANSITIONS) in docs


def test_a_dialer_waiting_for_the_switch_places_no_dial_until_it_has_resynced() -> None:
    # A daemon starting up paces its campaigns before its event socket is connected: a dial then
    # fails with no link and the contact is lost to the failed-retry delay. It waits for Resynced.
    from ctilink.commands import Originate
    from ctilink.dialer.types import Contact
    from ctilink.events import Resynced

    dialer, now = _dialer(), MONDAY_NOON_UTC
    dialer.hold_until_resynced()
    dialer.load_contacts("spring", [Contact(campaign="spring", contact_id="c1", number="+442071230001")], now)
    dialer.agent_changed("1001", AgentState.AVAILABLE, now)
    out = dialer.request(StartCampaign("spring"), now)
    assert [c for c in out.commands if isinstance(c, Originate)] == []
    assert dialer.next_deadline() is None or dialer.next_deadline() > now  # nothing due: no busy loop
    assert [c for c in dialer.tick(now + 60).commands if isinstance(c, Originate)] == []
    dials = [
        c for c in dialer.on_event(Resynced(node="fs", resync=True), now + 61).commands if isinstance(c, Originate)
    ]
    assert [d.variables["ctilink_contact_id"] for d in dials] == ["c1"]


def test_the_dialers_values_and_the_stores_records_have_the_same_fields() -> None:
    from dataclasses import fields

    from ctilink.dialer.types import Attempt, Contact
    from ctilink.store.campaign_records import attempt_record, contact_record
    from ctilink.store.records import CampaignAttempt, CampaignContact

    for ours, theirs in ((Contact, CampaignContact), (Attempt, CampaignAttempt)):
        assert [f.name for f in fields(ours)] == [f.name for f in fields(theirs)]
    contact = Contact(campaign="spring", contact_id="c1", number="+442071230001", data={"name": "Ann"})
    record = contact_record(contact)
    assert record.number == contact.number and record.data == {"name": "Ann"} and record.data is not contact.data
    attempt = Attempt(attempt_id="a1", campaign="spring", contact_id="c1", started_at=1.0, data={"cause": "USER_BUSY"})
    assert attempt_record(attempt).data == {"cause": "USER_BUSY"}
