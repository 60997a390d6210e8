"""Value rules shared by the core, which decides what a command carries, and the renderer, which
turns commands into ESL text: one definition each, so a value the core accepts always renders.

Rules:
- A rule is a compiled pattern or a small pure function; nothing here does I/O or knows ESL framing.
- Where a caller-controlled value does not fit a command field's rule, the function that maps it
  says what the field carries instead; the original value stays on the call (records, screen pop).
"""

from __future__ import annotations

import re

__all__ = ["CALLER_NUMBER_RE", "NUMBER_RE", "WITHHELD_NAME", "display_caller_id"]

# A number FreeSWITCH dials or shows as a caller ID: origination_caller_id_number and the like.
NUMBER_RE = re.compile(r"\+?[0-9*#]{1,32}")
# What the engine accepts as a caller's number from the switch: carriers and SIP phones send
# "anonymous", "restricted", "caller1", "1555-123-0001" as well as digits.
CALLER_NUMBER_RE = re.compile(r"[+0-9A-Za-z*#._-]{1,32}")
# What an agent's phone shows for a caller whose number cannot be shown as digits.
WITHHELD_NAME = "Withheld"
_SEPARATORS = re.compile(r"[.\-]")


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
