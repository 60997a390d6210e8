"""CSV import/export: validation report, all-or-nothing, partial, round trip through the store."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctilink.lists import (
    BlockAction,
    Entry,
    EntryKind,
    ListName,
    UnknownRegionError,
    export_csv,
    export_lists,
    import_csv,
    import_lists,
)
from ctilink.store import SqliteStore

GOOD = """list,number,scope,expires,reason,added_by,action,cause,priority,target
blacklist,+44909*,global,,premium rate,ops,announce,,,ivr/ivr-call_rejected.wav
blacklist,020 7946 0958,queue:support,2030-01-01T00:00:00Z,abusive,ops,,CALL_REJECTED,,
whitelist,+12125550142,did:+442071234567,,vip,crm,,,10,agent-1001
dnc,Anonymous,campaign:spring,1900000000,,compliance,,,,
"""


def test_good_file_is_accepted_whole() -> None:
    report = import_csv(io.StringIO(GOOD), "GB", now=123.0)
    assert report.ok and report.accepted == 4
    entries = {e.number: e for e in report.entries}
    assert entries["+44909"].kind is EntryKind.PREFIX and entries["+44909"].action is BlockAction.ANNOUNCE
    assert entries["+442079460958"].cause == "CALL_REJECTED" and entries["+442079460958"].expires_at == 1893456000.0
    assert entries["+12125550142"].priority == 10 and entries["+12125550142"].scope == "did:+442071234567"
    assert entries["anonymous"].kind is EntryKind.ANONYMOUS and entries["anonymous"].added_at == 123.0


BAD_ROWS = (
    GOOD
    + """blacklist,+44 20 7946 0958\x1b[2J,global,,,,,,,
greylist,+442079460958,global,,,,,,,
blacklist,+442079460959,queue:a b,,,,,,,
whitelist,+442079460959,global,tomorrow,,,,,,
blacklist,+442079460959,global,,,,,NOT_A_CAUSE,,
blacklist,+442079460959,global,,,,route,,,9999;hangup
dnc,+442079460960,global
blacklist,+44909*,global,,dup,,,,,
"""
)


def test_any_bad_row_rejects_the_file_and_reports_every_row() -> None:
    report = import_csv(io.StringIO(BAD_ROWS), "GB", now=0.0)
    assert report.accepted == 0 and report.entries == []
    lines = [line for line, _, _ in report.rejected]
    assert lines == [6, 7, 8, 9, 10, 11, 12, 13]
    reasons = [reason for _, _, reason in report.rejected]
    assert "control" in reasons[0]
    assert "list" in reasons[1] and "scope" in reasons[2] and "expires" in reasons[3]
    assert "cause" in reasons[4] and "target" in reasons[5] and "fields" in reasons[6]
    assert "line 2" in reasons[7]
    for _, raw, reason in report.rejected:
        assert raw.isprintable() and reason.isprintable()  # safe to print and log


def test_partial_applies_the_good_rows(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(BAD_ROWS, encoding="utf-8")
    with SqliteStore(tmp_path / "s.db") as store:
        report = import_lists(store, path, "GB", partial=True, now=0.0)
        assert report.applied and report.accepted == 4 and len(report.rejected) == 8
        assert len(store.load_list_entries()) == 4
        strict = import_lists(store, path, "GB", partial=False, now=0.0)
        assert not strict.applied and len(store.load_list_entries()) == 4


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "empty file"),
        ("list,number,expiry\n", "unknown column"),
        ("number\n+441\n", "missing column(s) list"),
        ("list,number,list\n", "repeated"),
        ('list,number\n"blacklist,+44\n', "unreadable"),
    ],
)
def test_broken_files_are_reported_not_raised(text: str, needle: str) -> None:
    report = import_csv(io.StringIO(text), "GB", now=0.0)
    assert report.accepted == 0 and needle in report.rejected[-1][2]


def test_unknown_region_raises() -> None:
    with pytest.raises(UnknownRegionError):
        import_csv(io.StringIO(GOOD), "ZZ")


def test_export_then_import_round_trips_through_the_store(tmp_path: Path) -> None:
    src = tmp_path / "a.db"
    with SqliteStore(src) as store:
        import_lists(store, io.StringIO(GOOD), "GB", now=77.5)
        out = tmp_path / "out.csv"
        assert export_lists(store, out) == 4
        original = sorted(store.load_list_entries(), key=lambda e: e.key)
    with SqliteStore(tmp_path / "b.db") as other:
        report = import_lists(other, out, "US", now=0.0)  # region does not matter: export is E.164
        assert report.ok
        assert sorted(other.load_list_entries(), key=lambda e: e.key) == original


reasons = st.text(max_size=40).filter(str.isprintable)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1_000_000, 9_999_999), reasons, st.none() | st.floats(0, 4e9)),
        max_size=15,
        unique_by=lambda t: t[0],
    )
)
def test_round_trip_preserves_arbitrary_printable_text(rows: list[tuple[int, str, float | None]]) -> None:
    entries = [
        Entry(list_name=ListName.DNC, number=f"+4420{n}", reason=r, expires_at=x, added_at=1.25) for n, r, x in rows
    ]
    buffer = io.StringIO()
    export_csv(entries, buffer)
    report = import_csv(io.StringIO(buffer.getvalue()), "GB", now=0.0)
    assert report.rejected == []
    assert sorted(report.entries, key=lambda e: e.key) == sorted(entries, key=lambda e: e.key)
