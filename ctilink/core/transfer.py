"""Blind transfers of a connected call: to a queue, to an agent, or out to a number.

Rules:
- Only a connected call transfers, to exactly one target, validated before anything changes (a
  known queue, an agent who may be offered it directly, a plain destination and context).
- To a number: the customer leg is transferred in the dialplan and the call ends
  (``transferred-out``). To a queue or an agent: the customer is parked out of the bridge (hold
  music on its park), the old agent's leg is hung up, and the call is queued or offered again.
- Every transfer is a ``TransferRecord`` on the call and a ``CallTransferred`` notification.
"""

from __future__ import annotations

from ctilink.commands import Transfer
from ctilink.core import offers, pools, queueing
from ctilink.core import requests as rq
from ctilink.core.agent import Agent
from ctilink.core.call import Call, CallEvent, CallState, Disposition, TransferRecord
from ctilink.core.config import DESTINATION_RE, NAME_RE
from ctilink.core.errors import AgentUnavailable, CallNotConnected, InvalidValue, UnknownCall, UnknownQueue
from ctilink.core.notifications import CallTransferred
from ctilink.core.queue import QueueRuntime
from ctilink.core.state import EngineState


def transfer(s: EngineState, req: rq.TransferCall) -> None:
    call = s.calls.get(req.call_id)
    if call is None or call.state is CallState.ENDED:
        raise UnknownCall(req.call_id)
    rt, agent = _target(s, req, call)
    now = s.now
    leg = call.connected
    assert leg is not None
    if rt is not None:
        kind, target = "queue", req.queue
    elif agent is not None:
        kind, target = "agent", req.agent_id
    else:
        kind, target = "number", req.number
    assert target is not None
    call.transfers.append(TransferRecord(now, kind, target, call.queue, leg.agent_id, "blind-transfer"))
    s.note(CallTransferred(call.call_id, leg.agent_id, kind, target, now))
    if kind == "number":
        s.cmd(Transfer(call.uuid, target, context=req.context or s.config.transfer_context, node=call.node))
        queueing.end_call(s, call, Disposition.TRANSFERRED_OUT, f"transfer:{target}", True)
        return
    # Take the customer out of the bridge into park; the old agent leg is hung up.
    s.cmd(Transfer(call.uuid, "park", dialplan="inline", node=call.node))
    offers.end_talk(s, leg, kill=True)
    call.pending_moh = True
    call.waiting_key = None
    if rt is not None:
        call.apply(CallEvent.TRANSFER_QUEUE)
        queueing.join_queue(s, call, rt, None, keep_queued_at=False)
    else:
        assert agent is not None
        call.apply(CallEvent.TRANSFER_AGENT)
        call.target_agent = agent.id
        call.timer_token += 1
        call.start_waiting(now)
        offers.offer(s, call, agent)


def _target(s: EngineState, req: rq.TransferCall, call: Call) -> tuple[QueueRuntime | None, Agent | None]:
    """The one target, validated before anything changes: (queue, None), (None, agent), or
    (None, None) for a number."""
    targets = [t for t in (req.queue, req.agent_id, req.number) if t is not None]
    if len(targets) != 1:
        raise InvalidValue("target", f"{len(targets)} targets", "exactly one of queue, agent_id, number")
    if call.state is not CallState.CONNECTED or call.connected is None:
        raise CallNotConnected(call.call_id, call.state.value)
    if req.queue is not None:
        rt = s.queues.get(req.queue)
        if rt is None:
            raise UnknownQueue(req.queue, where="TransferCall.queue")
        return rt, None
    if req.agent_id is not None:
        agent = s.agent(req.agent_id)
        if not pools.offerable(s, agent, direct=True):
            raise AgentUnavailable(agent.id, f"state {agent.state.value}")
        return None, agent
    assert req.number is not None
    if not DESTINATION_RE.match(req.number):
        raise InvalidValue("number", req.number, "digits or a plain extension name")
    if req.context is not None and not NAME_RE.match(req.context):
        raise InvalidValue("context", req.context, "a plain dialplan context name")
    return None, None
