"""The simulated switch fabric: channels, and what FreeSWITCH does when told to act on them.

Rules:
- The fabric emits exactly the typed events of :mod:`ctilink.events` that the ESL edge would produce
  for the same traffic, in the order FreeSWITCH 1.10 sends them (checked against the recorded
  recordings in ``tests/fixtures/esl``): timestamps are virtual ``now``, ``sequence`` increases
  by one per event, every event names the node and the switch's core uuid, and a leg's ``ctilink_*``
  variables ride on every event of that leg.
- Every command is data in, events out. A command the real switch would refuse (unknown uuid, bridge
  of a leg to itself, hold of an unanswered leg) changes nothing and is recorded in :attr:`errors`
  with the reason the switch would give, the way ``api`` replies ``-ERR``; it never raises.
- A channel ends exactly once: one ``ChannelHungUp`` per channel, after which its uuid is gone and
  any timer it had is cancelled.
- Who answers an originated leg, and after how long, is not decided here: the ``decide`` callback
  (the agent and customer models) says so. Remote parties hang up through :meth:`remote_hangup`.

Theory of operation: the fabric owns the channel table and an outbox of events. Commands reach it
through :meth:`submit` (which applies them after the switch's command latency) or :meth:`execute`
(now). Applying a command mutates channels and appends events to :attr:`outbox`; things that take
time (ringing, the dialplan) are timers on the shared :class:`~ctilink.sim.scheduler.Scheduler`.
The driver drains the outbox into the engine. The fabric knows nothing about the engine, agents'
states, queues or statistics.

Simplifications (documented in ``docs/simulation.md``): no RTP or media; PLAYBACK_START/STOP,
CHANNEL_STATE/CALLSTATE, CHANNEL_EXECUTE and other events the core has no type for are not emitted;
bridging an unanswered inbound leg answers it; when a bridged leg hangs up, its partner is hung up too
(``NORMAL_CLEARING``), as in the fixtures.
"""

from __future__ import annotations

import random
import uuid as uuidlib
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ctilink.commands import (
    Answer,
    Break,
    Bridge,
    Command,
    Eavesdrop,
    Hangup,
    Hold,
    Originate,
    Playback,
    PreAnswer,
    Record,
    RecvDtmf,
    SendDtmf,
    SetVariables,
    Transfer,
)
from ctilink.events import (
    ChannelAnswered,
    ChannelBridged,
    ChannelCreated,
    ChannelEvent,
    ChannelHeld,
    ChannelHungUp,
    ChannelParked,
    ChannelProgress,
    ChannelUnbridged,
    ChannelUnheld,
    ChannelUnparked,
    DtmfReceived,
    EndpointRegistered,
    EndpointUnregistered,
    Event,
    ExecuteComplete,
    JobCompleted,
    MachineDetected,
)
from ctilink.sim.models import LegOutcome, Route, SwitchTiming
from ctilink.sim.scheduler import Scheduler, Timer

#: Hangup cause and SIP status of each way an originated leg can fail.
_FAILURE = {
    "busy": ("USER_BUSY", 486),
    "reject": ("CALL_REJECTED", 603),
    "no_answer": ("NO_ANSWER", None),
    "unreachable": ("NORMAL_TEMPORARY_FAILURE", 503),
}

_GONE_KEPT = 100_000

DTMF_DIGITS = frozenset("0123456789*#ABCD")


@dataclass(frozen=True, slots=True)
class CommandError:
    """A command the switch refused (what ``api`` would have answered ``-ERR`` to)."""

    time: float
    command: Command
    reason: str
    stale: bool = False  # the channel existed but had already ended (a race the live switch has too)


