"""Call control requests beyond the ACD: click-to-dial, hold, DTMF, recording, supervisor monitoring.

Rules:
- Same contract as every engine input: frozen request in, commands and notifications out through
  the engine's effects; a bad request is an ``InputRejected`` with a typed error and changes
  nothing. The engine delegates here (``Engine._on_request`` for these request types).
- Click-to-dial is a state machine of its own, owned by the engine: :mod:`ctilink.core.click_to_dial`
  (its request, :class:`ClickToDial`, is re-exported here for the API).
- Hold, DTMF and recording act on the call's customer leg; monitoring (listen, whisper, barge)
  originates the supervisor's phone onto the agent's connected leg.

Theory: this module keeps no state. It reads engine state (calls, legs, agents) to find uuids and
never changes an agent's or a call's state itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ctilink.commands import DTMF_RE, RECORD_PATH_RE, Eavesdrop, Hold, Record, SendDtmf
from ctilink.core import click_to_dial
from ctilink.core import requests as rq
from ctilink.core.call import CallState
from ctilink.core.click_to_dial import ClickToDial
from ctilink.core.errors import InvalidValue, NoCallForAgent, UnknownCall
from ctilink.values import DIAL_STRING_RE

if TYPE_CHECKING:
    from ctilink.core.call import Call
    from ctilink.core.engine import Engine


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


def handle(engine: Engine, req: rq.Request) -> None:
    """Apply one call-control request (raises typed errors; the engine turns them into rejections)."""
    if isinstance(req, ClickToDial):
        click_to_dial.request(engine, req)
    elif isinstance(req, HoldCall):
        call = _customer(engine, req.call_id)
        engine._cmd(Hold(call.uuid, on=req.on, node=call.node))
    elif isinstance(req, SendDigits):
        if not DTMF_RE.fullmatch(req.digits):
            raise InvalidValue("digits", req.digits, "DTMF digits 0-9 * # A-D w (1-64)")
        call = _customer(engine, req.call_id)
        engine._cmd(SendDtmf(call.uuid, req.digits, node=call.node))
    elif isinstance(req, RecordCall):
        path = req.path or f"{RECORDINGS_DIR}/{req.call_id}.wav"
        if not RECORD_PATH_RE.fullmatch(path) or "/../" in path + "/":
            raise InvalidValue("path", path, "an absolute path of [A-Za-z0-9_.+-] segments")
        call = _customer(engine, req.call_id)
        engine._cmd(Record(call.uuid, path, start=req.start, node=call.node))
    elif isinstance(req, MonitorAgent):
        _monitor(engine, req)


def _customer(engine: Engine, call_id: str) -> Call:
    call = engine._calls.get(call_id)
    if call is None or call.state is CallState.ENDED:
        raise UnknownCall(call_id)
    return call


def _monitor(engine: Engine, req: MonitorAgent) -> None:
    if req.mode not in _MODES:
        raise InvalidValue("mode", req.mode, "listen, whisper or barge")
    if not DIAL_STRING_RE.fullmatch(req.dial_string):
        raise InvalidValue("dial_string", req.dial_string, "a supervisor dial string such as user/2001")
    agent = engine._agent(req.agent_id)
    target = None
    for leg_uuid, call_id in agent.legs.items():
        call = engine._calls.get(call_id)
        if call is not None and call.connected is not None and call.connected.uuid == leg_uuid:
            target = call.connected
            break
    if target is None:
        raise NoCallForAgent(req.agent_id)
    engine._cmd(
        Eavesdrop(
            engine._new_id(),
            engine._new_id(),
            req.dial_string,
            target.uuid,
            mode=req.mode,  # type: ignore[arg-type]
            node=target.node,
        )
    )


def sessions(engine: Engine) -> int:
    """Click-to-dial sessions in progress (for tests and views)."""
    return len(engine._c2d)


__all__ = [
    "REQUEST_TYPES",
    "ClickToDial",
    "HoldCall",
    "MonitorAgent",
    "RecordCall",
    "SendDigits",
    "handle",
    "handles",
    "sessions",
]
