"""Hostile-text guards shared by the number lists and the store.

Rules:
- Every string an outside party can influence (caller numbers, CSV cells, reasons, ids) passes
  through :func:`check_text` before it is kept, or through :func:`escape_for_log` before it is
  shown. Nothing else in ``ctilink.lists`` or ``ctilink.store`` decides what is "safe text".
- Rejection, not silent repair: text with control characters or over its length cap raises
  :class:`UnsafeTextError` naming the field, so the caller can report it and nothing is lost
  quietly.

Theory of operation: a value is acceptable when every character is printable (Unicode category
not C*, plus the plain space) and it is no longer than the cap for its field. ``escape_for_log``
never fails: it turns anything into a bounded, printable rendering for error messages.

This module knows nothing about phone numbers, lists or databases.
"""

from __future__ import annotations

__all__ = ["UnsafeTextError", "check_text", "escape_for_log", "is_clean"]

#: How much of a hostile value an error message or log line ever shows.
LOG_PREVIEW_CHARS = 80


class UnsafeTextError(ValueError):
    """A text field is too long or carries control characters."""

    def __init__(self, field: str, value: object, problem: str) -> None:
        self.field = field
        self.problem = problem
        self.preview = escape_for_log(value)
        super().__init__(f"{field}: {problem} (got {self.preview})")


def escape_for_log(value: object, limit: int = LOG_PREVIEW_CHARS) -> str:
    """A printable, bounded rendering of ``value``: safe in a log line or an error message."""
    text = value if isinstance(value, str) else repr(value)
    extra = len(text) - limit
    if extra > 0:
        text = text[:limit]
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    rendered = "'" + "".join(out) + "'"
    if extra > 0:
        rendered += f"...(+{extra} chars)"
    return rendered


def is_clean(text: str) -> bool:
    """True when every character is printable (spaces allowed, no tabs or newlines)."""
    return text.isprintable()


def check_text(field: str, value: object, max_len: int, *, allow_empty: bool = True) -> str:
    """Return ``value`` if it is a printable string within ``max_len``; raise otherwise."""
    if not isinstance(value, str):
        raise UnsafeTextError(field, value, f"expected text, got {type(value).__name__}")
    if len(value) > max_len:
        raise UnsafeTextError(field, value, f"longer than {max_len} characters ({len(value)})")
    if not allow_empty and not value:
        raise UnsafeTextError(field, value, "must not be empty")
    if not value.isprintable():
        raise UnsafeTextError(field, value, "contains control or non-printable characters")
    return value
