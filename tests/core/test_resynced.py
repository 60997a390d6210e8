"""After a reconnect the engine reconciles with what FreeSWITCH reports (the Resynced marker).

Calls and agent legs the node no longer has ended while nobody was listening: each call ends once
as ``lost`` (never "answered") and its agent is freed; what the node still has is left alone.
"""

from __future__ import annotations

from core_switch import Switch, agent, make_switch

from ctilink.core import Disposition
from ctilink.core import notifications as nt
from ctilink.events import Resynced


def _connected(sw: Switch, customer: str, agent_id: str) -> str:
    sw.park(customer)
    leg = sw.leg_of(agent_id)
    sw.ring(leg)
    sw.answer_and_return(leg)
    return leg


def test_calls_the_node_no_longer_has_end_once_as_lost_and_free_their_agents() -> None:
    sw = make_switch(agents=[agent("a", wrap_up_s=0), agent("b", wrap_up_s=0)])
    sw.login("a", "b")
    leg_a = _connected(sw, "c1", "a")
    leg_b = _connected(sw, "c2", "b")
    assert sw.state("a") == sw.state("b") == "on-call"
    # c1 and its agent leg ended while ctilink was disconnected; c2 is still up.
    effects = sw.send(Resynced(uuids=["c2", leg_b]))
    assert effects.commands == []  # nothing to hang up: the switch already has no such channels
    ended = [n.record for n in sw.of(nt.CallEnded)]
    assert [(r.call_id, r.disposition) for r in ended] == [(sw.call_id("c1"), Disposition.LOST)]
    assert sw.state("a") == "available" and sw.state("b") == "on-call"
    # A late hang-up of the lost call changes nothing; the live call goes on as usual.
    sw.hangup("c1")
    sw.hangup(leg_a)
    assert len(sw.of(nt.CallEnded)) == 1
    sw.hangup("c2")
    sw.hangup(leg_b)
    assert [r.disposition for r in (n.record for n in sw.of(nt.CallEnded))] == [
        Disposition.LOST,
        Disposition.ANSWERED,
    ]


def test_a_resync_that_lists_every_channel_changes_nothing() -> None:
    sw = make_switch(agents=[agent("a", wrap_up_s=0)])
    sw.login("a")
    leg = _connected(sw, "c1", "a")
    effects = sw.send(Resynced(uuids=["c1", leg]))
    assert effects.commands == [] and effects.notifications == []
    assert sw.state("a") == "on-call"
