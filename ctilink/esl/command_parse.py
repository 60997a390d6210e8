"""Parse ESL command text back into commands, the way FreeSWITCH itself splits it.

Rules:
- This module models FreeSWITCH 1.10's own argument handling (``switch_utils.c``:
  ``switch_separate_string``, ``cleanup_separated_string``, ``switch_find_end_paren``;
  ``switch_event.c``: ``switch_event_create_brackets``; ``mod_commands.c``: how ``originate``,
  ``uuid_setvar`` and ``uuid_setvar_multi`` cut their arguments). It is deliberately *not* written
  as the inverse of :mod:`ctilink.commands`; tests use it to show that what the renderer
  produced means, to the switch, exactly the command the core asked for.
- Anything FreeSWITCH would read differently from a single well-formed command (a second leg,
  a second variable block, trailing arguments, an unknown API) raises :class:`CommandParseError`.

Theory of operation:
:func:`parse_wire` cuts one ESL command frame (``api ...\\n\\n`` / ``bgapi ...\\nJob-UUID: x\\n\\n``);
:func:`parse_command` turns the command line into a :mod:`ctilink.commands` dataclass;
:func:`parse_originate_args` is the lower level the fake switch uses to learn what an
``originate`` asks for (all variables, including the ones FreeSWITCH reserves).
Owns no state, knows nothing about sockets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

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


class CommandParseError(ValueError):
    """The text is not one well-formed command of the kinds ctilink sends."""


# ---------------------------------------------------------------------------------------------
# FreeSWITCH's string splitting, modelled on switch_utils.c
# ---------------------------------------------------------------------------------------------

_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", "s": " "}


def fs_cleanup(s: str, delim: str | None) -> str:
    """``cleanup_separated_string``: drop leading blanks and matched single quotes, decode escapes,
    trim trailing blanks (an escaped or quoted blank is kept)."""
    i = 0
    while i < len(s) and s[i] == " ":
        i += 1
    out: list[str] = []
    end = 0
    inside = False
    n = len(s)
    while i < n:
        c = s[i]
        if c == "\\" and i + 1 < n:
            e = s[i + 1]
            if e in ("'", '"', "\\") or (delim is not None and e == delim):
                out.append(e)
                end = len(out)
                i += 2
                continue
            if e in _UNESCAPE:
                out.append(_UNESCAPE[e])
                end = len(out)
                i += 2
                continue
        if c == "'" and (inside or "'" in s[i + 1 :]):
            inside = not inside
            if inside:
                end = len(out)
        else:
            out.append(c)
            if c != " " or inside:
                end = len(out)
        i += 1
    return "".join(out[:end])


def _split_blank(buf: str, arraylen: int) -> list[str]:
    pieces: list[str] = []
    i, n = 0, len(buf)
    inside = False
    while i < n and len(pieces) < arraylen:
        # START then SKIP_INITIAL_SPACE: the piece starts where the previous one ended.
        start = i
        while i < n and buf[i] == " ":
            i += 1
        if len(pieces) == arraylen - 1:
            pieces.append(buf[start:])
            return pieces
        while i < n:
            c = buf[i]
            if c == "\\":
                i += 2
                continue
            if c == "'":
                inside = not inside
            elif c == " " and not inside:
                break
            i += 1
        pieces.append(buf[start:i])
        if i < n:
            i += 1  # the terminating blank
            while i < n and buf[i] == " ":
                i += 1
    return pieces


def _split_char(buf: str, delim: str, arraylen: int) -> list[str]:
    pieces: list[str] = []
    i, n = 0, len(buf)
    inside = False
    while i < n and len(pieces) < arraylen:
        start = i
        if len(pieces) == arraylen - 1:
            pieces.append(buf[start:])
            return pieces
        while i < n:
            c = buf[i]
            if c == "\\":
                i += 2
                continue
            if c == "'" and (inside or "'" in buf[i + 1 :]):
                inside = not inside
            elif c == delim and not inside:
                break
            i += 1
        pieces.append(buf[start:i])
        if i < n:
            i += 1
            if i == n:
                break  # a trailing delimiter starts no new piece (the C loop stops at NUL)
    return pieces


def fs_separate(buf: str, delim: str, arraylen: int = 1024) -> list[str]:
    """``switch_separate_string``: a leading ``^^X`` picks ``X`` as the delimiter; ``' '`` uses the
    blank tokenizer (quotes always toggle), others the char tokenizer (a quote toggles only if
    matched). Every piece goes through :func:`fs_cleanup`; at most ``arraylen`` pieces, the last
    one keeping the rest of the string."""
    if buf.startswith("^^") and len(buf) >= 4:
        delim = buf[2]
        buf = buf[3:]
    if delim == " ":
        return [fs_cleanup(p, None) for p in _split_blank(buf, arraylen)]
    return [fs_cleanup(p, delim) for p in _split_char(buf, delim, arraylen)]


def fs_find_end_paren(s: str, open_: str, close: str) -> int | None:
    """``switch_find_end_paren``: index of the brace closing the one at the start (after blanks)."""
    i = 0
    while i < len(s) and s[i] == " ":
        i += 1
    if i >= len(s) or s[i] != open_:
        return None
    depth = 0
    for j in range(i, len(s)):
        if s[j] == open_:
            depth += 1
        elif s[j] == close:
            depth -= 1
            if depth == 0:
                return j
    return None


def fs_brackets(data: str, open_: str = "{", close: str = "}", sep: str = ",") -> tuple[dict[str, str], str]:
    """``switch_event_create_brackets`` for one block: (variables, rest of the string)."""
    end = fs_find_end_paren(data, open_, close)
    if end is None:
        raise CommandParseError(f"unterminated {open_}{close} block")
    inner = data[data.index(open_) + 1 : end]
    if inner.startswith("^^") and len(inner) >= 3:
        sep = inner[2]
        inner = inner[3:]
    variables: dict[str, str] = {}
    for item in fs_separate(inner, sep) if inner else []:
        kv = fs_separate(item, "=", 2)
        if len(kv) == 2:
            variables.pop(kv[0], None)
            variables[kv[0]] = kv[1]
    return variables, data[end + 1 :]


# ---------------------------------------------------------------------------------------------
# ESL framing
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParsedWire:
    verb: str
    text: str
    job_uuid: str | None


def parse_wire(data: bytes) -> ParsedWire:
    """Split one command frame: first line ``<verb> <text>``, optional ``Job-UUID`` header, blank line."""
    if not data.endswith(b"\n\n"):
        raise CommandParseError("a command frame ends with a blank line")
    lines = data[:-2].decode("utf-8").split("\n")
    verb, _, text = lines[0].partition(" ")
    job = None
    for line in lines[1:]:
        name, _, value = line.partition(": ")
        if name.lower() != "job-uuid":
            raise CommandParseError(f"unexpected header line {line!r}")
        job = value
    return ParsedWire(verb, text, job)


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OriginateRequest:
    """What an ``originate`` asks of the switch, as FreeSWITCH reads it."""

    variables: dict[str, str] = field(default_factory=dict)
    dial_string: str = ""
    application: str | None = None
    application_arg: str = ""
    extension: str | None = None
    dialplan: str | None = None
    context: str | None = None


def parse_originate_args(args: str) -> OriginateRequest:
    """``originate <call url> <exten>|&<app>(<arg>) [<dialplan>] [<context>]`` as mod_commands reads it."""
    argv = fs_separate(args.strip(" "), " ", 10)
    if not 2 <= len(argv) <= 7:
        raise CommandParseError(f"originate takes 2 to 7 arguments, got {len(argv)}")
    if len(argv) > 4:
        raise CommandParseError("caller-id and timeout must be set as variables, not arguments")
    url, exten = argv[0], argv[1]
    if ":_:" in url:
        # switch_ivr_originate: strstr on the whole call URL, before any {} block is read.
        raise CommandParseError(f"call URL {url[:80]!r} holds ':_:': FreeSWITCH would dial each piece")
    if url.startswith("<"):
        raise CommandParseError("<> variable blocks are not used by ctilink")
    variables: dict[str, str] = {}
    blocks = 0
    while url.startswith("{"):
        more, url = fs_brackets(url)
        variables.update(more)
        blocks += 1
    if blocks > 1:
        raise CommandParseError("more than one {} variable block")
    if "|" in url or "," in url or url.startswith("["):
        raise CommandParseError(f"dial string {url!r} names more than one leg or per-leg variables")
    if exten.startswith("&") and len(exten) > 1:
        # mod_commands: cut at the first ')', then split name and argument at the first '('.
        app, close, trailing = exten[1:].partition(")")
        if close and trailing:
            raise CommandParseError(f"FreeSWITCH would drop the text after ')': {trailing!r}")
        name, _, arg = app.partition("(")
        if len(argv) > 2:
            raise CommandParseError("an &application takes no dialplan/context arguments")
        return OriginateRequest(variables=variables, dial_string=url, application=name, application_arg=arg)
    return OriginateRequest(
        variables=variables,
        dial_string=url,
        extension=exten,
        dialplan=argv[2] if len(argv) > 2 else None,
        context=argv[3] if len(argv) > 3 else None,
    )


def _originate_command(args: str, job_uuid: str | None) -> Command:
    req = parse_originate_args(args)
    if req.application is None:
        raise CommandParseError("ctilink originates legs onto an &application, not an extension")
    variables = dict(req.variables)
    uuid = variables.pop("origination_uuid", None)
    if uuid is None:
        raise CommandParseError("originate without origination_uuid")
    if job_uuid is None:
        raise CommandParseError("ctilink's originate goes through bgapi with a Job-UUID")
    if req.application in ("eavesdrop", "three_way"):
        whisper = variables.pop("eavesdrop_whisper_aleg", None)
        mode: Literal["listen", "whisper", "barge"] = (
            "barge" if req.application == "three_way" else ("whisper" if whisper == "true" else "listen")
        )
        if whisper is not None and mode != "whisper":
            raise CommandParseError("eavesdrop_whisper_aleg must be 'true' when present")
        return Eavesdrop(
            uuid=uuid,
            job_uuid=job_uuid,
            supervisor_dial_string=req.dial_string,
            target_uuid=req.application_arg,
            mode=mode,
            variables=variables,
        )
    number = variables.pop("origination_caller_id_number", None)
    name = variables.pop("origination_caller_id_name", None)
    timeout = variables.pop("originate_timeout", None)
    if timeout is None or not timeout.isdigit():
        raise CommandParseError(f"originate_timeout missing or not a number: {timeout!r}")
    return Originate(
        uuid=uuid,
        dial_string=req.dial_string,
        job_uuid=job_uuid,
        variables=variables,
        caller_id_number=number,
        caller_id_name=name,
        timeout_s=int(timeout),
        application=req.application,
        application_arg=req.application_arg or None,
    )


def _argv(args: str, lo: int, hi: int, api: str) -> list[str]:
    argv = fs_separate(args, " ", 16)
    if not lo <= len(argv) <= hi:
        raise CommandParseError(f"{api} takes {lo} to {hi} arguments, got {len(argv)}: {argv!r}")
    return argv


def _parse_setvar(args: str) -> Command:
    argv = fs_separate(args, " ", 3)
    if len(argv) != 3:
        raise CommandParseError("uuid_setvar needs uuid, name and value")
    return SetVariables(uuid=argv[0], variables={argv[1]: argv[2]})


def _parse_setvar_multi(args: str) -> Command:
    uuid, sp, rest = args.partition(" ")
    if not sp:
        raise CommandParseError("uuid_setvar_multi needs a uuid and variables")
    variables: dict[str, str] = {}
    for item in fs_separate(rest, ";", 64):
        name, eq, value = item.partition("=")
        if not eq or not name:
            raise CommandParseError(f"uuid_setvar_multi item without name=value: {item!r}")
        variables[name] = value
    return SetVariables(uuid=uuid, variables=variables)


def _parse_bridge(args: str) -> Command:
    a, b = _argv(args, 2, 2, "uuid_bridge")
    return Bridge(uuid=a, other_uuid=b)


def _parse_answer(args: str) -> Command:
    return Answer(uuid=_argv(args, 1, 1, "uuid_answer")[0])


def _parse_pre_answer(args: str) -> Command:
    return PreAnswer(uuid=_argv(args, 1, 1, "uuid_pre_answer")[0])


def _parse_kill(args: str) -> Command:
    argv = _argv(args, 1, 2, "uuid_kill")
    return Hangup(uuid=argv[0], cause=argv[1] if len(argv) > 1 else "NORMAL_CLEARING")


def _parse_broadcast(args: str) -> Command:
    argv = _argv(args, 2, 3, "uuid_broadcast")
    if "::" in argv[1]:
        raise CommandParseError("uuid_broadcast path runs an application (app::args)")
    leg = argv[2] if len(argv) > 2 else "aleg"
    if leg not in ("aleg", "bleg", "both"):
        raise CommandParseError(f"unknown leg {leg!r}")
    return Playback(uuid=argv[0], path=argv[1], leg=leg)  # type: ignore[arg-type]


def _parse_break(args: str) -> Command:
    argv = _argv(args, 1, 2, "uuid_break")
    if len(argv) == 2 and argv[1] != "all":
        raise CommandParseError(f"uuid_break takes 'all', got {argv[1]!r}")
    return Break(uuid=argv[0], all=len(argv) == 2)


def _parse_transfer(args: str) -> Command:
    argv = _argv(args, 2, 5, "uuid_transfer")
    leg = ""
    if argv[1] in ("-bleg", "-both"):
        leg = argv.pop(1)
    if len(argv) == 3 and argv[2] == "inline":
        return Transfer(uuid=argv[0], destination=argv[1], dialplan="inline", leg=leg)  # type: ignore[arg-type]
    if len(argv) != 4:
        raise CommandParseError("ctilink's uuid_transfer names destination, dialplan and context")
    return Transfer(uuid=argv[0], destination=argv[1], dialplan=argv[2], context=argv[3], leg=leg)  # type: ignore[arg-type]


def _parse_hold(args: str) -> Command:
    argv = _argv(args, 1, 2, "uuid_hold")
    if len(argv) == 2:
        if argv[0] != "off":
            raise CommandParseError(f"uuid_hold takes 'off', got {argv[0]!r}")
        return Hold(uuid=argv[1], on=False)
    return Hold(uuid=argv[0], on=True)


def _parse_record(args: str) -> Command:
    argv = _argv(args, 3, 3, "uuid_record")
    if argv[1] not in ("start", "stop"):
        raise CommandParseError(f"uuid_record takes start|stop, got {argv[1]!r}")
    return Record(uuid=argv[0], path=argv[2], start=argv[1] == "start")


def _parse_send_dtmf(args: str) -> Command:
    argv = _argv(args, 2, 2, "uuid_send_dtmf")
    return SendDtmf(uuid=argv[0], digits=argv[1])


def _parse_recv_dtmf(args: str) -> Command:
    argv = _argv(args, 2, 2, "uuid_recv_dtmf")
    return RecvDtmf(uuid=argv[0], digits=argv[1])


# The APIs ctilink sends on api (originate, on bgapi, also needs the Job-UUID: see parse_command).
_PARSERS: dict[str, Callable[[str], Command]] = {
    "uuid_setvar": _parse_setvar,
    "uuid_setvar_multi": _parse_setvar_multi,
    "uuid_bridge": _parse_bridge,
    "uuid_answer": _parse_answer,
    "uuid_pre_answer": _parse_pre_answer,
    "uuid_kill": _parse_kill,
    "uuid_broadcast": _parse_broadcast,
    "uuid_break": _parse_break,
    "uuid_transfer": _parse_transfer,
    "uuid_hold": _parse_hold,
    "uuid_record": _parse_record,
    "uuid_send_dtmf": _parse_send_dtmf,
    "uuid_recv_dtmf": _parse_recv_dtmf,
}


def parse_command(text: str, job_uuid: str | None = None) -> Command:
    """Parse one command line (without ``api``/``bgapi``) into the command it means to FreeSWITCH."""
    api, _, args = text.strip(" ").partition(" ")
    args = args.strip(" ")
    if api == "originate":
        return _originate_command(args, job_uuid)
    parser = _PARSERS.get(api)
    if parser is None:
        raise CommandParseError(f"unknown or unsupported API {api!r}")
    return parser(args)


def parse_rendered_wire(data: bytes) -> Command:
    """:func:`parse_wire` then :func:`parse_command`; ``api`` carries no Job-UUID."""
    wire = parse_wire(data)
    if wire.verb not in ("api", "bgapi"):
        raise CommandParseError(f"unknown verb {wire.verb!r}")
    return parse_command(wire.text, wire.job_uuid)


__all__ = [
    "CommandParseError",
    "OriginateRequest",
    "ParsedWire",
    "fs_brackets",
    "fs_cleanup",
    "fs_find_end_paren",
    "fs_separate",
    "parse_command",
    "parse_originate_args",
    "parse_rendered_wire",
    "parse_wire",
]
