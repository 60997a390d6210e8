"""Call control requests beyond the ACD: click-to-dial, hold, DTMF, recording, supervisor monitoring.

Rules:
- Same contract as every engine input: frozen request in, commands and notifications out through
  the engine's effects; a bad request is an ``InputRejected`` with a typed error and changes
  nothing. The engine delegates here (``Engine._on_request`` for these request types, and every
  channel event is shown to :func:`observe` before the engine's own handling).
- Click-to-dial rings the agent first (``Originate`` of the agent's first endpoint, parked); only
  when the agent answers is the customer dialled (``dial_template``, caller id from the request,
  which the daemon fills from configuration); when the customer answers the two are bridged.
  Either side hanging up before the bridge hangs up the other. The number is checked against the
  do-not-call list and must be a number. The agent leg carries no ``ctilink_role``, so the engine
  sees it as the agent's own call (agent ``on-call``, reason ``direct-call``) like any desk call.
- Hold, DTMF and recording act on the call's customer leg; monitoring (listen, whisper, barge)
  originates the supervisor's phone onto the agent's connected leg.

Theory: this module owns the click-to-dial sessions (keyed per engine) and reads engine state
(calls, legs, agents) to find uuids; it never changes an agent's or a call's state itself.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ctilink.core import requests as rq
from ctilink.core.agent import AgentState
from ctilink.core.call import CallState
from ctilink.core.errors import AgentUnavailable, InvalidValue, NoCallForAgent, UnknownCall
from ctilink.esl.commands import (
    DTMF_RE,
    RECORD_PATH_RE,
    Bridge,
    Eavesdrop,
    Hangup,
    Hold,
    Originate,
    Record,
    SendDtmf,
)
from ctilink.events import ChannelAnswered, ChannelEvent, ChannelHungUp
from ctilink.values import DIAL_STRING_RE

if TYPE_CHECKING:
    from ctilink.core.call import Call
    from ctilink.core.engine import Engine


@dataclass(frozen=True, slots=True)
class ClickToDial(rq.Request):
    """Ring ``agent_id``'s phone, then dial ``number`` and connect the two."""

    agent_id: str
    number: str
    dial_template: str = "sofia/gateway/default/{number}"
    caller_id_number: str | None = None
    caller_id_name: str | None = None
    ring_timeout_s: int = 30


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
_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")


@dataclass(slots=True)
class _Session:
    """One click-to-dial: the agent leg, then the customer leg."""

    id: str
    agent_id: str
    agent_uuid: str
    customer_uuid: str
    customer_dial: str
    caller_id_number: str | None
    caller_id_name: str | None
    timeout_s: int
    node: str = ""
    customer_started: bool = False
    bridged: bool = False


@dataclass(slots=True)
class _State:
    sessions: dict[str, _Session] = field(default_factory=dict)
    by_uuid: dict[str, _Session] = field(default_factory=dict)


_STATES: weakref.WeakKeyDictionary[Engine, _State] = weakref.WeakKeyDictionary()


def _state(engine: Engine) -> _State:
    state = _STATES.get(engine)
    if state is None:
        state = _STATES[engine] = _State()
    return state


def handles(req: object) -> bool:
    return isinstance(req, REQUEST_TYPES)


def handle(engine: Engine, req: rq.Request) -> None:
    """Apply one call-control request (raises typed errors; the engine turns them into rejections)."""
    if isinstance(req, ClickToDial):
        _click_to_dial(engine, req)
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


def _click_to_dial(engine: Engine, req: ClickToDial) -> None:
    agent = engine._agent(req.agent_id)
    if agent.state not in (AgentState.AVAILABLE, AgentState.NOT_READY):
        raise AgentUnavailable(
            req.agent_id, f"agent is {agent.state.value}; click-to-dial needs available or not ready"
        )
    number = engine.ensure_dialable(req.number, None, engine._now)  # E.164; DNC and bad numbers raise
    digits = number.lstrip("+")
    if not _NUMBER.match(number):
        raise InvalidValue("number", req.number, "a dialable phone number")
    dial = req.dial_template.replace("{number}", digits)
    if not DIAL_STRING_RE.fullmatch(dial):
        raise InvalidValue(
            "dial_template", req.dial_template, "a dial string template such as sofia/gateway/gw/{number}"
        )
    endpoint = agent.profile.endpoints[0]
    session = _Session(
        id=engine._new_id(),
        agent_id=agent.id,
        agent_uuid=engine._new_id(),
        customer_uuid=engine._new_id(),
        customer_dial=dial,
        caller_id_number=req.caller_id_number,
        caller_id_name=req.caller_id_name,
        timeout_s=req.ring_timeout_s,
    )
    state = _state(engine)
    state.sessions[session.id] = session
    state.by_uuid[session.agent_uuid] = session
    state.by_uuid[session.customer_uuid] = session
    engine._cmd(
        Originate(
            uuid=session.agent_uuid,
            dial_string=endpoint,
            job_uuid=engine._new_id(),
            variables={"ctilink_click_to_dial": session.id},
            caller_id_number=digits,  # the agent's phone shows whom it is about to call
            caller_id_name="click-to-dial",
            timeout_s=req.ring_timeout_s,
        )
    )


def observe(engine: Engine, ev: object) -> None:
    """See a channel event before the engine does: move click-to-dial sessions on."""
    if not isinstance(ev, ChannelEvent):
        return
    state = _STATES.get(engine)
    if state is None or not state.sessions:
        return
    session = state.by_uuid.get(ev.uuid)
    if session is None:
        return
    is_agent = ev.uuid == session.agent_uuid
    if isinstance(ev, ChannelAnswered):
        if is_agent and not session.customer_started:
            session.customer_started = True
            session.node = ev.node
            engine._cmd(
                Originate(
                    uuid=session.customer_uuid,
                    dial_string=session.customer_dial,
                    job_uuid=engine._new_id(),
                    variables={"ctilink_click_to_dial": session.id},
                    caller_id_number=session.caller_id_number,
                    caller_id_name=session.caller_id_name,
                    timeout_s=session.timeout_s,
                    node=ev.node,
                )
            )
        elif not is_agent and not session.bridged:
            session.bridged = True
            engine._cmd(Bridge(session.agent_uuid, session.customer_uuid, node=ev.node))
    elif isinstance(ev, ChannelHungUp):
        state.by_uuid.pop(ev.uuid, None)
        other = session.customer_uuid if is_agent else session.agent_uuid
        other_exists = other in state.by_uuid and (not is_agent or session.customer_started)
        if other_exists:
            engine._cmd(Hangup(other, "NORMAL_CLEARING", node=ev.node))
        else:
            state.sessions.pop(session.id, None)
            state.by_uuid.pop(other, None)


def sessions(engine: Engine) -> int:
    """Click-to-dial sessions in progress (for tests and views)."""
    state = _STATES.get(engine)
    return len(state.sessions) if state is not None else 0


__all__ = [
    "REQUEST_TYPES",
    "ClickToDial",
    "HoldCall",
    "MonitorAgent",
    "RecordCall",
    "SendDigits",
    "handle",
    "handles",
    "observe",
    "sessions",
]
