"""What the hang-up of an unanswered customer dial means for its campaign.

Rules:
- The dialer reads no cause names: :func:`ctilink.core.causes.classify` (the table the engine
  uses too) says the :class:`~ctilink.core.causes.CauseClass`, and :data:`ATTEMPT_OUTCOMES`
  maps the class to the attempt's :class:`~ctilink.dialer.campaign.AttemptOutcome`, which picks
  the retry rule. The cause and the SIP code are kept in the attempt's data either way.
- The map is total over the classes (a test checks it), so a new class cannot go unmapped.

Choices, and why:
- ``rejected`` -> ``busy``: the attempt outcomes (stored, and the retry rules' keys) have no
  "rejected"; for retrying, a decline (603 Decline, ``CALL_REJECTED``) is a busy: the person is
  there and did not take this call. It always was (``CALL_REJECTED`` was in the dialer's busy
  set); only the class is now the engine's.
- ``cancelled`` -> ``failed``: FreeSWITCH ends a dial that rang out with ``NO_ANSWER`` (its
  originate timeout, ``switch_ivr_originate.c``) and a dial the customer's side refused with
  busy / reject causes. ``ORIGINATOR_CANCEL`` (and ``LOSE_RACE``, ``PICKED_OFF``, ctilink's
  ``SWITCH_SHUTDOWN``) means the originate was called off on our side: an operator's
  ``uuid_kill`` / ``hupall`` with that cause, an originate whose originator went away, a proxy
  answering 487 by itself. ctilink itself never cancels an unanswered customer dial (a stopped
  or paused campaign lets its dials in flight end on their own). Such an attempt says nothing
  about the customer, so it is not counted as their no-answer: it is retried on the ``failed``
  rule (30 min by default, not the hour of ``no_answer``), as the other cancel causes always
  were. Until this table, ``ORIGINATOR_CANCEL`` alone was a ``no_answer`` here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ctilink.core.causes import CauseClass, classify
from ctilink.dialer.campaign import AttemptOutcome
from ctilink.dialer.pacer import Outcome

#: An unanswered dial's attempt outcome, by hang-up class (see the module docstring for the why).
ATTEMPT_OUTCOMES: Mapping[CauseClass, AttemptOutcome] = MappingProxyType(
    {
        CauseClass.BUSY: AttemptOutcome.BUSY,
        CauseClass.REJECTED: AttemptOutcome.BUSY,  # no "rejected" attempt outcome: retried as a busy
        CauseClass.NO_ANSWER: AttemptOutcome.NO_ANSWER,
        CauseClass.CANCELLED: AttemptOutcome.FAILED,  # called off on our side: not the customer's no-answer
        CauseClass.FAILED: AttemptOutcome.FAILED,
    }
)

#: How the pacer counts those outcomes (its outcome mix and ring-time reservoirs).
DIAL_OUTCOMES: Mapping[AttemptOutcome, Outcome] = MappingProxyType(
    {
        AttemptOutcome.BUSY: Outcome.BUSY,
        AttemptOutcome.NO_ANSWER: Outcome.NO_ANSWER,
        AttemptOutcome.FAILED: Outcome.FAILED,
    }
)


def unanswered_outcome(cause: str, sip_code: int | None) -> AttemptOutcome:
    """The outcome of a dial that ended before its answer with ``cause`` (and SIP status)."""
    return ATTEMPT_OUTCOMES[classify(cause, sip_code)]


__all__ = ["ATTEMPT_OUTCOMES", "DIAL_OUTCOMES", "unanswered_outcome"]
