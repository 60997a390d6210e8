"""What a session asks FreeSWITCH to send: the ``event`` subscription and the ``filter`` commands.

Rules:
- Only event names (``CHANNEL_CREATE``) and CUSTOM subclasses (``sofia::register``) are
  accepted; anything else is refused with ``ValueError`` before a connection exists, so no
  caller-chosen text reaches the wire.
- ``HEARTBEAT`` (the silence watchdog) and ``BACKGROUND_JOB`` (bgapi jobs) are always
  subscribed, and, when filters are given, always let through by a filter of their own: ESL
  filters are OR-ed, so once one exists only matching events pass.
- ``None``, or a list naming ``ALL``, subscribes to everything.

Theory of operation: pure functions from the constructor's arguments to command lines, run once
per connection; each session sends the same lines after authenticating.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["REQUIRED_EVENTS", "filter_commands", "subscription_list"]

_EVENT_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_SUBCLASS = re.compile(r"^[A-Za-z0-9_.-]+::[A-Za-z0-9_:.-]+$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
# Always subscribed: HEARTBEAT feeds the silence watchdog, BACKGROUND_JOB completes bgapi jobs.
REQUIRED_EVENTS = ("HEARTBEAT", "BACKGROUND_JOB")


def subscription_list(events: Sequence[str] | None) -> str:
    """The names after ``event <format>``: ``ALL``, or the given ones plus the required ones."""
    if events is None:
        return "ALL"
    names: list[str] = []
    subclasses: list[str] = []
    for item in events:
        if not isinstance(item, str):
            raise ValueError(f"events: {item!r} is not a string")
        if item == "ALL":
            return "ALL"
        if _EVENT_NAME.match(item):
            if item != "CUSTOM" and item not in names:
                names.append(item)
        elif _SUBCLASS.match(item):
            if item not in subclasses:
                subclasses.append(item)
        else:
            raise ValueError(f"events: {item[:60]!r} is neither an event name (CHANNEL_CREATE) nor a subclass (a::b)")
    for required in REQUIRED_EVENTS:
        if required not in names:
            names.append(required)
    if "CUSTOM" in events or subclasses:
        names.append("CUSTOM")
        names.extend(subclasses)
    return " ".join(names)


def filter_commands(filters: Sequence[tuple[str, str]]) -> list[str]:
    """``filter <header> <value>`` lines for the given pairs (none for none)."""
    commands: list[str] = []
    pairs = list(filters)
    for index, pair in enumerate(pairs):
        if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
            raise ValueError(f"filters[{index}] must be a (header, value) pair of strings, got {pair!r}")
        header, value = pair
        if not _HEADER_NAME.match(header):
            raise ValueError(f"filters[{index}]: header {header[:60]!r} is not a header name")
        if not value or value != value.strip() or any(c in value for c in "\r\n"):
            raise ValueError(f"filters[{index}]: value {value[:60]!r} is empty, padded or has CR/LF")
    if pairs:
        # ESL filters are OR-ed: once one exists, only matching events pass, so the watchdog's
        # HEARTBEAT and bgapi's BACKGROUND_JOB need their own.
        for required in REQUIRED_EVENTS:
            if ("Event-Name", required) not in pairs:
                pairs.append(("Event-Name", required))
    for header, value in pairs:
        commands.append(f"filter {header} {value}")
    return commands
