"""Call control requests beyond the ACD: click-to-dial, hold, DTMF, recording, supervisor monitoring.

Rules:
- Same contract as every engine input: frozen request in, commands and notifications out through
  the engine's effects; a bad request is an ``InputRejected`` with a typed error and changes
  nothing. The engine's request table sends these request types here, and ``HangupCall``.
- Click-to-dial is a state machine of its own, owned by the engine: :mod:`ctilink.core.click_to_dial`
  (its request, :class:`ClickToDial`, is re-exported here for the API).
- Hold, DTMF and recording act on the call's customer leg; monitoring (listen, whisper, barge)
  originates the supervisor's phone onto the agent's connected leg.

Theory: this module keeps no state. It reads the engine's state (calls, legs, agents) to find
uuids and never changes an agent's or a call's state itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ctilink.commands import DTMF_RE, RECORD_PATH_RE, Eavesdrop, Hangup, Hold, Record, SendDtmf
from ctilink.core import click_to_dial_legs
from ctilink.core import requests as rq
from ctilink.core.call import Call, CallState
from ctilink.core.click_to_dial import ClickToDial
from ctilink.core.config import CAUSE_RE
from ctilink.core.errors import InvalidValue, NoCallForAgent, UnknownCall
from ctilink.core.state import EngineState
from ctilink.values import DIAL_STRING_RE


@dataclass(frozen=True, slots=True)
class HoldCall(rq.Request):
    call_id: str
    on: bool = True


@dataclass(frozen=True, slots=True)
class SendDigits(rq.Request):
    call_id: str
    digits: str


@dataclass(frozen=True, slots=True)
class RecordCall(rq.Request):
    call_id: str
    start: bool = True
    path: str | None = None  # default: /var/lib/ctilink/recordings/<call_id>.wav


@dataclass(frozen=True, slots=True)
class MonitorAgent(rq.Request):
    """Supervisor ``dial_string`` listens to, whispers to or barges into ``agent_id``'s call."""

    agent_id: str
    dial_string: str
    mode: str = "listen"


REQUEST_TYPES = (ClickToDial, HoldCall, SendDigits, RecordCall, MonitorAgent)
RECORDINGS_DIR = "/var/lib/ctilink/recordings"
_MODES = ("listen", "whisper", "barge")


def handles(req: object) -> bool:
    return isinstance(req, REQUEST_TYPES)


def handle(s: EngineState, req: rq.Request) -> None:
    """Apply one call-control request (raises typed errors; the engine turns them into rejections)."""
    if isinstance(req, ClickToDial):
        click_to_dial_legs.request(s, req)
    elif isinstance(req, HoldCall):
        call = _customer(s, req.call_id)
        s.cmd(Hold(call.uuid, on=req.on, node=call.node))
    elif isinstance(req, SendDigits):
        if not DTMF_RE.fullmatch(req.digits):
            raise InvalidValue("digits", req.digits, "DTMF digits 0-9 * # A-D w (1-64)")
        call = _customer(s, req.call_id)
        s.cmd(SendDtmf(call.uuid, req.digits, node=call.node))
    elif isinstance(req, RecordCall):
        path = req.path or f"{RECORDINGS_DIR}/{req.call_id}.wav"
        if not RECORD_PATH_RE.fullmatch(path) or "/../" in path + "/":
            raise InvalidValue("path", path, "an absolute path of [A-Za-z0-9_.+-] segments")
        call = _customer(s, req.call_id)
        s.cmd(Record(call.uuid, path, start=req.start, node=call.node))
    elif isinstance(req, MonitorAgent):
        _monitor(s, req)


def _customer(s: EngineState, call_id: str) -> Call:
    call = s.calls.get(call_id)
    if call is None or call.state is CallState.ENDED:
        raise UnknownCall(call_id)
    return call


def _monitor(s: EngineState, req: MonitorAgent) -> None:
    if req.mode not in _MODES:
        raise InvalidValue("mode", req.mode, "listen, whisper or barge")
    if not DIAL_STRING_RE.fullmatch(req.dial_string):
        raise InvalidValue("dial_string", req.dial_string, "a supervisor dial string such as user/2001")
    agent = s.agent(req.agent_id)
    target = None
    for leg_uuid, call_id in agent.legs.items():
        call = s.calls.get(call_id)
        if call is not None and call.connected is not None and call.connected.uuid == leg_uuid:
            target = call.connected
            break
    if target is None:
        raise NoCallForAgent(req.agent_id)
    s.cmd(
        Eavesdrop(
            s.new_id(),
            s.new_id(),
            req.dial_string,
            target.uuid,
            mode=req.mode,  # type: ignore[arg-type]
            node=target.node,
        )
    )


def hangup(s: EngineState, req: rq.HangupCall) -> None:
    """Hang up a call's customer leg (its end is then recorded as ``terminated``)."""
    call = _customer(s, req.call_id)
    if not CAUSE_RE.match(req.cause):
        raise InvalidValue("cause", req.cause, "an upper-case hangup cause name")
    call.hangup_requested = True
    s.cmd(Hangup(call.uuid, req.cause, node=call.node))


class _HasState(Protocol):
    @property
    def state(self) -> EngineState: ...


def sessions(engine: _HasState) -> int:
    """Click-to-dial sessions in progress (for tests and views)."""
    return len(engine.state.c2d)


__all__ = [
    "REQUEST_TYPES",
    "ClickToDial",
    "HoldCall",
    "MonitorAgent",
    "RecordCall",
    "SendDigits",
    "handle",
    "handles",
    "hangup",
    "sessions",
]
