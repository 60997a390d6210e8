"""List entries: blacklist, whitelist (VIP) and do-not-call, as validated immutable data.

Rules:
- An :class:`Entry` is valid by construction: ``__post_init__`` checks every field and raises
  :class:`InvalidEntryError` naming the field. Numbers inside an entry are already normalized
  (E.164, an E.164 prefix, or ``anonymous``); :func:`build_entry` is the door for raw input.
- Per-list fields are exclusive: only a blacklist entry has ``action``/``cause`` (and a
  ``target`` for announce/route); only a whitelist entry has ``priority`` and a green-channel
  ``target`` (agent id or extension); a do-not-call entry has neither.
- Text that can later reach a switch command (file paths, extensions, agent ids) is held to a
  conservative character set here, so a list can never be a channel for command injection.

Theory of operation: an entry is identified by :attr:`Entry.key` = (list, scope, kind, number).
Adding an entry with an existing key replaces it (in the matcher and in the store alike).
Scopes are ``global``, ``did:<E.164>``, ``queue:<name>`` or ``campaign:<name>``.

This module knows nothing about matching, files or databases.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum

from ctilink.commands import HANGUP_CAUSES  # the renderer's allowlist: a blacklist cause ends up in a Hangup
from ctilink.lists.numbers import ANONYMOUS, InvalidNumberError, normalize_number, normalize_prefix
from ctilink.lists.safety import UnsafeTextError, check_text, escape_for_log

__all__ = [
    "GLOBAL",
    "HANGUP_CAUSES",
    "BlockAction",
    "Entry",
    "EntryKind",
    "InvalidEntryError",
    "ListName",
    "build_entry",
    "normalize_scope",
    "parse_number_spec",
]

GLOBAL = "global"
MAX_REASON_CHARS = 256
MAX_ADDED_BY_CHARS = 64
MAX_PRIORITY = 1_000_000


class ListName(StrEnum):
    BLACKLIST = "blacklist"
    WHITELIST = "whitelist"
    DNC = "dnc"


class EntryKind(StrEnum):
    EXACT = "exact"
    PREFIX = "prefix"
    ANONYMOUS = "anonymous"


class BlockAction(StrEnum):
    """What a blacklist hit does: reject with ``cause``, announce ``target`` then hang up, or route."""

    REJECT = "reject"
    ANNOUNCE = "announce"
    ROUTE = "route"


_EXACT = re.compile(r"\+[1-9][0-9]{5,14}")
_PREFIX = re.compile(r"\+[1-9][0-9]{0,14}")
_NAME = r"[A-Za-z0-9_.@-]{1,64}"
_SCOPE = re.compile(rf"global|did:\+[1-9][0-9]{{1,14}}|queue:{_NAME}|campaign:{_NAME}")
# Agent ids and extensions: no spaces, quotes, braces, '$' or separators FreeSWITCH would parse.
_TARGET = re.compile(r"[A-Za-z0-9_.@+*#-]{1,64}")
# Sound files: paths and stream URLs; no whitespace, '$' or braces (no variable expansion).
_FILE = re.compile(r"[A-Za-z0-9_./:+%=-]{1,256}")


class InvalidEntryError(ValueError):
    """An entry field is invalid; ``field`` names it."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


def _finite(field: str, value: object, *, optional: bool) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidEntryError(field, f"expected a finite epoch time in seconds, got {escape_for_log(value)}")
    return float(value)