class SimChannel:
    """One leg, as the switch sees it. Mutable; owned by :class:`SwitchFabric`."""

    __slots__ = (
        "answer_state",
        "answered_at",
        "bridge_a",
        "bridged_to",
        "callee_name",
        "callee_number",
        "caller_name",
        "caller_number",
        "channel_name",
        "channel_state",
        "created_at",
        "ctl",
        "destination_number",
        "direction",
        "held",
        "job_uuid",
        "last_other",
        "parked",
        "playing",
        "recording",
        "timer",
        "uuid",
        "variables",
    )

    def __init__(self, uuid: str, direction: str, channel_name: str, now: float) -> None:
        self.uuid = uuid
        self.direction = direction
        self.channel_name = channel_name
        self.caller_number: str | None = None
        self.caller_name: str | None = None
        self.callee_number: str | None = None
        self.callee_name: str | None = None
        self.destination_number: str | None = None
        self.variables: dict[str, str] = {}
        self.ctl: dict[str, str] = {}
        self.answer_state = "ringing"
        self.channel_state = "CS_INIT"
        self.created_at = now
        self.answered_at: float | None = None
        self.parked = False
        self.bridged_to: str | None = None
        self.bridge_a = False
        self.held = False
        self.playing: str | None = None
        self.recording: str | None = None
        self.job_uuid: str | None = None
        self.timer: Timer | None = None
        self.last_other: str | None = None

    @property
    def answered(self) -> bool:
        return self.answered_at is not None

    def set_variables(self, variables: dict[str, str]) -> None:
        self.variables.update(variables)
        # Only ctilink_* variables reach the core (events.py); keep that view ready for every event.
        self.ctl = {k: v for k, v in self.variables.items() if k.startswith("ctilink_")}


def dial_target(dial_string: str) -> tuple[str, str]:
    """``(channel_name, user)`` for a dial string: ``{vars}sofia/external/agent1001@h:p`` -> user ``agent1001``."""
    ds = dial_string
    if ds.startswith("{") and "}" in ds:
        ds = ds[ds.index("}") + 1 :]
    tail = ds.rsplit("/", 1)[-1]
    user = tail.split("@", 1)[0]
    if ds.startswith("user/"):
        name = f"sofia/internal/{tail}"
    elif "/" in ds:
        name = ds
    else:
        name = f"sofia/external/{ds}"
    return name, user


Decide = Callable[[Originate], "tuple[LegOutcome, float]"]


