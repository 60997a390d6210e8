"""CSV import and export of list entries, with a validation report.

Rules:
- Columns (header row required, any order): ``list`` and ``number`` are required; ``scope``
  (default ``global``), ``expires`` (empty, epoch seconds, or ISO 8601 with a timezone),
  ``reason``, ``added_by``, ``added_at`` (epoch; default: import time), ``action``, ``cause``,
  ``priority``, ``target`` are optional. An unknown column rejects the whole file (a typo such
  as ``expiry`` must not silently drop data). Prefix entries are written ``+44909*``.
- All or nothing by default: if any row is bad, :class:`ImportReport` lists every bad row
  (line number, escaped raw text, reason) and carries no entries to apply. With
  ``partial=True`` the good rows are applied and the bad ones reported.
- A key (list, scope, kind, number) may appear once per file; a repeat is a rejected row.
- Rows are hostile: every cell goes through :func:`ctilink.lists.model.build_entry`; raw text in
  the report is escaped and truncated, so it is safe to print or log.
- Export writes every column, so ``export`` then ``import`` reproduces the same entries.

Theory of operation: :func:`import_csv` only parses and validates; :func:`import_lists` applies
the report's entries to a store in one atomic ``put_list_entries``; :func:`export_lists` reads
the store and writes CSV. The CLI (``ctilink lists import|export``) wraps the last two.

This module knows nothing about matching precedence or SQL.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ctilink.lists.model import GLOBAL, Entry, InvalidEntryError, build_entry
from ctilink.lists.numbers import InvalidNumberError, check_region
from ctilink.lists.safety import escape_for_log

if TYPE_CHECKING:
    from ctilink.store.base import Store

__all__ = ["COLUMNS", "REQUIRED_COLUMNS", "ImportReport", "export_csv", "export_lists", "import_csv", "import_lists"]

COLUMNS = (
    "list",
    "number",
    "scope",
    "expires",
    "reason",
    "added_by",
    "added_at",
    "action",
    "cause",
    "priority",
    "target",
)
REQUIRED_COLUMNS = ("list", "number")
RAW_PREVIEW_CHARS = 200

PathOrFile = str | Path | IO[str]


@dataclass
class ImportReport:
    """Outcome of an import. ``entries`` are what will be (or were) applied."""

    accepted: int = 0
    rejected: list[tuple[int, str, str]] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    applied: bool = False

    @property
    def ok(self) -> bool:
        return not self.rejected


class _RowError(ValueError):
    pass


def _parse_time(column: str, text: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise _RowError(f"{column}: expected epoch seconds or ISO 8601, got {escape_for_log(text, 40)}") from None
        if moment.tzinfo is None:
            raise _RowError(
                f"{column}: ISO time needs a timezone (e.g. 2030-01-31T00:00:00Z), got {escape_for_log(text, 40)}"
            ) from None
        return moment.timestamp()
    if not math.isfinite(value):
        raise _RowError(f"{column}: not a finite time: {escape_for_log(text, 40)}")
    return value


def _parse_priority(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 9:
        raise _RowError(f"priority: expected a non-negative integer, got {escape_for_log(text, 40)}")
    return int(text)


def _opt(text: str) -> str | None:
    text = text.strip()
    return text or None


def _row_to_entry(row: dict[str, str], region: str, now: float) -> Entry:
    get = row.get
    added_at = _parse_time("added_at", get("added_at") or "")
    try:
        return build_entry(
            (get("list") or "").strip().lower(),
            get("number") or "",
            region,
            scope=(get("scope") or "").strip() or GLOBAL,
            expires_at=_parse_time("expires", get("expires") or ""),
            reason=get("reason") or "",
            added_by=(get("added_by") or "").strip(),
            added_at=now if added_at is None else added_at,
            priority=_parse_priority(get("priority") or ""),
            target=_opt(get("target") or ""),
            action=(_opt(get("action") or "") or "").lower() or None,
            cause=_opt(get("cause") or ""),
        )
    except InvalidNumberError as exc:
        raise _RowError(f"number: {exc.reason}") from None
    except InvalidEntryError as exc:
        raise _RowError(str(exc)) from None


def _preview(cells: Iterable[str]) -> str:
    return escape_for_log(",".join(cells), RAW_PREVIEW_CHARS)


def _read(source: IO[str], region: str, now: float) -> ImportReport:
    report = ImportReport()
    reader = csv.reader(source, strict=True)
    seen: dict[tuple[str, str, str, str], int] = {}
    try:
        header = next(reader, None)
    except (csv.Error, UnicodeDecodeError) as exc:
        report.rejected.append((1, "", f"unreadable header: {escape_for_log(str(exc), 120)}"))
        return report
    if header is None:
        report.rejected.append((1, "", "empty file: expected a header row"))
        return report
    columns = [h.strip().lower() for h in header]
    unknown = [c for c in columns if c not in COLUMNS]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if unknown or missing or dupes:
        problems = []
        if unknown:
            problems.append("unknown column(s) " + ", ".join(escape_for_log(c, 40) for c in unknown))
        if missing:
            problems.append("missing column(s) " + ", ".join(missing))
        if dupes:
            problems.append("repeated column(s) " + ", ".join(dupes))
        report.rejected.append(
            (1, _preview(header), "; ".join(problems) + f"; expected columns from {', '.join(COLUMNS)}")
        )
        return report
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except (csv.Error, UnicodeDecodeError) as exc:
            # The parser cannot resynchronise after a framing error; report and stop reading.
            report.rejected.append(
                (reader.line_num, "", f"unreadable CSV, stopped here: {escape_for_log(str(exc), 120)}")
            )
            break
        line = reader.line_num
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) != len(columns):
            report.rejected.append((line, _preview(cells), f"expected {len(columns)} fields, got {len(cells)}"))
            continue
        try:
            entry = _row_to_entry(dict(zip(columns, cells, strict=True)), region, now)
        except _RowError as exc:
            report.rejected.append((line, _preview(cells), str(exc)))
            continue
        first = seen.get(entry.key)
        if first is not None:
            report.rejected.append((line, _preview(cells), f"same list, scope and number as line {first}"))
            continue
        seen[entry.key] = line
        report.entries.append(entry)
    return report


def import_csv(
    path_or_file: PathOrFile, default_region: str, *, partial: bool = False, now: float | None = None
) -> ImportReport:
    """Parse and validate a CSV of list entries. Nothing is written anywhere.

    ``report.entries`` holds the entries to apply: all rows when every row is good, the good
    rows when ``partial``, otherwise none. ``now`` stamps rows without ``added_at``.
    """
    region = check_region(default_region)
    stamp = time.time() if now is None else now
    if isinstance(path_or_file, str | Path):
        with open(path_or_file, encoding="utf-8-sig", newline="") as fh:
            report = _read(fh, region, stamp)
    else:
        report = _read(path_or_file, region, stamp)
    if report.rejected and not partial:
        report.entries = []
    report.accepted = len(report.entries)
    return report


def export_csv(entries: Iterable[Entry], path_or_file: PathOrFile) -> int:
    """Write entries as CSV (every column, sorted by key); return how many rows."""
    rows = sorted(entries, key=lambda e: e.key)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for e in rows:
        writer.writerow(
            (
                e.list_name.value,
                e.display_number,
                e.scope,
                "" if e.expires_at is None else repr(e.expires_at),
                e.reason,
                e.added_by,
                repr(e.added_at),
                "" if e.action is None else e.action.value,
                e.cause or "",
                "" if e.priority is None else str(e.priority),
                e.target or "",
            )
        )
    if isinstance(path_or_file, str | Path):
        with open(path_or_file, "w", encoding="utf-8", newline="") as fh:
            fh.write(buffer.getvalue())
    else:
        path_or_file.write(buffer.getvalue())
    return len(rows)


def import_lists(
    store: Store, path: PathOrFile, region: str, partial: bool = False, *, now: float | None = None
) -> ImportReport:
    """Import a CSV into ``store`` atomically (see :func:`import_csv` for what gets applied)."""
    report = import_csv(path, region, partial=partial, now=now)
    if report.entries:
        store.put_list_entries(report.entries)
        report.applied = True
    return report


def export_lists(store: Store, path: PathOrFile) -> int:
    """Export every list entry in ``store`` (expired ones too) to CSV; return how many."""
    return export_csv(store.load_list_entries(), path)
