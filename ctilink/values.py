"""Value rules shared by the core, which decides what a command carries, and the renderer, which
turns commands into ESL text: one definition each, so a value the core accepts always renders.

Rules:
- A rule is a compiled pattern or a small pure function; nothing here does I/O or knows ESL framing.
- Where a caller-controlled value does not fit a command field's rule, the function that maps it
  says what the field carries instead; the original value stays on the call (records, screen pop).
"""

from __future__ import annotations

import re

__all__ = [
    "CALLER_NUMBER_RE",
    "DIAL_STRING_RE",
    "ENTERPRISE_DELIMITER",
    "MAX_TEXT_LEN",
    "NUMBER_RE",
    "SAMPLE_NUMBER",
    "TOKEN_PATTERN",
    "WITHHELD_NAME",
    "dial_template_problem",
    "display_caller_id",
    "renderable_text",
    "text_problem",
]

# A number FreeSWITCH dials or shows as a caller ID: origination_caller_id_number and the like.
NUMBER_RE = re.compile(r"\+?[0-9*#]{1,32}")
# What the engine accepts as a caller's number from the switch: carriers and SIP phones send
# "anonymous", "restricted", "caller1", "1555-123-0001" as well as digits.
CALLER_NUMBER_RE = re.compile(r"[+0-9A-Za-z*#._-]{1,32}")
# What an agent's phone shows for a caller whose number cannot be shown as digits.
WITHHELD_NAME = "Withheld"
_SEPARATORS = re.compile(r"[.\-]")

#: FreeSWITCH splits an originate's whole call URL on this with ``strstr`` before it reads any
#: ``{}`` block, with no regard for braces, quotes or escapes, and dials every piece
#: (``switch_ivr_originate.c``, enterprise originate): no value ctilink puts in an originate may
#: contain it, whatever the escaping.
ENTERPRISE_DELIMITER = ":_:"
MAX_TEXT_LEN = 1024
# Characters that end a line or a C string, or that FreeSWITCH uses to delimit blocks without
# honouring escapes (switch_find_end_paren counts braces; [] and <> open per-leg and global blocks).
_FORBIDDEN_IN_TEXT = re.compile(r"[\x00-\x1f\x7f{}\[\]<>]")
#: A number to render a dial template with when checking it (check-config, campaign load).
SAMPLE_NUMBER = "15550100"

# One leg FreeSWITCH can dial, with no variables, separators or per-leg blocks.
TOKEN_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
_TOKEN = TOKEN_PATTERN
_USER = r"[A-Za-z0-9+][A-Za-z0-9_.+-]{0,63}"
_HOST = r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])"
_PORT = r"(?::[0-9]{1,5})?"
DIAL_STRING_RE = re.compile(
    "|".join(
        [
            rf"user/{_USER}(?:@{_HOST})?",
            rf"sofia/gateway/{_TOKEN}/\+?[0-9*#]{{1,32}}",
            rf"sofia/{_TOKEN}/{_USER}@{_HOST}{_PORT}",
            rf"loopback/[A-Za-z0-9+*#][A-Za-z0-9_+*#.-]{{0,63}}/{_TOKEN}",
        ]
    )
)


def renderable_text(value: str | None) -> str | None:
    """A configured free-text value (a caller-id name): the value, or ValueError saying why not."""
    if value is not None and (problem := text_problem(value)) is not None:
        raise ValueError(problem)
    return value


def dial_template_problem(template: str) -> str:
    """A configured dial template: the template if filling ``{number}`` gives one dialable leg
    (what the renderer accepts), else ValueError saying what it would give."""
    if ENTERPRISE_DELIMITER in template:
        raise ValueError(
            f"{ENTERPRISE_DELIMITER!r} is not allowed: FreeSWITCH would dial what follows it as another leg"
        )
    dial = template.replace("{number}", SAMPLE_NUMBER)
    if DIAL_STRING_RE.fullmatch(dial) is None:
        raise ValueError(
            f"{template!r} does not give one dial string (user/..., sofia/gateway/<gw>/<number>, "
            "sofia/<profile>/<user>@<host>, loopback/<ext>/<context>)"
        )
    return template


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be a free-text value of a switch command (a caller-id name, a
    channel-variable value, a contact id), or None when it can. The renderer escapes what is left
    for every layer FreeSWITCH splits on."""
    if value == "":
        return "empty value (FreeSWITCH treats it as unset; omit it)"
    if len(value) > MAX_TEXT_LEN:
        return f"longer than {MAX_TEXT_LEN} characters"
    bad = _FORBIDDEN_IN_TEXT.search(value)
    if bad is not None:
        return f"control characters and {{}}[]<> are not allowed (found {bad.group()!r})"
    if ENTERPRISE_DELIMITER in value:
        return f"{ENTERPRISE_DELIMITER!r} is not allowed: FreeSWITCH would dial what follows it as another leg"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "not valid Unicode text (lone surrogate)"
    return None


def display_caller_id(number: str | None) -> tuple[str | None, str | None]:
    """(caller ID number, caller ID name) to show on an agent's phone for this caller.

    A dialable number is shown as it is, with visual separators (``1555-123-0001``) dropped. Any
    other number (``anonymous``, ``restricted``, ``caller1``) is not a number a phone can call
    back: no number is sent, so FreeSWITCH shows its default, and the name says who it is.
    """
    if number:
        compact = _SEPARATORS.sub("", number)
        if NUMBER_RE.fullmatch(compact):
            return compact, None
        return None, number if CALLER_NUMBER_RE.fullmatch(number) else WITHHELD_NAME
    return None, None
