"""The settle table and the reserved holds: complete, and the ones the docs show."""

from __future__ import annotations

from pathlib import Path

from ctilink.core import settle
from ctilink.core.agent import HOLDS, TRANSITIONS, AgentEvent, AgentState, Hold

DOC = Path(__file__).resolve().parents[2] / "docs" / "engine.md"


def test_every_moment_and_wish_settles_to_an_event_the_agent_table_allows() -> None:
    sources = {
        settle.Moment.HANGUP: AgentState.ON_CALL,
        settle.Moment.WRAP_END: AgentState.WRAP_UP,
        settle.Moment.OFFER_CLOSED: AgentState.RESERVED,
        settle.Moment.RELEASED: AgentState.RESERVED,
    }
    for moment, state in sources.items():
        for wish in settle.Wish:
            event = settle.SETTLE[(moment, wish, False)]
            assert event in TRANSITIONS[state], (moment, wish, event)
    # Only a call or a wrap-up can end with another line ringing; then the agent stays reserved.
    ringing = {key: event for key, event in settle.SETTLE.items() if key[2]}
    assert {key[0] for key in ringing} == {settle.Moment.HANGUP, settle.Moment.WRAP_END}
    assert {TRANSITIONS[sources[key[0]]][event] for key, event in ringing.items()} == {AgentState.RESERVED}


def test_a_pending_wish_is_honoured_by_the_target_state() -> None:
    targets = {settle.Wish.NONE: AgentState.AVAILABLE, settle.Wish.PAUSE: AgentState.NOT_READY}
    targets[settle.Wish.LOGOUT] = AgentState.LOGGED_OUT
    for (moment, wish, ringing), event in settle.SETTLE.items():
        if ringing:
            continue
        source = AgentState.WRAP_UP if moment is settle.Moment.WRAP_END else AgentState.RESERVED
        source = AgentState.ON_CALL if moment is settle.Moment.HANGUP else source
        assert TRANSITIONS[source][event] is targets[wish], (moment, wish, event)


def test_every_way_into_reserved_names_its_hold() -> None:
    into_reserved = {
        e for moves in TRANSITIONS.values() for e, target in moves.items() if target is AgentState.RESERVED
    }
    assert into_reserved == set(HOLDS)
    assert HOLDS[AgentEvent.RESERVE] is Hold.OUTBOUND
    assert {e for e, hold in HOLDS.items() if hold is Hold.OUTBOUND} == {AgentEvent.RESERVE}


def test_the_docs_show_the_settle_table() -> None:
    assert settle.doc_table() in DOC.read_text(), "the settle table in docs/engine.md is out of date"
