"""How FreeSWITCH 1.10.12 reads an ``originate`` API command: an independent model for the tests.

Written from FreeSWITCH's C, not from ctilink's own parser (``ctilink.esl.command_parse``), so a
rendered command is checked by a second reading:

- ``mod_commands.c`` ``originate_function``: the arguments are split on blanks by
  ``switch_separate_string`` (``switch_utils.c``: quotes and backslash escapes, then
  ``cleanup_separated_string``); ``argv[0]`` is the call URL, ``argv[1]`` the extension/``&app``;
- ``switch_ivr_originate.c``: ``strstr(call_url, ":_:")`` on the whole URL first (enterprise
  originate: each piece, cut with ``switch_separate_string_string``, is dialled on its own);
  then ``<...>`` blocks, then ``{...}`` blocks (``switch_event_create_brackets`` in
  ``switch_event.c``: the end found by ``switch_find_end_paren``, which counts braces and knows no
  escapes; ``^^X`` at the start of a block changes its delimiter from ``,`` to ``X``; each item
  split on ``=`` into two); then the rest split on ``|`` (sequential) and each part on ``,``
  (simultaneous), each leg with an optional ``[...]`` block of its own.

The result is every leg FreeSWITCH would dial, with the variables it would set on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ESCAPE = "\\"
_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", "s": " "}


def _cleanup(piece: str, delim: str | None) -> str:
    """``cleanup_separated_string``: drop initial blanks, resolve escapes, strip single quotes
    (only when a closing one follows), cut trailing blanks outside quotes."""
    i = 0
    while i < len(piece) and piece[i] == " ":
        i += 1
    out: list[str] = []
    end = 0
    inside = False
    while i < len(piece):
        ch = piece[i]
        if ch == ESCAPE and i + 1 < len(piece):
            nxt = piece[i + 1]
            if nxt in ("'", '"', ESCAPE) or (delim is not None and nxt == delim) or nxt in _UNESCAPE:
                out.append(_UNESCAPE.get(nxt, nxt) if nxt not in ("'", '"', ESCAPE, delim) else nxt)
                end = len(out)
                i += 2
                continue
        if ch == "'" and (inside or "'" in piece[i + 1 :]):
            inside = not inside
            if inside:
                end = len(out)
        else:
            out.append(ch)
            if ch != " " or inside:
                end = len(out)
        i += 1
    return "".join(out[:end]) if end else "".join(out)


def separate(buf: str, delim: str, arraylen: int = 1024) -> list[str]:
    """``switch_separate_string``, including its ``^^X`` delimiter change at the start."""
    if buf.startswith("^^") and len(buf) >= 4:
        delim, buf = buf[2], buf[3:]
    if delim == " ":
        return _separate_blank(buf, arraylen)
    pieces: list[str] = []
    start = 0
    i = 0
    inside = False
    state_start = True
    while i < len(buf) and len(pieces) < arraylen:
        if state_start:
            pieces.append("")
            start = i
            state_start = False
            continue
        ch = buf[i]
        if ch == ESCAPE:
            i += 1
        elif ch == "'" and (inside or "'" in buf[i + 1 :]):
            inside = not inside
        elif ch == delim and not inside:
            pieces[-1] = buf[start:i]
            state_start = True
        i += 1
    if pieces and not state_start:
        pieces[-1] = buf[start:]
    return [_cleanup(p, delim) for p in pieces]


def _separate_blank(buf: str, arraylen: int) -> list[str]:
    pieces: list[str] = []
    i, n = 0, len(buf)
    inside = False
    while i < n and len(pieces) < arraylen:
        start = i
        while i < n and buf[i] == " ":
            i += 1
        while i < n:
            ch = buf[i]
            if ch == ESCAPE:
                i += 2
                continue
            if ch == "'":
                inside = not inside
            elif ch == " " and not inside:
                break
            i += 1
        pieces.append(buf[start:i])
        while i < n and buf[i] == " ":
            i += 1
    return [_cleanup(p, None) for p in pieces]


def find_end_paren(s: str, start: int, open_: str, close: str) -> int | None:
    """``switch_find_end_paren``: the index of the brace closing the one at ``start`` (counted, no escapes)."""
    i = start
    while i < len(s) and s[i] == " ":
        i += 1
    if i >= len(s) or s[i] != open_:
        return None
    depth = 1
    for j in range(i + 1, len(s)):
        if s[j] == open_ and open_ != close:
            depth += 1
        elif s[j] == close:
            depth -= 1
            if depth == 0:
                return j
    return None


def brackets(data: str, open_: str, close: str, delim: str) -> tuple[dict[str, str], str]:
    """``switch_event_create_brackets``: the variables of a leading block and what follows it."""
    end = find_end_paren(data, 0, open_, close)
    if end is None:
        raise ValueError(f"unterminated {open_}{close} block")
    body, rest = data[1:end], data[end + 1 :]
    if body.startswith("^^") and len(body) >= 3:
        delim, body = body[2], body[3:]
    found: dict[str, str] = {}
    for item in separate(body, delim):
        pair = separate(item, "=", 2)
        if len(pair) == 2:
            found[pair[0]] = pair[1]
    return found, rest


@dataclass
class Leg:
    target: str
    variables: dict[str, str] = field(default_factory=dict)


def dial(call_url: str) -> list[Leg]:
    """Every leg ``switch_ivr_originate`` would dial for ``call_url``."""
    if ":_:" in call_url:
        # switch_ivr_enterprise_originate: each piece in its own thread; one that does not parse
        # fails alone, and the others are dialled.
        legs: list[Leg] = []
        for piece in call_url.split(":_:"):
            try:
                legs.extend(dial(piece))
            except ValueError:
                continue
        return legs
    data = call_url.lstrip(" ")
    global_vars: dict[str, str] = {}
    while data.startswith("<"):
        more, data = brackets(data, "<", ">", ",")
        global_vars.update(more)
    while data.startswith("{"):
        more, data = brackets(data, "{", "}", ",")
        global_vars.update(more)
    data = data.lstrip(" ")
    legs = []
    for group in separate(data, "|"):
        for target in separate(group, ","):
            leg_vars = dict(global_vars)
            if target.startswith("["):
                more, target = brackets(target, "[", "]", ",")
                leg_vars.update(more)
            legs.append(Leg(target, leg_vars))
    return legs


@dataclass
class OriginateApi:
    legs: list[Leg]
    exten: str
    argv: list[str]


def originate_api(command_line: str) -> OriginateApi:
    """``originate <args>`` as mod_commands reads it (``command_line`` without ``api``/``bgapi``)."""
    verb, _, args = command_line.partition(" ")
    if verb != "originate":
        raise ValueError(f"not an originate: {verb!r}")
    argv = separate(args, " ", 10)
    if len(argv) < 2:
        raise ValueError("originate needs a call URL and an extension")
    return OriginateApi(dial(argv[0]), argv[1], argv)