@dataclass(frozen=True, slots=True)
class Entry:
    """One list entry. See the module rules for which fields each list allows."""

    list_name: ListName
    number: str
    kind: EntryKind = EntryKind.EXACT
    scope: str = GLOBAL
    expires_at: float | None = None
    reason: str = ""
    added_by: str = ""
    added_at: float = 0.0
    priority: int | None = None
    target: str | None = None
    action: BlockAction | None = None
    cause: str | None = None

    def __post_init__(self) -> None:
        setattr_ = object.__setattr__
        # Fast paths (already-typed values) keep loading a million entries from the store quick.
        if type(self.list_name) is not ListName:
            try:
                setattr_(self, "list_name", ListName(self.list_name))
            except ValueError:
                raise InvalidEntryError(
                    "list", f"expected blacklist, whitelist or dnc, got {escape_for_log(self.list_name)}"
                ) from None
        if type(self.kind) is not EntryKind:
            try:
                setattr_(self, "kind", EntryKind(self.kind))
            except ValueError:
                raise InvalidEntryError(
                    "kind", f"expected exact, prefix or anonymous, got {escape_for_log(self.kind)}"
                ) from None
        self._check_number()
        scope = self.scope
        if scope != GLOBAL and (not isinstance(scope, str) or _SCOPE.fullmatch(scope) is None):
            raise InvalidEntryError(
                "scope", f"expected global, did:<E.164>, queue:<name> or campaign:<name>, got {escape_for_log(scope)}"
            )
        if self.expires_at is not None and type(self.expires_at) is not float:
            setattr_(self, "expires_at", _finite("expires", self.expires_at, optional=True))
        elif self.expires_at is not None and not math.isfinite(self.expires_at):
            raise InvalidEntryError("expires", f"expected a finite epoch time in seconds, got {self.expires_at!r}")
        if type(self.added_at) is not float or not math.isfinite(self.added_at):
            setattr_(self, "added_at", _finite("added_at", self.added_at, optional=False))
        reason, added_by = self.reason, self.added_by
        if not (
            type(reason) is str
            and len(reason) <= MAX_REASON_CHARS
            and reason.isprintable()
            and type(added_by) is str
            and len(added_by) <= MAX_ADDED_BY_CHARS
            and added_by.isprintable()
        ):
            try:
                check_text("reason", reason, MAX_REASON_CHARS)
                check_text("added_by", added_by, MAX_ADDED_BY_CHARS)
            except UnsafeTextError as exc:
                raise InvalidEntryError(exc.field, exc.problem) from None
        if self.list_name is ListName.BLACKLIST:
            self._check_blacklist()
        elif self.list_name is ListName.WHITELIST:
            self._check_whitelist()
        else:
            for name in ("priority", "target", "action", "cause"):
                if getattr(self, name) is not None:
                    raise InvalidEntryError(name, "not allowed on a dnc entry")

    def _check_number(self) -> None:
        number = self.number
        if not isinstance(number, str):
            raise InvalidEntryError("number", f"expected text, got {type(number).__name__}")
        if self.kind is EntryKind.ANONYMOUS:
            ok = number == ANONYMOUS
        elif self.kind is EntryKind.EXACT:
            ok = _EXACT.fullmatch(number) is not None
        else:
            ok = _PREFIX.fullmatch(number) is not None
        if not ok:
            raise InvalidEntryError("number", f"not a normalized {self.kind.value} number: {escape_for_log(number)}")

    def _check_blacklist(self) -> None:
        setattr_ = object.__setattr__
        if self.priority is not None:
            raise InvalidEntryError("priority", "only whitelist entries have a priority")
        try:
            action = self.action if type(self.action) is BlockAction else BlockAction(self.action or BlockAction.REJECT)
        except ValueError:
            raise InvalidEntryError(
                "action", f"expected reject, announce or route, got {escape_for_log(self.action)}"
            ) from None
        if action is not self.action:
            setattr_(self, "action", action)
        cause = self.cause
        if cause is None:
            cause = (
                "USER_BUSY"
                if action is BlockAction.REJECT
                else "NORMAL_CLEARING"
                if action is BlockAction.ANNOUNCE
                else None
            )
            setattr_(self, "cause", cause)
        if action is BlockAction.ROUTE:
            if cause is not None:
                raise InvalidEntryError("cause", "a route action hands the call on; it has no hangup cause")
            if self.target is None or not isinstance(self.target, str) or _TARGET.fullmatch(self.target) is None:
                raise InvalidEntryError(
                    "target", f"route needs an extension of [A-Za-z0-9_.@+*#-], got {escape_for_log(self.target)}"
                )
        else:
            if cause not in HANGUP_CAUSES:
                raise InvalidEntryError("cause", f"not a FreeSWITCH hangup cause: {escape_for_log(cause)}")
            if action is BlockAction.ANNOUNCE:
                if not isinstance(self.target, str) or _FILE.fullmatch(self.target) is None or ".." in self.target:
                    raise InvalidEntryError(
                        "target",
                        f"announce needs a sound file path of [A-Za-z0-9_./:+%=-] without '..', got {escape_for_log(self.target)}",
                    )
            elif self.target is not None:
                raise InvalidEntryError("target", "a reject action has no target")

    def _check_whitelist(self) -> None:
        for name in ("action", "cause"):
            if getattr(self, name) is not None:
                raise InvalidEntryError(name, "only blacklist entries have an action or cause")
        p = self.priority
        if p is not None and (isinstance(p, bool) or not isinstance(p, int) or not 0 <= p <= MAX_PRIORITY):
            raise InvalidEntryError("priority", f"expected an integer 0..{MAX_PRIORITY}, got {escape_for_log(p)}")
        if self.target is not None and (not isinstance(self.target, str) or _TARGET.fullmatch(self.target) is None):
            raise InvalidEntryError(
                "target", f"expected an agent id or extension of [A-Za-z0-9_.@+*#-], got {escape_for_log(self.target)}"
            )

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Identity of the entry: (list, scope, kind, number)."""
        return (self.list_name.value, self.scope, self.kind.value, self.number)

    def expired(self, now: float) -> bool:
        """True once ``now`` has reached the expiry (an entry expiring at ``t`` no longer matches at ``t``)."""
        return self.expires_at is not None and now >= self.expires_at

    @property
    def display_number(self) -> str:
        """The number as written in CSV: prefixes carry a trailing ``*``."""
        return self.number + "*" if self.kind is EntryKind.PREFIX else self.number


def normalize_scope(raw: str, default_region: str) -> str:
    """Canonical scope text; a ``did:`` scope's number is normalized to E.164."""
    if not isinstance(raw, str) or len(raw) > 80:
        raise InvalidEntryError("scope", f"expected a short scope text, got {escape_for_log(raw)}")
    text = raw.strip() or GLOBAL
    if text.lower() == GLOBAL:
        return GLOBAL
    kind, sep, value = text.partition(":")
    kind = kind.lower()
    if not sep or kind not in ("did", "queue", "campaign"):
        raise InvalidEntryError(
            "scope", f"expected global, did:<number>, queue:<name> or campaign:<name>, got {escape_for_log(raw)}"
        )
    if kind == "did":
        try:
            number = normalize_number(value, default_region)
        except InvalidNumberError as exc:
            raise InvalidEntryError("scope", f"bad DID: {exc.reason}: {exc.input}") from None
        if number == ANONYMOUS:
            raise InvalidEntryError("scope", f"a DID scope needs a number, got {escape_for_log(raw)}")
        return "did:" + number
    if re.fullmatch(_NAME, value) is None:
        raise InvalidEntryError("scope", f"{kind} name must be 1-64 of [A-Za-z0-9_.@-], got {escape_for_log(value)}")
    return f"{kind}:{value}"


