"""Bounded label values for the Prometheus metrics: every label has a known, capped vocabulary.

Rules:
- A label value taken from a name whose vocabulary we do not control must look like a name
  (:data:`PLAIN`: a letter or digit, then at most 63 of letters, digits and ``_.@+:-``).
- :class:`CappedLabel` maps free-form values to label values: with ``allowed``, exactly those
  values (anything else is :data:`OTHER`); without, plain names only, at most ``cap`` distinct
  (64 by default), then :data:`OTHER`. Enums map through their ``value``.
- :data:`NO_QUEUE` / :data:`NO_CODE` stand for "none given", never for "unknown".

Theory: a time series per label value costs Prometheus memory for as long as it is retained, so a
label fed by input the caller controls (a queue name in a channel variable, a list name in a newer
notification) must stop growing at a fixed size; the first values seen keep their own series and
the rest share one.
"""

from __future__ import annotations

import re
from collections.abc import Collection

__all__ = ["NO_CODE", "NO_QUEUE", "OTHER", "PLAIN", "CappedLabel", "label_of"]

#: Label value for "no queue" (a call whose ``ctilink_queue`` named no configured queue).
NO_QUEUE = "_none"
#: Label value for anything outside a bounded vocabulary (or beyond a label's cap).
OTHER = "_other"
#: Label value for "no code" (an answered call with no wrap-up code, a pause with no reason).
NO_CODE = "_none"

PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+:-]{0,63}$")
_CAPPED_LABEL_VALUES = 64


class CappedLabel:
    """Maps free-form names to label values: plain names, at most ``cap`` distinct, else ``_other``."""

    __slots__ = ("allowed", "cap", "seen")

    def __init__(self, cap: int = _CAPPED_LABEL_VALUES, allowed: Collection[str] | None = None) -> None:
        self.cap = cap
        self.allowed = frozenset(allowed) if allowed is not None else None
        self.seen: set[str] = set()

    def __call__(self, value: object) -> str:
        if not isinstance(value, str):
            value = getattr(value, "value", None)  # enums
            if not isinstance(value, str):
                return OTHER
        if self.allowed is not None:
            return value if value in self.allowed else OTHER
        if value in self.seen:
            return value
        if len(self.seen) >= self.cap or not PLAIN.match(value):
            return OTHER
        self.seen.add(value)
        return value


def label_of(obj: object, *names: str) -> object:
    """The first attribute of ``obj`` among ``names`` that is set (tolerant of newer notifications)."""
    for name in names:
        value = getattr(obj, name, None)
        if value is not None:
            return value
    return None
