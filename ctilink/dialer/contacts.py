"""Campaign contacts from CSV: column mapping, validation, a report; nothing is lost silently.

Rules:
- ``mapping`` names the CSV column for each contact field (``contact_id``, ``number``, and
  optionally ``priority``, ``timezone``); every other column becomes a screen-pop field in
  ``data`` (header names and values are kept printable and length-capped).
- Numbers are normalised to E.164 with ``phonenumbers`` in ``region``; a row that cannot be used
  (bad number, missing/duplicate id, bad priority or time zone) is reported with its line number
  and reason. ``partial=False`` imports nothing if any row is bad; ``partial=True`` imports the
  good rows. Either way the report lists every rejected row.
- Pure apart from reading the file; the store write is one ``put_contacts`` (all or nothing).
  Rows become the dialer's own :class:`~ctilink.dialer.types.Contact` values; the store (any
  :class:`ContactSink`, e.g. ``ctilink.store.SqliteStore``) converts them to its records.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import phonenumbers

from ctilink.dialer.types import Contact
from ctilink.dialer.windows import zone
from ctilink.values import text_problem

MAX_FIELD = 256
MAX_ROWS = 1_000_000
REQUIRED = ("contact_id", "number")
OPTIONAL = ("priority", "timezone")


class ImportError_(ValueError):
    """The file or the mapping cannot be used at all (not one row was read)."""


class ContactSink(Protocol):
    """Where imported contacts go: the store's ``put_contacts`` (all or nothing; returns how many)."""

    def put_contacts(self, contacts: Iterable[Contact]) -> int: ...


@dataclass
class ImportReport:
    campaign: str
    rows: int = 0
    imported: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    committed: bool = False


def _clean(text: object) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in str(text))[:MAX_FIELD]


def normalise(number: str, region: str) -> str | None:
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def parse_contacts(
    campaign: str, path: Path, mapping: Mapping[str, str], region: str
) -> tuple[list[Contact], ImportReport]:
    report = ImportReport(campaign)
    for key in REQUIRED:
        if key not in mapping:
            raise ImportError_(f"mapping: missing the column for {key!r}")
    unknown = set(mapping) - set(REQUIRED) - set(OPTIONAL)
    if unknown:
        raise ImportError_(f"mapping: unknown field(s) {sorted(unknown)}; expected {list(REQUIRED + OPTIONAL)}")
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise ImportError_(f"{path}: {exc.strerror}") from exc
    contacts: list[Contact] = []
    seen: set[str] = set()
    with handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [col for col in mapping.values() if col not in header]
        if missing:
            raise ImportError_(f"columns {missing} not in the CSV header {[_clean(h) for h in header][:20]}")
        mapped = set(mapping.values())
        try:
            for row in reader:
                line = reader.line_num
                report.rows += 1
                if report.rows > MAX_ROWS:
                    raise ImportError_(f"more than {MAX_ROWS} rows")
                reason, contact = _row(campaign, row, mapping, mapped, region, seen)
                if contact is None:
                    report.rejected.append((line, reason))
                else:
                    contacts.append(contact)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ImportError_(f"{path}: unreadable CSV near line {reader.line_num}: {_clean(exc)}") from exc
    return contacts, report


def _row(
    campaign: str,
    row: Mapping[str | None, Any],
    mapping: Mapping[str, str],
    mapped: set[str],
    region: str,
    seen: set[str],
) -> tuple[str, Contact | None]:
    if None in row:
        return "more fields than the header", None
    contact_id = (row.get(mapping["contact_id"]) or "").strip()
    if not contact_id or not contact_id.isprintable() or len(contact_id) > 128:
        return "contact_id: missing or not printable (max 128)", None
    if (problem := text_problem(contact_id)) is not None:  # it travels on the customer's originate
        return f"contact_id: {problem}", None
    if contact_id in seen:
        return f"contact_id: duplicate {_clean(contact_id)!r}", None
    raw_number = (row.get(mapping["number"]) or "").strip()
    number = normalise(raw_number, region)
    if number is None:
        return f"number: not a valid number in region {region}: {_clean(raw_number)!r}", None
    priority = 0
    if "priority" in mapping:
        raw = (row.get(mapping["priority"]) or "0").strip()
        try:
            priority = int(raw)
        except ValueError:
            return f"priority: expected an integer, got {_clean(raw)!r}", None
        if not -1000 <= priority <= 1000:
            return "priority: expected -1000..1000", None
    data: dict[str, Any] = {}
    if "timezone" in mapping:
        tz = (row.get(mapping["timezone"]) or "").strip()
        if tz:
            if zone(tz) is None:
                return f"timezone: unknown zone {_clean(tz)!r}", None
            data["timezone"] = tz
    for key, value in row.items():
        if key is not None and key not in mapped:
            data[_clean(key)] = _clean(value or "")
    try:
        contact = Contact(campaign=campaign, contact_id=contact_id, number=number, priority=priority, data=data)
    except ValueError as exc:
        return _clean(exc), None
    seen.add(contact_id)
    return "", contact


def import_campaign_contacts(
    store: ContactSink, campaign: str, path: str | Path, mapping: Mapping[str, str], region: str, partial: bool
) -> ImportReport:
    """Read, validate and store contacts; the report says what was imported and what was not."""
    contacts, report = parse_contacts(campaign, Path(path), mapping, region)
    if report.rejected and not partial:
        return report
    if contacts:
        report.imported = store.put_contacts(contacts)
    report.committed = True
    return report


__all__ = ["ContactSink", "ImportError_", "ImportReport", "import_campaign_contacts", "normalise", "parse_contacts"]
