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

from dataclasses import fields
from typing import TypeVar

from ctilink.dialer.types import Attempt, Contact
from ctilink.store.records import CampaignAttempt, CampaignContact

_Record = TypeVar("_Record", CampaignContact, CampaignAttempt)


def _record(value: object, record: type[_Record]) -> _Record:
    # The dialer's types and the records have the same fields by name (a test holds them to it).
    if isinstance(value, record):
        return value
    values = {f.name: getattr(value, f.name) for f in fields(record)}
    values["data"] = dict(values["data"])  # the record must not share the dialer's dict
    return record(**values)


def contact_record(contact: Contact | CampaignContact) -> CampaignContact:
    """The store's record of a dialer contact."""
    return _record(contact, CampaignContact)


def attempt_record(attempt: Attempt | CampaignAttempt) -> CampaignAttempt:
    """The store's record of a dialer attempt."""
    return _record(attempt, CampaignAttempt)


__all__ = ["attempt_record", "contact_record"]
