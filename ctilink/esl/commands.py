"""Switch commands: what the core asks FreeSWITCH to do, as data.

The core returns these objects; the ESL edge renders them to ESL text in this one module.
Rendering validates and escapes every value (numbers, names, endpoints, paths, variables):
caller-controlled text can never end the command line, add a command, add or change a channel
variable, or change an application argument. A value that cannot be made safe raises
:class:`UnsafeValueError` naming the field.

(Rendering is added by the foundation work; the field layout below is the contract the core uses.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, slots=True)
class Command:
    """Base of every switch command. ``node`` names the FreeSWITCH node ("" = the only one)."""


@dataclass(frozen=True, slots=True)
class Originate(Command):
    """``bgapi originate {vars}dial_string &app(arg)`` with a ctilink-chosen uuid and Job-UUID."""

    uuid: str
    dial_string: str
    job_uuid: str
    variables: dict[str, str] = field(default_factory=dict)
    caller_id_number: str | None = None
    caller_id_name: str | None = None
    timeout_s: int = 30
    application: str = "park"
    application_arg: str | None = None
    node: str = ""


@dataclass(frozen=True, slots=True)
class Bridge(Command):
    """``uuid_bridge uuid other_uuid``."""

    uuid: str
    other_uuid: str
    node: str = ""


@dataclass(frozen=True, slots=True)
class Answer(Command):
    """``uuid_answer uuid``."""

    uuid: str
    node: str = ""


@dataclass(frozen=True, slots=True)
class PreAnswer(Command):
    """``uuid_pre_answer uuid`` (early media, e.g. hold music before answering)."""

    uuid: str
    node: str = ""


@dataclass(frozen=True, slots=True)
class Hangup(Command):
    """``uuid_kill uuid cause``."""

    uuid: str
    cause: str = "NORMAL_CLEARING"
    node: str = ""


@dataclass(frozen=True, slots=True)
class Playback(Command):
    """``uuid_broadcast uuid path leg`` (hold music, announcements)."""

    uuid: str
    path: str
    leg: Literal["aleg", "bleg", "both"] = "aleg"
    node: str = ""


@dataclass(frozen=True, slots=True)
class Break(Command):
    """``uuid_break uuid [all]``: stop what is playing (cut an announcement)."""

    uuid: str
    all: bool = True
    node: str = ""


@dataclass(frozen=True, slots=True)
class Transfer(Command):
    """``uuid_transfer uuid [-bleg|-both] destination dialplan context``."""

    uuid: str
    destination: str
    dialplan: str = "XML"
    context: str = "default"
    leg: Literal["", "-bleg", "-both"] = ""
    node: str = ""


@dataclass(frozen=True, slots=True)
class Hold(Command):
    """``uuid_hold [off] uuid``."""

    uuid: str
    on: bool = True
    node: str = ""


@dataclass(frozen=True, slots=True)
class SetVariables(Command):
    """``uuid_setvar uuid k v`` / ``uuid_setvar_multi uuid k=v;k2=v2``."""

    uuid: str
    variables: dict[str, str]
    node: str = ""


@dataclass(frozen=True, slots=True)
class Record(Command):
    """``uuid_record uuid start|stop path``."""

    uuid: str
    path: str
    start: bool = True
    node: str = ""


@dataclass(frozen=True, slots=True)
class Eavesdrop(Command):
    """Originate a supervisor leg that eavesdrops on ``target_uuid``.

    ``mode``: listen (silent), whisper (speak to the agent only), barge (three-way).
    """

    uuid: str
    job_uuid: str
    supervisor_dial_string: str
    target_uuid: str
    mode: Literal["listen", "whisper", "barge"] = "listen"
    variables: dict[str, str] = field(default_factory=dict)
    node: str = ""


@dataclass(frozen=True, slots=True)
class SendDtmf(Command):
    """``uuid_send_dtmf uuid digits`` (towards the far end)."""

    uuid: str
    digits: str
    node: str = ""


@dataclass(frozen=True, slots=True)
class RecvDtmf(Command):
    """``uuid_recv_dtmf uuid digits`` (as if the far end had sent them)."""

    uuid: str
    digits: str
    node: str = ""


AnyCommand = (
    Originate
    | Bridge
    | Answer
    | PreAnswer
    | Hangup
    | Playback
    | Break
    | Transfer
    | Hold
    | SetVariables
    | Record
    | Eavesdrop
    | SendDtmf
    | RecvDtmf
)
