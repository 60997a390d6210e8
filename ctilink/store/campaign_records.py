"""The store edge of the dialer: its contacts and attempts become the store's records here.

Rules:
- The dialer announces its own values (:class:`~ctilink.dialer.types.Contact`,
  :class:`~ctilink.dialer.types.Attempt`) and never imports the store; the store's write methods
  (``put_contacts``, ``put_attempt``) accept them and turn them into its records with these
  functions, field for field, so every engine stores the same validated values. A record passed
  in is kept as it is.
- Reading goes the other way without a copy: ``Dialer.load_contacts`` reads the record's fields
  (``ctilink.dialer.types.ContactFields``).
"""

from __future__ import annotations

from ctilink.dialer.types import Attempt, Contact
from ctilink.store.records import CampaignAttempt, CampaignContact


def contact_record(contact: Contact | CampaignContact) -> CampaignContact:
    """The store's record of a dialer contact (the data dict copied: the record must not share it)."""
    if isinstance(contact, CampaignContact):
        return contact
    return CampaignContact(
        campaign=contact.campaign,
        contact_id=contact.contact_id,
        number=contact.number,
        status=contact.status,
        priority=contact.priority,
        next_attempt_at=contact.next_attempt_at,
        attempts=contact.attempts,
        data=dict(contact.data),
    )


def attempt_record(attempt: Attempt | CampaignAttempt) -> CampaignAttempt:
    """The store's record of a dialer attempt."""
    if isinstance(attempt, CampaignAttempt):
        return attempt
    return CampaignAttempt(
        attempt_id=attempt.attempt_id,
        campaign=attempt.campaign,
        contact_id=attempt.contact_id,
        started_at=attempt.started_at,
        call_id=attempt.call_id,
        ended_at=attempt.ended_at,
        outcome=attempt.outcome,
        data=dict(attempt.data),
    )


__all__ = ["attempt_record", "contact_record"]