class SwitchFabric:
    """The channel table of one simulated FreeSWITCH node."""

    def __init__(
        self,
        scheduler: Scheduler,
        decide: Decide,
        *,
        node: str = "sim-1",
        rng: random.Random | None = None,
        timing: SwitchTiming = SwitchTiming(),
        dialplan: dict[str, Route] | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.decide = decide
        self.node = node
        self.rng = rng if rng is not None else random.Random(0)
        self.timing = timing
        self.dialplan: dict[str, Route] = dict(dialplan or {})
        self.core_uuid = self.new_uuid()
        self.channels: dict[str, SimChannel] = {}
        self.outbox: deque[Event] = deque()
        self.errors: list[CommandError] = []
        self.sequence = 0
        # Recently ended uuids, so a command that lost a race with a hangup is told apart from one
        # naming a channel that never existed. Bounded: races are seconds long, runs are not.
        self.gone: OrderedDict[str, None] = OrderedDict()
        self.on_gone: list[Callable[[SimChannel], None]] = []
        self._handlers: dict[type, Callable[[Any], None]] = {
            Originate: self._originate,
            Bridge: self._bridge,
            Answer: self._answer,
            PreAnswer: self._pre_answer,
            Hangup: self._hangup_cmd,
            Playback: self._playback,
            Break: self._break,
            Transfer: self._transfer,
            Hold: self._hold,
            SetVariables: self._set_variables,
            Record: self._record,
            Eavesdrop: self._eavesdrop,
            SendDtmf: self._send_dtmf,
            RecvDtmf: self._recv_dtmf,
        }

    # -- plumbing -------------------------------------------------------------------------------

    def new_uuid(self) -> str:
        return str(uuidlib.UUID(int=self.rng.getrandbits(128), version=4))

    @property
    def now(self) -> float:
        return self.scheduler.now

    def _seq(self) -> int:
        self.sequence += 1
        return self.sequence

    def _emit(self, cls: type[ChannelEvent], ch: SimChannel, **extra: Any) -> None:
        other = extra.pop("other_uuid", ch.bridged_to or ch.last_other)
        self.outbox.append(
            cls(
                node=self.node,
                core_uuid=self.core_uuid,
                timestamp=self.scheduler.now,
                sequence=self._seq(),
                uuid=ch.uuid,
                other_uuid=other,
                direction=ch.direction,
                channel_name=ch.channel_name,
                caller_number=ch.caller_number,
                caller_name=ch.caller_name,
                callee_number=ch.callee_number,
                callee_name=ch.callee_name,
                destination_number=ch.destination_number,
                channel_state=ch.channel_state,
                answer_state=ch.answer_state,
                variables=dict(ch.ctl),
                **extra,
            )
        )

    def _job(self, job_uuid: str, body: str, args: str) -> None:
        self.outbox.append(
            JobCompleted(
                node=self.node,
                core_uuid=self.core_uuid,
                timestamp=self.scheduler.now,
                sequence=self._seq(),
                job_uuid=job_uuid,
                command="originate",
                command_args=args,
                body=body,
            )
        )

    def machine_detected(self, uuid: str, result: str) -> None:
        """mod_amd's verdict on an answered leg (nothing if the leg is gone or never answered)."""
        ch = self.channels.get(uuid)
        if ch is None or not ch.answered:
            return
        self.outbox.append(
            MachineDetected(
                node=self.node,
                core_uuid=self.core_uuid,
                timestamp=self.scheduler.now,
                sequence=self._seq(),
                uuid=uuid,
                result=result,
                source="amd",
                variables=dict(ch.ctl),
            )
        )

    def _refuse(self, command: Command, reason: str) -> None:
        self.errors.append(CommandError(self.scheduler.now, command, reason))

    def _live(self, command: Command, uuid: str) -> SimChannel | None:
        ch = self.channels.get(uuid)
        if ch is None:
            self.errors.append(
                CommandError(self.scheduler.now, command, "-ERR No such channel!", stale=uuid in self.gone)
            )
        return ch

    # -- inputs ---------------------------------------------------------------------------------

    def submit(self, command: Command) -> None:
        """Apply ``command`` after the switch's command latency (the ESL round trip)."""
        self.scheduler.after(self.timing.command_latency, self.execute, command)

    def execute(self, command: Command) -> None:
        """Apply ``command`` now."""
        handler = self._handlers.get(type(command))
        if handler is None:
            self._refuse(command, f"-ERR unsupported command {type(command).__name__}")
            return
        handler(command)

    def inbound_call(
        self,
        caller_number: str,
        destination_number: str,
        *,
        caller_name: str | None = None,
        uuid: str | None = None,
        channel_name: str | None = None,
    ) -> SimChannel:
        """A call arrives from outside: CHANNEL_CREATE now, the dialplan runs after ``timing.dialplan``."""
        uuid = uuid or self.new_uuid()
        ch = SimChannel(uuid, "inbound", channel_name or f"sofia/external/{caller_number}@127.0.0.1:5070", self.now)
        ch.caller_number = caller_number
        ch.caller_name = caller_name
        ch.destination_number = destination_number
        self.channels[uuid] = ch
        self._emit(ChannelCreated, ch)
        ch.channel_state = "CS_ROUTING"
        ch.timer = self.scheduler.after(self.timing.dialplan, self._run_dialplan, ch)
        return ch

    def remote_hangup(self, uuid: str, cause: str | None = None, sip_code: int | None = None) -> bool:
        """The far end hangs up (BYE, or CANCEL before the answer). False if the channel is already gone."""
        ch = self.channels.get(uuid)
        if ch is None:
            return False
        if cause is None:
            cause, sip_code = ("NORMAL_CLEARING", 200) if ch.answered else ("ORIGINATOR_CANCEL", 487)
        self._hangup(ch, cause, sip_code)
        return True

    def phone_hold(self, uuid: str, on: bool) -> bool:
        """The phone on ``uuid`` puts its call on hold or takes it off (re-INVITE sendonly/sendrecv)."""
        ch = self.channels.get(uuid)
        if ch is None or not ch.answered or ch.held == on:
            return False
        ch.held = on
        self._emit(ChannelHeld if on else ChannelUnheld, ch)
        return True

    def register(self, user: str, realm: str, *, contact: str | None = None, expires: int = 3600) -> None:
        """A phone registers (sofia::register)."""
        self.outbox.append(
            EndpointRegistered(
                node=self.node,
                core_uuid=self.core_uuid,
                timestamp=self.now,
                sequence=self._seq(),
                user=user,
                realm=realm,
                profile="internal",
                contact=contact or f"sip:{user}@127.0.0.1:5072",
                expires=expires,
                user_agent="ctilink-sim/1.0",
            )
        )

    def unregister(self, user: str, realm: str, *, contact: str | None = None) -> None:
        """A phone unregisters (sofia::unregister, Expires: 0)."""
        self.outbox.append(
            EndpointUnregistered(
                node=self.node,
                core_uuid=self.core_uuid,
                timestamp=self.now,
                sequence=self._seq(),
                user=user,
                realm=realm,
                profile="internal",
                contact=contact or f"sip:{user}@127.0.0.1:5072",
                expires=0,
            )
        )

    # -- dialplan -------------------------------------------------------------------------------

    def _run_dialplan(self, ch: SimChannel) -> None:
        ch.timer = None
        route = self.dialplan.get(ch.destination_number or "")
        if route is None:
            self._hangup(ch, "NO_ROUTE_DESTINATION", 404)
            return
        if route.variables:
            ch.set_variables(route.variables)
        ch.channel_state = "CS_EXECUTE"
        if route.action == "hangup":
            self._hangup(ch, route.cause, None)
            return
        if route.answer and not ch.answered:
            self._do_answer(ch)
        ch.parked = True
        self._emit(ChannelParked, ch)

    def _do_answer(self, ch: SimChannel) -> None:
        if ch.answer_state == "ringing":
            ch.answer_state = "early"
            self._emit(ChannelProgress, ch, media=True)
        ch.answer_state = "answered"
        ch.answered_at = self.now
        self._emit(ChannelAnswered, ch)

    # -- hangup ---------------------------------------------------------------------------------

    def _finish(self, ch: SimChannel, cause: str, sip_code: int | None) -> None:
        """The one place a channel ends: CHANNEL_HANGUP_COMPLETE, then it is gone."""
        if ch.timer is not None:
            ch.timer.cancel()
            ch.timer = None
        now = self.now
        ch.answer_state = "hangup"
        ch.channel_state = "CS_REPORTING"
        del self.channels[ch.uuid]
        self.gone[ch.uuid] = None
        if len(self.gone) > _GONE_KEPT:
            self.gone.popitem(last=False)
        self._emit(
            ChannelHungUp,
            ch,
            cause=cause,
            sip_code=sip_code,
            created_at=ch.created_at,
            answered_at=ch.answered_at,
            hungup_at=now,
            billsec=(now - ch.answered_at) if ch.answered_at is not None else 0.0,
            duration=now - ch.created_at,
        )
        for hook in self.on_gone:
            hook(ch)

    def _hangup(self, ch: SimChannel, cause: str, sip_code: int | None) -> None:
        if ch.timer is not None:
            ch.timer.cancel()
            ch.timer = None
        if ch.bridged_to is not None:
            partner = self.channels[ch.bridged_to]
            a, b = (ch, partner) if ch.bridge_a else (partner, ch)
            self._unbridge(a, b)
            partner.last_other = ch.uuid
            ch.last_other = partner.uuid
            self._finish(partner, "NORMAL_CLEARING", None)
            self._finish(ch, cause, sip_code)
            return
        if ch.parked:
            ch.parked = False
            self._emit(ChannelUnparked, ch)
        if ch.job_uuid is not None:
            # An originate still in progress fails with the cause: its job reports before the channel ends.
            job, ch.job_uuid = ch.job_uuid, None
            self._job(job, f"-ERR {cause}\n", ch.channel_name)
        self._finish(ch, cause, sip_code)

    def _unbridge(self, a: SimChannel, b: SimChannel) -> None:
        a.bridged_to = b.bridged_to = None
        a.bridge_a = b.bridge_a = False
        a.last_other, b.last_other = b.uuid, a.uuid
        self._emit(ChannelUnbridged, a, other_uuid=b.uuid)

    # -- commands -------------------------------------------------------------------------------

    def _originate(self, cmd: Originate) -> None:
        if cmd.uuid in self.channels:
            self._refuse(cmd, "-ERR origination_uuid already in use")
            self._job(cmd.job_uuid, "-ERR DESTINATION_OUT_OF_ORDER\n", cmd.dial_string)
            return
        name, user = dial_target(cmd.dial_string)
        ch = SimChannel(cmd.uuid, "outbound", name, self.now)
        ch.caller_number = cmd.caller_id_number
        ch.caller_name = cmd.caller_id_name
        ch.callee_number = ch.destination_number = user
        ch.job_uuid = cmd.job_uuid
        ch.set_variables(cmd.variables)
        self.channels[cmd.uuid] = ch
        self._emit(ChannelCreated, ch)
        outcome, delay = self.decide(cmd)
        ch.timer = self.scheduler.after(self.timing.progress, self._ring, ch, cmd, outcome, delay)

    def _ring(self, ch: SimChannel, cmd: Originate, outcome: LegOutcome, delay: float) -> None:
        ch.timer = None
        if outcome in ("busy", "reject", "unreachable"):
            cause, sip = _FAILURE[outcome]
            job, ch.job_uuid = ch.job_uuid, None
            self._finish(ch, cause, sip)
            if job is not None:
                self._job(job, f"-ERR {cause}\n", cmd.dial_string)
            return
        ch.channel_state = "CS_CONSUME_MEDIA"
        self._emit(ChannelProgress, ch)
        timeout = max(cmd.timeout_s - self.timing.progress, 0.0)
        if outcome == "answer" and delay < timeout:
            ch.timer = self.scheduler.after(delay, self._leg_answered, ch, cmd)
        else:
            ch.timer = self.scheduler.after(timeout, self._leg_timeout, ch, cmd)

    def _leg_timeout(self, ch: SimChannel, cmd: Originate) -> None:
        ch.timer = None
        self._hangup(ch, "NO_ANSWER", None)

    def _leg_answered(self, ch: SimChannel, cmd: Originate) -> None:
        ch.timer = None
        ch.answer_state = "answered"
        ch.answered_at = self.now
        self._emit(ChannelAnswered, ch)
        job, ch.job_uuid = ch.job_uuid, None
        if job is not None:
            self._job(job, f"+OK {ch.uuid}\n", cmd.dial_string)
        ch.channel_state = "CS_EXECUTE"
        if cmd.application == "park":
            ch.parked = True
            self._emit(ChannelParked, ch)

    def _bridge(self, cmd: Bridge) -> None:
        a = self._live(cmd, cmd.uuid)
        b = self._live(cmd, cmd.other_uuid) if a is not None else None
        if a is None or b is None:
            return
        if a is b:
            self._refuse(cmd, "-ERR cannot bridge a channel to itself")
            return
        for leg in (a, b):
            if not leg.answered and leg.direction == "outbound":
                self._refuse(cmd, f"-ERR channel {leg.uuid} is not answered")
                return
        if a.bridged_to == b.uuid:
            return
        for leg in (a, b):
            if leg.bridged_to is not None:
                # uuid_bridge steals the leg from its current bridge; the partner left behind parks.
                old = self.channels[leg.bridged_to]
                x, y = (leg, old) if leg.bridge_a else (old, leg)
                self._unbridge(x, y)
                old.parked = True
                old.channel_state = "CS_EXECUTE"
                self._emit(ChannelParked, old)
        for leg in (a, b):
            if not leg.answered:
                self._do_answer(leg)
        for leg, other in ((b, a), (a, b)):
            leg.last_other = other.uuid
            if leg.playing is not None:
                path, leg.playing = leg.playing, None
                self._emit(
                    ExecuteComplete,
                    leg,
                    other_uuid=other.uuid,
                    application="playback",
                    application_data=path,
                    response="FILE PLAYED",
                )
            if leg.parked:
                leg.parked = False
                self._emit(ChannelUnparked, leg, other_uuid=other.uuid)
        a.bridged_to, b.bridged_to = b.uuid, a.uuid
        a.bridge_a, b.bridge_a = True, False
        a.channel_state = b.channel_state = "CS_SOFT_EXECUTE"
        self._emit(ChannelBridged, a, other_uuid=b.uuid)

    def _answer(self, cmd: Answer) -> None:
        ch = self._live(cmd, cmd.uuid)
        if ch is None or ch.answered:
            return
        if ch.direction == "outbound":
            self._refuse(cmd, "-ERR cannot answer an outbound leg")
            return
        self._do_answer(ch)

    def _pre_answer(self, cmd: PreAnswer) -> None:
        ch = self._live(cmd, cmd.uuid)
        if ch is None or ch.answer_state != "ringing" or ch.direction == "outbound":
            return
        ch.answer_state = "early"
        self._emit(ChannelProgress, ch, media=True)

    def _hangup_cmd(self, cmd: Hangup) -> None:
        ch = self._live(cmd, cmd.uuid)
        if ch is not None:
            self._hangup(ch, cmd.cause, None)

    def _playback(self, cmd: Playback) -> None:
        ch = self._live(cmd, cmd.uuid)
        if ch is None:
            return
        targets = [ch]
        if cmd.leg != "aleg":
            partner = self.channels.get(ch.bridged_to or "")
            targets = ([ch] if cmd.leg == "both" else []) + ([partner] if partner else [])
        for leg in targets:
            leg.playing = cmd.path

    def _break(self, cmd: Break) -> None:
        ch = self._live(cmd, cmd.uuid)
        if ch is None or ch.playing is None:
            return
        path, ch.playing = ch.playing, None
        self._emit(ExecuteComplete, ch, application="playback", application_data=path, response="FILE PLAYED")

    def _hold(self, cmd: Hold) -> None:
        ch = self._live(cmd, cmd.uuid)
        if ch is None:
            return
        if not ch.answered:
            self._refuse(cmd, "-ERR channel is not answered")
            return
        if ch.held == cmd.on:
            self._refuse(cmd, f"-ERR channel is {'already' if cmd.on else 'not'} on hold")
            return
        ch.held = cmd.on
        self._emit(ChannelHeld if cmd.on else ChannelUnheld, ch)

    def _transfer(self, cmd: Transfer) -> None:
        ch = self._live(cmd, cmd.uuid)
        if ch is None:
            return
        partner = self.channels.get(ch.bridged_to or "")
        if cmd.leg == "-bleg":
            if partner is None:
                self._refuse(cmd, "-ERR no b-leg to transfer")
                return
            ch, partner = partner, ch
        if partner is not None:
            a, b = (ch, partner) if ch.bridge_a else (partner, ch)
            if cmd.leg == "-both":
                self._unbridge(a, b)
                self._route_again(partner, cmd.destination, cmd.dialplan)
            else:
                # As recorded (hold_transfer): the leg left behind is hung up, then the bridge ends.
                a.bridged_to = b.bridged_to = None
                a.bridge_a = b.bridge_a = False
                partner.last_other, ch.last_other = ch.uuid, partner.uuid
                self._finish(partner, "NORMAL_CLEARING", None)
                if cmd.dialplan != "inline":
                    ch.destination_number = cmd.destination
                self._emit(ChannelUnbridged, ch, other_uuid=partner.uuid)
        self._route_again(ch, cmd.destination, cmd.dialplan)

    def _route_again(self, ch: SimChannel, destination: str, dialplan: str = "XML") -> None:
        if ch.held:
            ch.held = False
        if ch.parked:
            ch.parked = False
            self._emit(ChannelUnparked, ch)
        if ch.timer is not None:
            ch.timer.cancel()
        if dialplan == "inline":
            # ``uuid_transfer <uuid> park inline``: run the applications, no dialplan lookup.
            ch.channel_state = "CS_EXECUTE"
            ch.timer = self.scheduler.after(self.timing.dialplan, self._run_inline, ch, destination)
            return
        ch.destination_number = destination
        ch.channel_state = "CS_ROUTING"
        ch.timer = self.scheduler.after(self.timing.dialplan, self._run_dialplan, ch)

    def _run_inline(self, ch: SimChannel, apps: str) -> None:
        ch.timer = None
        app = apps.split(",", 1)[0].split(":", 1)[0]
        if app == "park":
            ch.parked = True
            self._emit(ChannelParked, ch)
        elif app == "hangup":
            self._hangup(ch, "NORMAL_CLEARING", None)
        else:
            # The sim only knows the applications ctilink uses; anything else is an honest gap.
            self._hangup(ch, "NORMAL_TEMPORARY_FAILURE", None)

    def _set_variables(self, cmd: SetVariables) -> None:
        ch = self._live(cmd, cmd.uuid)
        if ch is not None:
            ch.set_variables(cmd.variables)

    def _record(self, cmd: Record) -> None:
        ch = self._live(cmd, cmd.uuid)
        if ch is not None:
            ch.recording = cmd.path if cmd.start else None

    def _eavesdrop(self, cmd: Eavesdrop) -> None:
        if cmd.target_uuid not in self.channels:
            self._refuse(cmd, "-ERR No such channel!")
        name, user = dial_target(cmd.supervisor_dial_string)
        ch = SimChannel(cmd.uuid, "outbound", name, self.now)
        ch.callee_number = ch.destination_number = user
        ch.set_variables(cmd.variables)
        self.channels[cmd.uuid] = ch
        ch.job_uuid = cmd.job_uuid
        self._emit(ChannelCreated, ch)
        ch.timer = self.scheduler.after(self.timing.progress, self._eavesdrop_answer, ch, cmd)

    def _eavesdrop_answer(self, ch: SimChannel, cmd: Eavesdrop) -> None:
        ch.timer = None
        ch.answer_state = "answered"
        ch.answered_at = self.now
        ch.channel_state = "CS_EXECUTE"
        self._emit(ChannelAnswered, ch)
        job, ch.job_uuid = ch.job_uuid, None
        if job is not None:
            self._job(job, f"+OK {ch.uuid}\n", cmd.supervisor_dial_string)

    def _send_dtmf(self, cmd: SendDtmf) -> None:
        # Digits towards the far end produce no event (fixture ``dtmf``).
        self._live(cmd, cmd.uuid)

    def _recv_dtmf(self, cmd: RecvDtmf) -> None:
        ch = self._live(cmd, cmd.uuid)
        if ch is None:
            return
        for digit in cmd.digits:
            if digit.upper() in DTMF_DIGITS:
                self._emit(DtmfReceived, ch, digit=digit.upper(), duration_ms=2000 / 8, source="APP")


__all__ = ["CommandError", "Decide", "SimChannel", "SwitchFabric", "dial_target"]
