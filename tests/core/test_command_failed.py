"""A command that never took effect comes back to the engine as CommandFailed.

For an agent originate that could not be rendered, written or was refused by the node, the offer
failed through no fault of the agent: no no-answer is charged, nothing is hung up (no leg exists)
and the call keeps its place and is offered again once the agent's short rest is over.
"""

from __future__ import annotations

from core_switch import agent, make_switch

from ctilink import commands as cmd
from ctilink.core import notifications as nt
from ctilink.events import CommandFailed


def test_a_failed_originate_is_not_the_agents_fault_and_the_call_is_offered_again() -> None:
    sw = make_switch(agents=[agent("a")], max_no_answer=1, busy_delay_s=2.0)
    sw.login("a")
    sw.park("c1")
    first = next(o for o in sw.offers() if o.variables["ctilink_agent_id"] == "a")
    effects = sw.send(CommandFailed(command="Originate", reason="EslDisconnected", job_uuid=first.job_uuid))
    assert not sw.cmds(cmd.Hangup, effects)  # the leg never existed: nothing to hang up
    assert [n.result.value for n in sw.of(nt.OfferResult)] == ["not-sent"]
    view = sw.engine.agent_view("a")
    assert view.no_answer_streak == 0 and sw.state("a") == "available"  # not paused for no-answer
    call = sw.engine.call_view(sw.call_id("c1"))
    assert call is not None and call.state.value == "queued"
    again = sw.advance(2.0)
    assert [o.variables["ctilink_agent_id"] for o in sw.offers(again)] == ["a"]
    assert sw.leg_of("a") != first.uuid


def test_a_failed_command_for_a_leg_that_exists_changes_nothing() -> None:
    sw = make_switch(agents=[agent("a")])
    sw.login("a")
    sw.park("c1")
    leg = sw.leg_of("a")
    sw.ring(leg)
    sw.answer_and_return(leg)
    effects = sw.send(CommandFailed(command="Hangup", reason="-ERR No such channel!", uuid=leg))
    assert effects.commands == [] and sw.state("a") == "on-call"
