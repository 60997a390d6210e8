"""Reconnect backoff: capped exponential delays with jitter.

Rules:
- A delay is never zero and never above ``cap``: a node that keeps failing (refused, bad
  password, ACL rejection, dropping us right after login) is retried at a bounded pace, never in
  a tight loop, and never left alone for longer than ``cap`` seconds.
- Jitter spreads the retries of several daemons (or several node connections) that lost a
  node at the same moment, so they do not all knock on it in the same millisecond.
- Deterministic when a ``random.Random`` is injected: tests give a seeded one.

Theory of operation: :class:`Backoff` is an immutable policy. The caller (the connection
supervisor) owns the attempt counter: ``delay(n)`` is the pause before retry ``n`` (0-based),
and the caller resets its counter to 0 once a session has proved stable. This module knows
nothing about sockets, clocks or FreeSWITCH; it only does arithmetic.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

__all__ = ["Backoff"]

# One shared generator for policies that were not given one: jitter needs no security,
# only spread, and a module-level instance avoids re-seeding per call.
_DEFAULT_RNG = random.Random()


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff policy.

    The base delay for attempt ``n`` is ``initial * multiplier**n`` capped at ``cap``; the
    returned delay is the base scaled by a uniform factor in ``[1 - jitter, 1 + jitter]``,
    then capped again (so ``cap`` is a hard ceiling) and floored at ``initial * (1 - jitter)``.
    """

    initial: float = 0.5
    cap: float = 30.0
    jitter: float = 0.2
    multiplier: float = 2.0
    rng: random.Random | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("initial", "cap", "multiplier", "jitter"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise ValueError(f"Backoff.{name} must be a finite number, got {value!r}")
        if self.initial <= 0:
            raise ValueError(f"Backoff.initial must be > 0, got {self.initial!r}")
        if self.cap < self.initial:
            raise ValueError(f"Backoff.cap must be >= initial ({self.initial!r}), got {self.cap!r}")
        if self.multiplier < 1:
            raise ValueError(f"Backoff.multiplier must be >= 1, got {self.multiplier!r}")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"Backoff.jitter must be in [0, 1), got {self.jitter!r}")

    def base(self, attempt: int) -> float:
        """The un-jittered delay before retry ``attempt`` (0-based)."""
        if attempt < 0:
            raise ValueError(f"attempt must be >= 0, got {attempt!r}")
        # Compare in log space: multiplier**attempt overflows a float long before attempt
        # stops being a plausible count of failures on a node that is down for days.
        if self.multiplier > 1 and attempt * math.log(self.multiplier) >= math.log(self.cap / self.initial):
            return self.cap
        return min(self.cap, self.initial * self.multiplier**attempt)

    def delay(self, attempt: int) -> float:
        """The jittered delay before retry ``attempt`` (0-based); always > 0 and <= cap."""
        base = self.base(attempt)
        rng = self.rng if self.rng is not None else _DEFAULT_RNG
        factor = 1.0 + self.jitter * (2.0 * rng.random() - 1.0)
        return max(self.initial * (1.0 - self.jitter), min(self.cap, base * factor))
