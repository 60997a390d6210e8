"""Campaign run state: one Enum of states, one Enum of events, one transition table.

Rules:
- A campaign is in exactly one :class:`CampaignState`. The dialer changes it only through
  :func:`transition`, which looks ``(state, event)`` up in :data:`TRANSITIONS` and raises
  :class:`IllegalCampaignTransition` (naming the campaign, the state and the event) for anything
  else, before anything has changed.
- The event says what the operator asked (``start``, ``pause``, ``resume``, ``stop``); asking for
  the state the campaign is already in is an allowed self-transition that changes nothing (no
  ``CampaignStateChanged``), so a repeated HTTP action is harmless.
- ``resume`` carries on a pause; it does not undo a stop. A stopped campaign was ended on purpose
  (the daemon keeps it stopped across restarts), so running it again is said with ``start``.
- ``pause`` is allowed from ``stopped``: that is how the daemon restores an operator's pause at
  start-up (a campaign is added stopped and loaded paused, so ``resume`` works afterwards).
- The values are stored (``run_state`` in the campaign's configuration override): renaming one is
  a migration.

Theory: this module owns only the run state's lifecycle. What each state means (``running``
paces and dials; ``paused`` and ``stopped`` place no new dial while the dials in flight end on
their own; ``stop`` also takes back previews on agents' screens) is the dialer's business.
docs/dialer.md draws its diagram from :data:`TRANSITIONS`.
"""

from __future__ import annotations

from enum import StrEnum

from ctilink.core.errors import IllegalTransition
from ctilink.dialer.errors import DialerError


class CampaignState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


class CampaignEvent(StrEnum):
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"


S = CampaignState
E = CampaignEvent

TRANSITIONS: dict[CampaignState, dict[CampaignEvent, CampaignState]] = {
    S.STOPPED: {
        E.START: S.RUNNING,
        E.PAUSE: S.PAUSED,  # the daemon restoring a recorded pause at start-up
        E.STOP: S.STOPPED,
    },
    S.RUNNING: {
        E.START: S.RUNNING,
        E.RESUME: S.RUNNING,
        E.PAUSE: S.PAUSED,
        E.STOP: S.STOPPED,
    },
    S.PAUSED: {
        E.START: S.RUNNING,
        E.RESUME: S.RUNNING,
        E.PAUSE: S.PAUSED,
        E.STOP: S.STOPPED,
    },
}

del S, E


class IllegalCampaignTransition(DialerError, IllegalTransition):
    """The campaign's table has no ``event`` in ``state``: a refusal (HTTP 409), nothing changed.

    A :class:`~ctilink.dialer.errors.DialerError` (so the API and the engine loop treat it as the
    ordinary refusal it is) and an :class:`~ctilink.core.errors.IllegalTransition` (the type every
    state machine of ctilink raises for the same mistake)."""

    code = "illegal-transition"

    def __init__(self, campaign: str, state: CampaignState, event: CampaignEvent) -> None:
        IllegalTransition.__init__(self, "campaign", campaign, state, event)
        self.campaign = campaign


def transition(campaign: str, state: CampaignState, event: CampaignEvent) -> CampaignState:
    """The target of ``event`` in ``state``, or :class:`IllegalCampaignTransition` naming all three."""
    target = TRANSITIONS[state].get(event)
    if target is None:
        raise IllegalCampaignTransition(campaign, state, event)
    return target


__all__ = ["TRANSITIONS", "CampaignEvent", "CampaignState", "IllegalCampaignTransition", "transition"]
