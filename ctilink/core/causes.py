"""What the hang-up of an unanswered leg says: one classification for the engine and the dialer.

Rules:
- A leg that ended before it was answered is in exactly one :class:`CauseClass`, decided by
  :func:`classify` from FreeSWITCH's hang-up cause name and the SIP status, when there is one.
  The engine (an agent's offer: ``OfferOutcome``) and the dialer (a customer dial:
  ``AttemptOutcome``) each map the *class* to their own outcome; neither reads cause names, so
  the two can never disagree again on what a cause means (they did: ``ORIGINATOR_CANCEL`` was a
  cancel for the engine and a no-answer for the dialer, ``CALL_REJECTED`` a rejection for one and
  a busy for the other).
- :data:`TABLE` is the one table: rows in precedence order, each naming the causes and the SIP
  codes that say its class. The first row that either the cause or the SIP code matches wins (a
  ``486`` with a vague cause is busy); nothing matched is :attr:`CauseClass.FAILED`.
- Pure data: no I/O, no clock; it knows nothing about agents, campaigns or the wire.

Theory (FreeSWITCH's own rules, read in ``src/mod/endpoints/mod_sofia/sofia_glue.c``
``sofia_glue_sip_cause_to_freeswitch`` and ``src/switch_ivr_originate.c``):
- SIP final responses become causes: 486 and 600 -> ``USER_BUSY``; 603 (and 401, 402, 403, 407,
  608) -> ``CALL_REJECTED``; 480 -> ``NO_USER_RESPONSE``; 408 -> ``RECOVERY_ON_TIMER_EXPIRE``
  (so 408 is listed by code: its cause name alone says nothing); 487 -> ``ORIGINATOR_CANCEL``.
  The SIP codes in the table are the ones whose meaning agrees with their cause's class.
- 487 is deliberately *not* in the table: when FreeSWITCH's own ring timeout fires it CANCELs the
  INVITE and the far end answers 487, so ``sip_term_status`` is 487 on a leg whose cause is
  ``NO_ANSWER``. The cause, not the code, says who gave up.
- The originate's timeout (``originate_timeout`` / ``leg_timeout``; ctilink's ``timeout_s``)
  hangs the ringing leg up with ``NO_ANSWER``, and a progress timeout with ``PROGRESS_TIMEOUT``:
  both are :attr:`CauseClass.NO_ANSWER`.
- ``ORIGINATOR_CANCEL`` is what FreeSWITCH says when the *originate* was called off rather than
  unanswered: its originator went away (``IDX_CANCEL``), an operator or ctilink hung the ringing
  leg up with that cause, or a proxy on the way answered 487 by itself. ``LOSE_RACE`` is a loser
  of a forked dial, ``PICKED_OFF`` a leg intercepted elsewhere, and ``SWITCH_SHUTDOWN`` the cause
  ctilink gives a leg whose switch announced its shutdown. They are :attr:`CauseClass.CANCELLED`:
  nobody at the far end refused or ignored the call. What a cancel means for an agent (no
  penalty) and for a customer dial (a failed attempt, see ``ctilink.dialer.outcomes``) is each
  consumer's mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class CauseClass(StrEnum):
    BUSY = "busy"  # the far end is busy (486 Busy Here, 600 Busy Everywhere)
    REJECTED = "rejected"  # the far end declined (603 Decline)
    NO_ANSWER = "no-answer"  # it rang (or tried to) and nobody answered in time
    CANCELLED = "cancelled"  # the dial was called off on our side, or lost a race
    FAILED = "failed"  # anything else: network, routing, SIP errors, unknown causes


C = CauseClass

#: ``(class, causes, sip codes)`` in precedence order: the first row the cause or the code matches.
TABLE: tuple[tuple[CauseClass, frozenset[str], frozenset[int]], ...] = (
    (C.BUSY, frozenset({"USER_BUSY"}), frozenset({486, 600})),
    (C.REJECTED, frozenset({"CALL_REJECTED"}), frozenset({603})),
    (
        C.NO_ANSWER,
        frozenset({"NO_ANSWER", "NO_USER_RESPONSE", "ALLOTTED_TIMEOUT", "PROGRESS_TIMEOUT"}),
        frozenset({408, 480}),
    ),
    (C.CANCELLED, frozenset({"ORIGINATOR_CANCEL", "LOSE_RACE", "PICKED_OFF", "SWITCH_SHUTDOWN"}), frozenset()),
)

del C

#: Every cause name the table knows, with its class (derived from :data:`TABLE`; for docs and tests).
CAUSES: Mapping[str, CauseClass] = MappingProxyType({cause: cls for cls, causes, _ in TABLE for cause in causes})
#: Every SIP code the table knows, with its class (derived from :data:`TABLE`).
SIP_CODES: Mapping[int, CauseClass] = MappingProxyType({code: cls for cls, _, codes in TABLE for code in codes})


def classify(cause: str, sip_code: int | None = None) -> CauseClass:
    """The class of an unanswered leg's hang-up ``cause`` (FreeSWITCH's name) and SIP status."""
    for cls, causes, codes in TABLE:
        if cause in causes or sip_code in codes:
            return cls
    return CauseClass.FAILED


__all__ = ["CAUSES", "SIP_CODES", "TABLE", "CauseClass", "classify"]
