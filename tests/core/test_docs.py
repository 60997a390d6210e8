"""docs/engine.md draws its state diagrams from the transition tables."""

from __future__ import annotations

from pathlib import Path

from ctilink.core.diagrams import all_diagrams

DOC = Path(__file__).resolve().parents[2] / "docs" / "engine.md"


def test_diagrams_in_docs_match_tables() -> None:
    text = DOC.read_text()
    for name, diagram in all_diagrams().items():
        assert diagram in text, f"the {name} diagram in docs/engine.md is out of date"
