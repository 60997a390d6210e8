"""The silence watchdog: how long since the node last sent something complete and valid.

Rules:
- Only complete, valid input feeds it: an event the normalizer decoded, a reply that fits its
  command, ``auth/request``. Bytes alone never do: a stream of garbage, of frames that are
  skipped, or of a body that never completes must end the session as surely as a silent one.
- FreeSWITCH sends HEARTBEAT every 20 s by default, so ``timeout_s`` (``heartbeat_timeout_s``)
  without valid input means a dead peer, a dead path, or a stream we can no longer read.
- One consequence, on purpose: a single frame that takes longer than ``timeout_s`` to arrive
  ends the session too.

Theory of operation: the reader sets its socket timeout to :meth:`SilenceWatchdog.remaining`
before every read, so a quiet socket times out exactly at the deadline and a noisy one is
checked after every read. No greenlet, no timer object; the clock is injectable for tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["SilenceWatchdog"]


class SilenceWatchdog:
    """Deadline ``timeout_s`` after the last :meth:`fed`, counted from construction."""

    def __init__(self, timeout_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s!r}")
        self.timeout_s = timeout_s
        self._clock = clock
        self._last = clock()

    def fed(self) -> None:
        """Something complete and valid arrived."""
        self._last = self._clock()

    def remaining(self) -> float:
        """Seconds left before the session counts as silent (zero or less: it is)."""
        return self.timeout_s - (self._clock() - self._last)
