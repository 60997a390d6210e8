"""Switch commands as data, and the value rules every field must satisfy.

Rules:
- The core (and the dialer) build these frozen dataclasses; ``ctilink.esl.render`` is the only
  place they become ESL text, and it validates every field with the rules in this module, so a
  value the core checks here is a value that renders, and nothing else renders.
- Prefer rejecting: uuids, dial strings, numbers, paths, causes, DTMF, contexts have a grammar and
  anything outside it is refused. Only free text with a legitimate need for odd characters
  (caller-id names and channel-variable values: commas, quotes, spaces, non-ASCII) is allowed,
  by ``ctilink.values.text_problem``, and escaped by the renderer.
- A value that cannot be made safe raises :class:`UnsafeValueError` naming the field
  (``Originate.variables['ctilink_x']``) and keeping the offending value intact. Nothing is
  silently dropped or rewritten.

This module knows nothing of sockets, ESL text, the engine or events: it is shared by the core
(which must not import ``ctilink.esl``) and the renderer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from ctilink.values import DIAL_STRING_RE, MAX_TEXT_LEN, TOKEN_PATTERN, text_problem

# ---------------------------------------------------------------------------------------------
# Command data (the contract the core is written against)
# ---------------------------------------------------------------------------------------------


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

# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


class UnsafeValueError(ValueError):
    """A command field holds a value that cannot be rendered safely.

    ``field`` names the field as the core wrote it (``Originate.variables['ctilink_x']``),
    ``value`` is the untouched offending value, ``reason`` says what was expected.
    """

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"{field}: {reason} (got {shown})")


# ---------------------------------------------------------------------------------------------
# Grammars
# ---------------------------------------------------------------------------------------------

UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
VAR_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
DESTINATION_RE = re.compile(r"[A-Za-z0-9+*#][A-Za-z0-9_+*#.@-]{0,63}")
CONTEXT_RE = re.compile(TOKEN_PATTERN)
DTMF_RE = re.compile(r"[0-9*#A-Da-dwW]{1,64}")
_ABS_PATH = r"/(?:[A-Za-z0-9_.+-]+/)*[A-Za-z0-9_.+-]+"
# A relative path is a sound under the switch's sound_prefix (``ivr/ivr-call_being_transferred.wav``:
# switch_ivr_play_file prepends the prefix to any path that is not absolute). No segment may start
# with a dot, so it cannot climb out of the sounds directory.
_SOUND_PATH = r"(?:[A-Za-z0-9_+-][A-Za-z0-9_.+-]*/)*[A-Za-z0-9_+-][A-Za-z0-9_.+-]*"
PLAYBACK_RE = re.compile(
    "|".join(
        [
            r"local_stream://[A-Za-z0-9_.-]{1,64}(?:/[0-9]{1,6})?",
            r"tone_stream://[A-Za-z0-9%(),;=.+-]{1,256}",
            r"silence_stream://-?[0-9]{1,9}(?:,[0-9]{1,6})?",
            _ABS_PATH,
            _SOUND_PATH,
        ]
    )
)
RECORD_PATH_RE = re.compile(_ABS_PATH)
APP_ARG_RE = re.compile(r"[A-Za-z0-9_@.:/+=%#-]{0,256}")
ALLOWED_APPLICATIONS = frozenset(
    {"park", "playback", "echo", "hangup", "answer", "sleep", "conference", "valet_park", "avmd_start"}
)
"""Applications an originated leg may run. ``eavesdrop``/``three_way`` belong to :class:`Eavesdrop`;
anything that runs shell commands or arbitrary dialplan (``system``, ``bridge``, ``transfer``...)
is deliberately absent."""

DIALPLANS = frozenset({"XML"})
"""``inline`` would turn the destination into applications to run; only XML is allowed, except the
fixed inline applications of :data:`INLINE_TRANSFERS`."""

INLINE_TRANSFERS = frozenset({"park"})
"""Inline destinations ctilink itself uses (re-park a caller it takes back from an agent)."""

RESERVED_VARIABLES = frozenset(
    {
        "origination_uuid",
        "originate_timeout",
        "origination_caller_id_number",
        "origination_caller_id_name",
        "eavesdrop_whisper_aleg",
        "eavesdrop_whisper_bleg",
    }
)
"""Variables the renderer sets from typed fields; a ``variables`` dict may not override them."""

MAX_VALUE_LEN = MAX_TEXT_LEN  # one rule: ctilink.values
MAX_TIMEOUT_S = 3600

HANGUP_CAUSES = frozenset(
    [
        "UNSPECIFIED",
        "SUCCESS",
        "UNALLOCATED_NUMBER",
        "NO_ROUTE_TRANSIT_NET",
        "NO_ROUTE_DESTINATION",
        "CHANNEL_UNACCEPTABLE",
        "CALL_AWARDED_DELIVERED",
        "NORMAL_CLEARING",
        "USER_BUSY",
        "NO_USER_RESPONSE",
        "NO_ANSWER",
        "SUBSCRIBER_ABSENT",
        "CALL_REJECTED",
        "NUMBER_CHANGED",
        "REDIRECTION_TO_NEW_DESTINATION",
        "EXCHANGE_ROUTING_ERROR",
        "DESTINATION_OUT_OF_ORDER",
        "INVALID_NUMBER_FORMAT",
        "FACILITY_REJECTED",
        "RESPONSE_TO_STATUS_ENQUIRY",
        "NORMAL_UNSPECIFIED",
        "NORMAL_CIRCUIT_CONGESTION",
        "NETWORK_OUT_OF_ORDER",
        "NORMAL_TEMPORARY_FAILURE",
        "SWITCH_CONGESTION",
        "ACCESS_INFO_DISCARDED",
        "REQUESTED_CHAN_UNAVAIL",
        "PRE_EMPTED",
        "FACILITY_NOT_SUBSCRIBED",
        "OUTGOING_CALL_BARRED",
        "INCOMING_CALL_BARRED",
        "BEARERCAPABILITY_NOTAUTH",
        "BEARERCAPABILITY_NOTAVAIL",
        "SERVICE_UNAVAILABLE",
        "BEARERCAPABILITY_NOTIMPL",
        "CHAN_NOT_IMPLEMENTED",
        "FACILITY_NOT_IMPLEMENTED",
        "SERVICE_NOT_IMPLEMENTED",
        "INVALID_CALL_REFERENCE",
        "INCOMPATIBLE_DESTINATION",
        "INVALID_MSG_UNSPECIFIED",
        "MANDATORY_IE_MISSING",
        "MESSAGE_TYPE_NONEXIST",
        "WRONG_MESSAGE",
        "IE_NONEXIST",
        "INVALID_IE_CONTENTS",
        "WRONG_CALL_STATE",
        "RECOVERY_ON_TIMER_EXPIRE",
        "MANDATORY_IE_LENGTH_ERROR",
        "PROTOCOL_ERROR",
        "INTERWORKING",
        "ORIGINATOR_CANCEL",
        "CRASH",
        "SYSTEM_SHUTDOWN",
        "LOSE_RACE",
        "MANAGER_REQUEST",
        "BLIND_TRANSFER",
        "ATTENDED_TRANSFER",
        "ALLOTTED_TIMEOUT",
        "USER_CHALLENGE",
        "MEDIA_TIMEOUT",
        "PICKED_OFF",
        "USER_NOT_REGISTERED",
        "PROGRESS_TIMEOUT",
        "INVALID_GATEWAY",
        "GATEWAY_DOWN",
        "INVALID_URL",
        "INVALID_PROFILE",
        "NO_PICKUP",
        "SRTP_READ_ERROR",
        "BOWOUT",
        "BUSY_EVERYWHERE",
        "DECLINE",
        "DOES_NOT_EXIST_ANYWHERE",
        "NOT_ACCEPTABLE",
        "UNWANTED",
        "NO_IDENTITY",
        "BAD_IDENTITY_INFO",
        "UNSUPPORTED_CERTIFICATE",
        "INVALID_IDENTITY",
        "STALE_DATE",
    ]
)
"""FreeSWITCH's hangup cause names (``switch_channel.c`` CAUSE_CHART)."""