def parse_number_spec(raw: str, default_region: str) -> tuple[EntryKind, str]:
    """Turn list input into (kind, normalized number): ``+44909*`` is a prefix, withheld ids are anonymous."""
    if not isinstance(raw, str):
        raise InvalidNumberError(raw, f"expected text, got {type(raw).__name__}")
    text = raw.strip()
    if text.endswith("*"):
        return EntryKind.PREFIX, normalize_prefix(text[:-1], default_region)
    number = normalize_number(text, default_region)
    return (EntryKind.ANONYMOUS if number == ANONYMOUS else EntryKind.EXACT), number


def build_entry(
    list_name: ListName | str,
    number: str,
    default_region: str,
    *,
    scope: str = GLOBAL,
    expires_at: float | None = None,
    reason: str = "",
    added_by: str = "",
    added_at: float,
    priority: int | None = None,
    target: str | None = None,
    action: BlockAction | str | None = None,
    cause: str | None = None,
) -> Entry:
    """Build an entry from raw input: normalizes the number (``*`` suffix = prefix) and scope."""
    kind, normalized = parse_number_spec(number, default_region)
    return Entry(
        list_name=list_name,  # type: ignore[arg-type]  # coerced and checked in __post_init__
        number=normalized,
        kind=kind,
        scope=normalize_scope(scope, default_region),
        expires_at=expires_at,
        reason=reason,
        added_by=added_by,
        added_at=added_at,
        priority=priority,
        target=target,
        action=action,  # type: ignore[arg-type]
        cause=cause.strip().upper() if isinstance(cause, str) else cause,
    )
