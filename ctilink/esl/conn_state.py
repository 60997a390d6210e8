"""Where an ESL connection's supervisor is, and the moves it may make.

Rules:
- The states and their allowed transitions are :class:`ConnState` and :data:`TRANSITIONS`;
  ``STOPPED`` is terminal.
- The supervisor is the only writer (and ``stop()``, which ends it). A transition the table does
  not allow is a bug in the connection, so it raises instead of being ignored.
- Setting the state it is already in is not a transition and wakes nobody.

Theory of operation: :class:`StateMachine` holds the state and one gevent Event per state
reached; each transition sets the current Event and replaces it, so every waiter of
:meth:`StateMachine.wait_for` wakes, looks again, and goes back to waiting if it is not there yet.
"""

from __future__ import annotations

import enum
import time

import gevent.event

__all__ = ["TRANSITIONS", "ConnState", "StateMachine"]


class ConnState(enum.Enum):
    """Where the supervisor is."""

    IDLE = "idle"  # constructed, start() not called
    CONNECTING = "connecting"  # TCP connect, auth, subscribe, filters
    RESYNCING = "resyncing"  # session up, snapshot being turned into events
    LIVE = "live"  # resync delivered, live events flowing
    BACKOFF = "backoff"  # session ended or attempt failed; waiting before the next attempt
    STOPPED = "stopped"  # stop() called; terminal


TRANSITIONS: dict[ConnState, frozenset[ConnState]] = {
    ConnState.IDLE: frozenset({ConnState.CONNECTING, ConnState.STOPPED}),
    ConnState.CONNECTING: frozenset({ConnState.RESYNCING, ConnState.BACKOFF, ConnState.STOPPED}),
    ConnState.RESYNCING: frozenset({ConnState.LIVE, ConnState.BACKOFF, ConnState.STOPPED}),
    ConnState.LIVE: frozenset({ConnState.BACKOFF, ConnState.STOPPED}),
    ConnState.BACKOFF: frozenset({ConnState.CONNECTING, ConnState.STOPPED}),
    ConnState.STOPPED: frozenset(),
}


class StateMachine:
    """The current :class:`ConnState`, its checked transitions, and waiting for one."""

    def __init__(self) -> None:
        self._state = ConnState.IDLE
        self._changed = gevent.event.Event()

    @property
    def state(self) -> ConnState:
        return self._state

    def set(self, state: ConnState) -> None:
        """Move to ``state``; raises RuntimeError if the table does not allow it."""
        if state is self._state:
            return
        if state not in TRANSITIONS[self._state]:
            # The supervisor is the only writer; reaching here is a bug in the connection.
            raise RuntimeError(f"illegal ESL connection transition {self._state.value} -> {state.value}")
        self._state = state
        changed, self._changed = self._changed, gevent.event.Event()
        changed.set()

    def wait_for(self, state: ConnState, timeout: float | None = None) -> bool:
        """Wait until in ``state``; False on timeout (or if it stopped first)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._state is not state:
            if self._state is ConnState.STOPPED:
                return False
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            self._changed.wait(left)
        return True