# ---------------------------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------------------------


def check(field_name: str, value: object, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise UnsafeValueError(field_name, value, f"expected {what}")
    return value


def check_uuid(field_name: str, value: object) -> str:
    """Return ``value`` if it is uuid-shaped (8-4-4-4-12 hex), else raise :class:`UnsafeValueError`."""
    return check(field_name, value, UUID_RE, "a uuid (8-4-4-4-12 hex digits)")


def check_dial_string(field_name: str, value: object) -> str:
    """Return ``value`` if it matches the dial-string grammar (one leg, no variables)."""
    return check(
        field_name,
        value,
        DIAL_STRING_RE,
        "a dial string: user/<user>[@<domain>], sofia/gateway/<gw>/<number>, "
        "sofia/<profile>/<user>@<host[:port]> or loopback/<ext>/<context>",
    )


def check_variable_name(field_name: str, value: object) -> str:
    """Return ``value`` if it is a channel-variable name ``[A-Za-z_][A-Za-z0-9_]*`` (max 64)."""
    return check(field_name, value, VAR_NAME_RE, "a variable name [A-Za-z_][A-Za-z0-9_]* (max 64)")


def check_text(field_name: str, value: object) -> str:
    """Validate free text (caller-id name, variable value): ``ctilink.values.text_problem``."""
    if not isinstance(value, str):
        raise UnsafeValueError(field_name, value, "expected a string")
    problem = text_problem(value)
    if problem is not None:
        raise UnsafeValueError(field_name, value, problem)
    return value


PLAYBACK_WHAT = (
    "a playback source: local_stream://<name>, tone_stream://<spec>, silence_stream://<ms>, "
    "an absolute path without spaces, or a sound path relative to the sound prefix (no segment starting with '.')"
)


__all__ = [
    "ALLOWED_APPLICATIONS",
    "APP_ARG_RE",
    "CONTEXT_RE",
    "DESTINATION_RE",
    "DIALPLANS",
    "DTMF_RE",
    "HANGUP_CAUSES",
    "INLINE_TRANSFERS",
    "MAX_TIMEOUT_S",
    "MAX_VALUE_LEN",
    "PLAYBACK_RE",
    "PLAYBACK_WHAT",
    "RECORD_PATH_RE",
    "RESERVED_VARIABLES",
    "UUID_RE",
    "VAR_NAME_RE",
    "Answer",
    "AnyCommand",
    "Break",
    "Bridge",
    "Command",
    "Eavesdrop",
    "Hangup",
    "Hold",
    "Originate",
    "Playback",
    "PreAnswer",
    "Record",
    "RecvDtmf",
    "SendDtmf",
    "SetVariables",
    "Transfer",
    "UnsafeValueError",
    "check",
    "check_dial_string",
    "check_text",
    "check_uuid",
    "check_variable_name",
]
