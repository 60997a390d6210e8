"""The pacer is fed what the calls really do, on the daemon's path (CampaignEngine = Engine + Dialer).

A connected conversation is no dial in flight and holds no line; the agents' talk and wrap-up
times reach the pacer's statistics from the engine's own agent changes.
"""

from __future__ import annotations

from helpers import Rig, contacts

from ctilink.core import requests as rq
from ctilink.dialer.campaign import CampaignConfig, Mode
from ctilink.dialer.dialer import StartCampaign
from ctilink.dialer.pacer import Outcome

NUMBERS = [f"+4420712300{i:02d}" for i in range(1, 30)]


def _started(agents: list[str], **kw: object) -> Rig:
    cfg = CampaignConfig(
        name="spring", mode=Mode.PROGRESSIVE, queue="outbound", region="GB", caller_id_number="442070000000", **kw
    )  # type: ignore[arg-type]
    rig = Rig(cfg, agents, disposition_codes=("machine", "sale"))
    rig.load(contacts(cfg.name, NUMBERS))
    for a in agents:
        rig.login(a)
    rig.send(StartCampaign(cfg.name))
    return rig


def _talking(rig: Rig) -> str:
    """Answer the first dial and connect it to an agent; the customer's uuid."""
    first = rig.dials()[0]
    rig.now += 5
    rig.answer(first.uuid)
    rig.now += 0.5
    rig.connect_agent()
    return first.uuid


def test_a_connected_call_is_no_dial_in_flight_so_the_idle_agent_gets_a_line() -> None:
    rig = _started(["1001", "1002"])
    assert len(rig.dials()) == 2  # two idle agents: two lines
    _talking(rig)
    second = rig.dials()[1]
    rig.now += 15
    rig.fail(second.uuid, "NO_ANSWER")
    # 1001 talks to the first customer; 1002 is idle: progressive dials for 1002 at once.
    assert len(rig.dials()) == 3
    stats = rig.dialer.stats("spring", rig.now)
    assert stats.dials_in_flight == 1 and stats.connected == 1


def test_a_conversation_holds_no_line_of_the_campaign() -> None:
    rig = _started(["1001", "1002"], max_lines=1)
    assert len(rig.dials()) == 1  # one line
    _talking(rig)
    # The line is free again while 1001 talks: 1002 gets the next dial.
    assert len(rig.dials()) == 2


def test_talk_and_wrap_up_times_reach_the_pacer() -> None:
    rig = _started(["1001"])
    customer = _talking(rig)
    rig.now += 42
    rig.hangup(customer)  # the customer ends the call: the agent wraps up (queue wrap_up_s = 5)
    rig.advance(rig.now + 6)
    book = rig.dialer._campaign("spring")
    assert book.stats.talk.quantile(0.5, -1.0) == 42.0
    assert book.stats.wrap.quantile(0.5, -1.0) == 5.0


def test_a_machine_the_agent_marks_is_no_live_answer_so_the_rate_is_the_legal_one() -> None:
    rig = _started(["1001"])  # no AMD: every answer looks live until someone says otherwise
    customer = _talking(rig)
    book = rig.dialer._campaign("spring")
    assert book.stats.live_total == 1
    rig.send(rq.SetDisposition("1001", "machine"))
    rig.now += 20
    rig.hangup(customer)
    rig.advance(rig.now + 6)  # wrap-up over: the engine's record says what the agent saw
    assert book.stats.live_total == 0
    assert book.stats.outcomes[Outcome.MACHINE] == 1 and book.stats.outcomes[Outcome.LIVE] == 0
    assert book.stats.window(rig.now) == (0, 0)


def test_a_real_conversation_stays_a_live_answer() -> None:
    rig = _started(["1001"])
    customer = _talking(rig)
    rig.send(rq.SetDisposition("1001", "sale"))
    rig.now += 20
    rig.hangup(customer)
    rig.advance(rig.now + 6)
    assert rig.dialer._campaign("spring").stats.live_total == 1


def test_the_amd_verdicts_delay_reaches_the_pacer() -> None:
    rig = _started(["1001"], amd=True)
    first = rig.dials()[0]
    rig.now += 5
    rig.answer(first.uuid)
    rig.now += 3
    rig.amd(first.uuid, "human")  # live now: its connect deadline starts here, not at the answer
    assert rig.dialer._campaign("spring").stats.verdict.quantile(0.5, -1.0) == 3.0
