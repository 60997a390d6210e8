"""The one renderer: switch commands (``ctilink.commands``) become ESL text here.

Rules:
- :func:`render` is the only place a command becomes text. Every field is checked with the rules
  of ``ctilink.commands`` (the same the core applies) and escaped for *every* parsing layer it
  will cross inside FreeSWITCH. Caller-controlled text can never end the command line, add a
  command, open or close a ``{}``/``[]``/``<>`` block, add or change a channel variable, add a
  leg (``:_:``), or change the application, its argument or the leg a command acts on.
- A value that cannot be made safe raises ``UnsafeValueError`` naming the field.

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

This module never knows about sockets, the engine or events; ``command_parse`` is its
independent inverse (written to FreeSWITCH's splitting rules) used by tests and the fake switch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from ctilink.commands import (
    ALLOWED_APPLICATIONS,
    APP_ARG_RE,
    CONTEXT_RE,
    DESTINATION_RE,
    DIALPLANS,
    DTMF_RE,
    HANGUP_CAUSES,
    INLINE_TRANSFERS,
    MAX_TIMEOUT_S,
    PLAYBACK_RE,
    PLAYBACK_WHAT,
    RECORD_PATH_RE,
    RESERVED_VARIABLES,
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
    UnsafeValueError,
    check,
    check_dial_string,
    check_text,
    check_uuid,
    check_variable_name,
)
from ctilink.values import ENTERPRISE_DELIMITER, NUMBER_RE

_R = TypeVar("_R")


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
    check("Originate.application_arg", arg, APP_ARG_RE, "an argument of [A-Za-z0-9_@.:/+=%#-] (max 256)")
    timeout = cmd.timeout_s
    if type(timeout) is not int or not 1 <= timeout <= MAX_TIMEOUT_S:
        raise UnsafeValueError("Originate.timeout_s", timeout, f"expected an int from 1 to {MAX_TIMEOUT_S}")
    pairs = [("Originate.uuid", "origination_uuid", uuid)]
    pairs += _user_variables("Originate", cmd.variables)
    if cmd.caller_id_number is not None:
        check("Originate.caller_id_number", cmd.caller_id_number, NUMBER_RE, "a number: +?[0-9*#]{1,32}")
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


def _render_bridge(cmd: Bridge, uuid: str) -> RenderedCommand:
    other = check_uuid("Bridge.other_uuid", cmd.other_uuid)
    return _api(f"uuid_bridge {uuid} {other}")


def _render_answer(cmd: Answer, uuid: str) -> RenderedCommand:
    return _api(f"uuid_answer {uuid}")


def _render_pre_answer(cmd: PreAnswer, uuid: str) -> RenderedCommand:
    return _api(f"uuid_pre_answer {uuid}")


def _render_hangup(cmd: Hangup, uuid: str) -> RenderedCommand:
    if cmd.cause not in HANGUP_CAUSES:
        raise UnsafeValueError("Hangup.cause", cmd.cause, "expected a FreeSWITCH hangup cause name")
    return _api(f"uuid_kill {uuid} {cmd.cause}")


def _render_playback(cmd: Playback, uuid: str) -> RenderedCommand:
    path = check("Playback.path", cmd.path, PLAYBACK_RE, PLAYBACK_WHAT)
    if ".." in path.split("/"):
        raise UnsafeValueError("Playback.path", path, "'..' path segments are not allowed")
    if cmd.leg not in ("aleg", "bleg", "both"):
        raise UnsafeValueError("Playback.leg", cmd.leg, "expected aleg, bleg or both")
    return _api(f"uuid_broadcast {uuid} {path} {cmd.leg}")


def _render_break(cmd: Break, uuid: str) -> RenderedCommand:
    return _api(f"uuid_break {uuid} all" if cmd.all else f"uuid_break {uuid}")


def _render_transfer(cmd: Transfer, uuid: str) -> RenderedCommand:
    if cmd.leg not in ("", "-bleg", "-both"):
        raise UnsafeValueError("Transfer.leg", cmd.leg, "expected '', '-bleg' or '-both'")
    leg = f"{cmd.leg} " if cmd.leg else ""
    if cmd.dialplan == "inline":
        if cmd.destination not in INLINE_TRANSFERS:
            raise UnsafeValueError(
                "Transfer.destination", cmd.destination, f"inline transfers may only run {sorted(INLINE_TRANSFERS)}"
            )
        return _api(f"uuid_transfer {uuid} {leg}{cmd.destination} inline")
    dest = check(
        "Transfer.destination", cmd.destination, DESTINATION_RE, "an extension [A-Za-z0-9+*#][A-Za-z0-9_+*#.@-]*"
    )
    if cmd.dialplan not in DIALPLANS:
        raise UnsafeValueError("Transfer.dialplan", cmd.dialplan, f"expected one of {sorted(DIALPLANS)}")
    ctx = check("Transfer.context", cmd.context, CONTEXT_RE, "a context name [A-Za-z0-9][A-Za-z0-9_.-]*")
    return _api(f"uuid_transfer {uuid} {leg}{dest} {cmd.dialplan} {ctx}")


def _render_hold(cmd: Hold, uuid: str) -> RenderedCommand:
    return _api(f"uuid_hold {uuid}" if cmd.on else f"uuid_hold off {uuid}")


def _render_record(cmd: Record, uuid: str) -> RenderedCommand:
    path = check("Record.path", cmd.path, RECORD_PATH_RE, "an absolute path of [A-Za-z0-9_.+-] segments")
    if ".." in path.split("/"):
        raise UnsafeValueError("Record.path", path, "'..' path segments are not allowed")
    return _api(f"uuid_record {uuid} {'start' if cmd.start else 'stop'} {path}")


def _render_send_dtmf(cmd: SendDtmf, uuid: str) -> RenderedCommand:
    digits = check("SendDtmf.digits", cmd.digits, DTMF_RE, "DTMF digits [0-9*#A-Dw] (1-64)")
    return _api(f"uuid_send_dtmf {uuid} {digits}")


def _render_recv_dtmf(cmd: RecvDtmf, uuid: str) -> RenderedCommand:
    digits = check("RecvDtmf.digits", cmd.digits, DTMF_RE, "DTMF digits [0-9*#A-Dw] (1-64)")
    return _api(f"uuid_recv_dtmf {uuid} {digits}")


# Commands that check their own uuid fields (a bgapi with a Job-UUID, or variables to validate).
# Any: each renderer takes its own command class, which a dict keyed by class cannot express.
_WHOLE: dict[type, Callable[[Any], RenderedCommand]] = {
    Originate: _render_originate,
    Eavesdrop: _render_eavesdrop,
    SetVariables: _render_set_variables,
}
# Commands that act on one channel: its uuid is checked before anything else about them.
_ON_CHANNEL: dict[type, Callable[[Any, str], RenderedCommand]] = {
    Bridge: _render_bridge,
    Answer: _render_answer,
    PreAnswer: _render_pre_answer,
    Hangup: _render_hangup,
    Playback: _render_playback,
    Break: _render_break,
    Transfer: _render_transfer,
    Hold: _render_hold,
    Record: _render_record,
    SendDtmf: _render_send_dtmf,
    RecvDtmf: _render_recv_dtmf,
}


def _lookup(table: Mapping[type, _R], cmd: object) -> _R | None:
    # By the class hierarchy, so a subclass renders as the command it extends.
    for klass in type(cmd).__mro__:
        found = table.get(klass)
        if found is not None:
            return found
    return None


def render(cmd: Command) -> RenderedCommand:
    """Validate and render one command. Raises :class:`UnsafeValueError` naming the bad field."""
    rendered = _render(cmd)
    # Belt and braces: whatever a future edit does, a command is exactly one line.
    if any(c in rendered.text for c in "\r\n\x00"):
        raise UnsafeValueError(type(cmd).__name__, rendered.text, "rendered text is not a single line")
    return rendered


def _render(cmd: Command) -> RenderedCommand:
    whole = _lookup(_WHOLE, cmd)
    if whole is not None:
        return whole(cmd)
    uuid = check_uuid(f"{type(cmd).__name__}.uuid", getattr(cmd, "uuid", None))
    on_channel = _lookup(_ON_CHANNEL, cmd)
    if on_channel is None:
        raise TypeError(f"not a switch command: {cmd!r}")
    return on_channel(cmd, uuid)


__all__ = ["RenderedCommand", "UnsafeValueError", "fs_escape", "render"]
