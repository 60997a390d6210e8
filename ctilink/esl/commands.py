"""Switch commands: what the core asks FreeSWITCH to do, as data, and their one renderer.

Rules:
- The core returns these frozen dataclasses; :func:`render` is the only place they become ESL text.
- Every value is validated against a strict grammar or escaped for *every* parsing layer it will
  cross inside FreeSWITCH. Caller-controlled text can never end the command line, add a command,
  open or close a ``{}``/``[]``/``<>`` block, add or change a channel variable, or change the
  application, its argument or the leg a command acts on.
- A value that cannot be made safe raises :class:`UnsafeValueError` naming the field
  (``Originate.variables['ctilink_x']``) and keeping the offending value intact. Nothing is silently
  dropped or rewritten.
- Prefer rejecting: uuids, dial strings, numbers, paths, causes, DTMF, contexts have a grammar and
  anything outside it is refused. Only free text with a legitimate need for odd characters
  (caller-id names and channel-variable values: commas, quotes, spaces, non-ASCII) is escaped.

Theory of operation:
FreeSWITCH (1.10, ``switch_utils.c``) splits API arguments with ``switch_separate_string``: blanks
split unless inside single quotes or after a backslash; each piece is then cleaned up by
``cleanup_separated_string``, which drops matched single quotes and turns ``\\'`` ``\\"`` ``\\\\``
``\\<delim>`` ``\\s`` (space) ``\\n`` ``\\r`` ``\\t`` into the character they name. ``originate``
crosses three such layers for a ``{}`` variable value: the blank split of the API arguments, the
``,`` split of the ``{...}`` block and the ``=`` split of each ``name=value`` pair. The renderer
escapes a value for the innermost layer first and then for each outer layer in turn, so every
layer's cleanup peels exactly one level off and the switch ends up with the original text.
Braces, brackets and angle brackets are rejected outright in values: FreeSWITCH finds the end of
a ``{}`` block by counting braces with no regard for escapes or quotes. ``$`` is harmless once
``{`` is gone (``${...}`` expansion needs the brace).

This module must never know about sockets, the engine or events; ``command_parse`` is its
independent inverse (written to FreeSWITCH's splitting rules) used by tests and the fake switch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from ctilink.values import DIAL_STRING_RE, ENTERPRISE_DELIMITER, MAX_TEXT_LEN, NUMBER_RE, TOKEN_PATTERN, text_problem

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
# Errors and rendered form
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


@dataclass(frozen=True, slots=True)
class RenderedCommand:
    """One ESL command ready for the socket.

    ``text`` is the single command line without the verb (``uuid_bridge a b``).
    """

    verb: Literal["api", "bgapi"]
    text: str
    job_uuid: str | None = None

    def wire(self) -> bytes:
        """Exactly the bytes to write: ``api ...\\n\\n`` or ``bgapi ...\\nJob-UUID: <id>\\n\\n``."""
        if self.verb == "bgapi" and self.job_uuid is not None:
            return f"bgapi {self.text}\nJob-UUID: {self.job_uuid}\n\n".encode()
        return f"{self.verb} {self.text}\n\n".encode()


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


def _check(field_name: str, value: object, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise UnsafeValueError(field_name, value, f"expected {what}")
    return value


def check_uuid(field_name: str, value: object) -> str:
    """Return ``value`` if it is uuid-shaped (8-4-4-4-12 hex), else raise :class:`UnsafeValueError`."""
    return _check(field_name, value, UUID_RE, "a uuid (8-4-4-4-12 hex digits)")


def check_dial_string(field_name: str, value: object) -> str:
    """Return ``value`` if it matches the dial-string grammar (one leg, no variables)."""
    return _check(
        field_name,
        value,
        DIAL_STRING_RE,
        "a dial string: user/<user>[@<domain>], sofia/gateway/<gw>/<number>, "
        "sofia/<profile>/<user>@<host[:port]> or loopback/<ext>/<context>",
    )


def check_variable_name(field_name: str, value: object) -> str:
    """Return ``value`` if it is a channel-variable name ``[A-Za-z_][A-Za-z0-9_]*`` (max 64)."""
    return _check(field_name, value, VAR_NAME_RE, "a variable name [A-Za-z_][A-Za-z0-9_]* (max 64)")


def check_text(field_name: str, value: object) -> str:
    """Validate free text (caller-id name, variable value): ``ctilink.values.text_problem``."""
    if not isinstance(value, str):
        raise UnsafeValueError(field_name, value, "expected a string")
    problem = text_problem(value)
    if problem is not None:
        raise UnsafeValueError(field_name, value, problem)
    return value


def fs_escape(value: str, delim: str | None) -> str:
    """Escape ``value`` for one FreeSWITCH ``switch_separate_string`` layer splitting on ``delim``.

    ``None`` means the blank (space) splitter. After that layer's split and cleanup the result is
    exactly ``value``. Quotes, backslashes and the delimiter get a backslash; spaces become ``\\s``
    so they neither split nor get trimmed.
    """
    out: list[str] = []
    for ch in value:
        if ch in "'\"\\" or ch == delim:
            out.append("\\" + ch)
        elif ch == " ":
            out.append("\\s")
        else:
            out.append(ch)
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------


def _var_block(pairs: list[tuple[str, str, str]]) -> str:
    """``{a=b,c=d}`` for (field, name, value) triples, each value escaped for the `=` then `,` layer."""
    items = []
    for field_name, name, value in pairs:
        check_variable_name(field_name, name)
        check_text(field_name, value)
        items.append(fs_escape(f"{name}={fs_escape(value, '=')}", ","))
    return "{" + ",".join(items) + "}"


def _user_variables(cls: str, variables: object) -> list[tuple[str, str, str]]:
    if not isinstance(variables, dict):
        raise UnsafeValueError(f"{cls}.variables", variables, "expected a dict of str to str")
    out = []
    for name, value in variables.items():
        field_name = f"{cls}.variables[{name!r}]"
        check_variable_name(field_name, name)
        if name in RESERVED_VARIABLES:
            raise UnsafeValueError(field_name, name, "reserved: set through the command's own field")
        out.append((field_name, name, value))
    return out


def _originate(
    cls: str, uuid: str, job_uuid: str, call_url_vars: list[tuple[str, str, str]], dial: str, exten: str
) -> RenderedCommand:
    block = _var_block(call_url_vars)
    # The blank layer sees the whole call URL; exten is grammar-checked and needs no escaping.
    url = f"{fs_escape(block, None)}{dial}"
    if ENTERPRISE_DELIMITER in url:  # every part is checked already: this only guards the whole
        raise UnsafeValueError(f"{cls}.dial_string", url, f"the call URL would contain {ENTERPRISE_DELIMITER!r}")
    text = f"originate {url} {exten}"
    return RenderedCommand("bgapi", text, job_uuid)


def _render_originate(cmd: Originate) -> RenderedCommand:
    uuid = check_uuid("Originate.uuid", cmd.uuid)
    job = check_uuid("Originate.job_uuid", cmd.job_uuid)
    dial = check_dial_string("Originate.dial_string", cmd.dial_string)
    if cmd.application not in ALLOWED_APPLICATIONS:
        raise UnsafeValueError(
            "Originate.application", cmd.application, f"expected one of {sorted(ALLOWED_APPLICATIONS)}"
        )
    if cmd.application_arg == "":
        raise UnsafeValueError("Originate.application_arg", "", "empty argument: use None for no argument")
    arg = cmd.application_arg or ""
    _check("Originate.application_arg", arg, APP_ARG_RE, "an argument of [A-Za-z0-9_@.:/+=%#-] (max 256)")
    timeout = cmd.timeout_s
    if type(timeout) is not int or not 1 <= timeout <= MAX_TIMEOUT_S:
        raise UnsafeValueError("Originate.timeout_s", timeout, f"expected an int from 1 to {MAX_TIMEOUT_S}")
    pairs = [("Originate.uuid", "origination_uuid", uuid)]
    pairs += _user_variables("Originate", cmd.variables)
    if cmd.caller_id_number is not None:
        _check("Originate.caller_id_number", cmd.caller_id_number, NUMBER_RE, "a number: +?[0-9*#]{1,32}")
        pairs.append(("Originate.caller_id_number", "origination_caller_id_number", cmd.caller_id_number))
    if cmd.caller_id_name is not None:
        pairs.append(("Originate.caller_id_name", "origination_caller_id_name", cmd.caller_id_name))
    pairs.append(("Originate.timeout_s", "originate_timeout", str(timeout)))
    return _originate("Originate", uuid, job, pairs, dial, f"&{cmd.application}({arg})")


def _render_eavesdrop(cmd: Eavesdrop) -> RenderedCommand:
    uuid = check_uuid("Eavesdrop.uuid", cmd.uuid)
    job = check_uuid("Eavesdrop.job_uuid", cmd.job_uuid)
    target = check_uuid("Eavesdrop.target_uuid", cmd.target_uuid)
    dial = check_dial_string("Eavesdrop.supervisor_dial_string", cmd.supervisor_dial_string)
    if cmd.mode not in ("listen", "whisper", "barge"):
        raise UnsafeValueError("Eavesdrop.mode", cmd.mode, "expected listen, whisper or barge")
    pairs = [("Eavesdrop.uuid", "origination_uuid", uuid)]
    pairs += _user_variables("Eavesdrop", cmd.variables)
    if cmd.mode == "whisper":
        pairs.append(("Eavesdrop.mode", "eavesdrop_whisper_aleg", "true"))
    app = "three_way" if cmd.mode == "barge" else "eavesdrop"
    return _originate("Eavesdrop", uuid, job, pairs, dial, f"&{app}({target})")


def _api(text: str) -> RenderedCommand:
    return RenderedCommand("api", text, None)


def _render_set_variables(cmd: SetVariables) -> RenderedCommand:
    uuid = check_uuid("SetVariables.uuid", cmd.uuid)
    if not isinstance(cmd.variables, dict) or not cmd.variables:
        raise UnsafeValueError("SetVariables.variables", cmd.variables, "expected a non-empty dict")
    checked = []
    for name, value in cmd.variables.items():
        field_name = f"SetVariables.variables[{name!r}]"
        check_variable_name(field_name, name)
        check_text(field_name, value)
        checked.append((name, value))
    if len(checked) == 1:
        name, value = checked[0]
        # uuid_setvar: blank split into 3; the value is the rest of the line, cleaned once.
        return _api(f"uuid_setvar {uuid} {name} {fs_escape(value, None)}")
    # uuid_setvar_multi: ';' split with cleanup; each piece splits at its first '=' (no cleanup).
    body = ";".join(f"{name}={fs_escape(value, ';')}" for name, value in checked)
    return _api(f"uuid_setvar_multi {uuid} {body}")


def render(cmd: Command) -> RenderedCommand:
    """Validate and render one command. Raises :class:`UnsafeValueError` naming the bad field."""
    rendered = _render(cmd)
    # Belt and braces: whatever a future edit does, a command is exactly one line.
    if any(c in rendered.text for c in "\r\n\x00"):
        raise UnsafeValueError(type(cmd).__name__, rendered.text, "rendered text is not a single line")
    return rendered


def _render(cmd: Command) -> RenderedCommand:
    name = type(cmd).__name__
    if isinstance(cmd, Originate):
        return _render_originate(cmd)
    if isinstance(cmd, Eavesdrop):
        return _render_eavesdrop(cmd)
    if isinstance(cmd, SetVariables):
        return _render_set_variables(cmd)
    uuid = check_uuid(f"{name}.uuid", getattr(cmd, "uuid", None))
    if isinstance(cmd, Bridge):
        other = check_uuid("Bridge.other_uuid", cmd.other_uuid)
        return _api(f"uuid_bridge {uuid} {other}")
    if isinstance(cmd, Answer):
        return _api(f"uuid_answer {uuid}")
    if isinstance(cmd, PreAnswer):
        return _api(f"uuid_pre_answer {uuid}")
    if isinstance(cmd, Hangup):
        if cmd.cause not in HANGUP_CAUSES:
            raise UnsafeValueError("Hangup.cause", cmd.cause, "expected a FreeSWITCH hangup cause name")
        return _api(f"uuid_kill {uuid} {cmd.cause}")
    if isinstance(cmd, Playback):
        path = _check("Playback.path", cmd.path, PLAYBACK_RE, _PLAYBACK_WHAT)
        if ".." in path.split("/"):
            raise UnsafeValueError("Playback.path", path, "'..' path segments are not allowed")
        if cmd.leg not in ("aleg", "bleg", "both"):
            raise UnsafeValueError("Playback.leg", cmd.leg, "expected aleg, bleg or both")
        return _api(f"uuid_broadcast {uuid} {path} {cmd.leg}")
    if isinstance(cmd, Break):
        return _api(f"uuid_break {uuid} all" if cmd.all else f"uuid_break {uuid}")
    if isinstance(cmd, Transfer):
        if cmd.leg not in ("", "-bleg", "-both"):
            raise UnsafeValueError("Transfer.leg", cmd.leg, "expected '', '-bleg' or '-both'")
        if cmd.dialplan == "inline":
            if cmd.destination not in INLINE_TRANSFERS:
                raise UnsafeValueError(
                    "Transfer.destination", cmd.destination, f"inline transfers may only run {sorted(INLINE_TRANSFERS)}"
                )
            leg = f"{cmd.leg} " if cmd.leg else ""
            return _api(f"uuid_transfer {uuid} {leg}{cmd.destination} inline")
        dest = _check(
            "Transfer.destination", cmd.destination, DESTINATION_RE, "an extension [A-Za-z0-9+*#][A-Za-z0-9_+*#.@-]*"
        )
        if cmd.dialplan not in DIALPLANS:
            raise UnsafeValueError("Transfer.dialplan", cmd.dialplan, f"expected one of {sorted(DIALPLANS)}")
        ctx = _check("Transfer.context", cmd.context, CONTEXT_RE, "a context name [A-Za-z0-9][A-Za-z0-9_.-]*")
        leg = f"{cmd.leg} " if cmd.leg else ""
        return _api(f"uuid_transfer {uuid} {leg}{dest} {cmd.dialplan} {ctx}")
    if isinstance(cmd, Hold):
        return _api(f"uuid_hold {uuid}" if cmd.on else f"uuid_hold off {uuid}")
    if isinstance(cmd, Record):
        path = _check("Record.path", cmd.path, RECORD_PATH_RE, "an absolute path of [A-Za-z0-9_.+-] segments")
        if ".." in path.split("/"):
            raise UnsafeValueError("Record.path", path, "'..' path segments are not allowed")
        return _api(f"uuid_record {uuid} {'start' if cmd.start else 'stop'} {path}")
    if isinstance(cmd, SendDtmf):
        digits = _check("SendDtmf.digits", cmd.digits, DTMF_RE, "DTMF digits [0-9*#A-Dw] (1-64)")
        return _api(f"uuid_send_dtmf {uuid} {digits}")
    if isinstance(cmd, RecvDtmf):
        digits = _check("RecvDtmf.digits", cmd.digits, DTMF_RE, "DTMF digits [0-9*#A-Dw] (1-64)")
        return _api(f"uuid_recv_dtmf {uuid} {digits}")
    raise TypeError(f"not a switch command: {cmd!r}")


_PLAYBACK_WHAT = (
    "a playback source: local_stream://<name>, tone_stream://<spec>, silence_stream://<ms>, "
    "an absolute path without spaces, or a sound path relative to the sound prefix (no segment starting with '.')"
)

__all__ = [
    "ALLOWED_APPLICATIONS",
    "HANGUP_CAUSES",
    "RESERVED_VARIABLES",
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
    "RenderedCommand",
    "SendDtmf",
    "SetVariables",
    "Transfer",
    "UnsafeValueError",
    "check_dial_string",
    "check_text",
    "check_uuid",
    "check_variable_name",
    "fs_escape",
    "render",
]
