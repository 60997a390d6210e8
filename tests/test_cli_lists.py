"""`ctilink lists import|export`: validated bulk changes, nothing applied from a bad file unless asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctilink.cli import main
from ctilink.store import SqliteStore

HEADER = "list,number,scope,expires,reason,added_by\n"


def _numbers(db: Path) -> set[str]:
    store = SqliteStore(str(db))
    try:
        return {e.number for e in store.load_list_entries()}
    finally:
        store.close()


def test_bad_row_rejects_the_whole_file_unless_partial(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "ctilink.db"
    csv = tmp_path / "in.csv"
    csv.write_text(
        HEADER + "blacklist,+15557770001,global,,spam,ops\n"
        "blacklist,not-a-number\\n,global,,x,ops\n"
        "dnc,(555) 777-0003,global,,asked,ops\n"
    )
    assert main(["lists", "import", str(csv), "--db", str(db)]) == 2
    out = capsys.readouterr()
    assert "in.csv:3: rejected" in out.err and "NOT applied" in out.out
    assert _numbers(db) == set()
    assert main(["lists", "import", str(csv), "--db", str(db), "--partial"]) == 0
    assert _numbers(db) == {"+15557770001", "+15557770003"}


def test_export_round_trips(tmp_path: Path) -> None:
    db = tmp_path / "ctilink.db"
    csv = tmp_path / "in.csv"
    csv.write_text(HEADER + "whitelist,+442079460000,queue:support,,vip,ops\nblacklist,+44909*,global,,premium,ops\n")
    assert main(["lists", "import", str(csv), "--db", str(db), "--region", "GB"]) == 0
    out = tmp_path / "out.csv"
    assert main(["lists", "export", str(out), "--db", str(db)]) == 0
    db2 = tmp_path / "again.db"
    assert main(["lists", "import", str(out), "--db", str(db2)]) == 0
    assert _numbers(db) == _numbers(db2) == {"+442079460000", "+44909"}
