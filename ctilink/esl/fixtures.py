"""Loader for the recorded FreeSWITCH ESL fixtures (tests, benches, fake servers).

Rules:
- Read-only: the recordings are evidence of what a real switch sends; nothing here edits,
  normalises or "fixes" them. Bytes come back exactly as recorded.
- The directory is ``$CTILINK_ESL_FIXTURES`` if set, else ``../shared/fixtures/esl`` beside the checkout;
  :func:`available` says whether it is there, so tests can skip cleanly without it.

Theory of operation: each scenario has ``<name>.json.esl`` (a passive ``event json ALL``
listener's raw byte stream) and ``<name>.controller.jsonl`` (the controller's connection, one
``{"dir", "t", "data"}`` record per frame sent or received, subscribed with ``event plain ALL``).
:func:`plain_stream` concatenates the controller's received frames back into the byte stream it
read. This module knows nothing about parsing frames or events.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

__all__ = [
    "DEFAULT_DIR",
    "Record",
    "available",
    "controller_records",
    "fixtures_dir",
    "json_stream",
    "plain_stream",
    "scenarios",
]

# The checkout keeps ``shared/`` beside it (``<workspace>/main`` and ``<workspace>/shared``).
DEFAULT_DIR = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "esl"
_ENV = "CTILINK_ESL_FIXTURES"


@dataclass(frozen=True, slots=True)
class Record:
    """One line of a ``.controller.jsonl``: what the controller sent or received, and when."""

    dir: Literal["send", "recv", "close"]
    t: float
    data: bytes


def fixtures_dir() -> Path:
    """Where the recordings live."""
    return Path(os.environ.get(_ENV) or DEFAULT_DIR)


def available() -> bool:
    """True when the recordings can be read."""
    return (fixtures_dir() / "README.md").is_file()


def scenarios() -> list[str]:
    """Scenario names (those with both files), sorted."""
    root = fixtures_dir()
    names = {p.name[: -len(".json.esl")] for p in root.glob("*.json.esl")}
    return sorted(n for n in names if (root / f"{n}.controller.jsonl").is_file())


@lru_cache(maxsize=32)
def json_stream(scenario: str) -> bytes:
    """The raw bytes an ``event json ALL`` listener received in ``scenario``."""
    return (fixtures_dir() / f"{_checked(scenario)}.json.esl").read_bytes()


@lru_cache(maxsize=32)
def controller_records(scenario: str) -> tuple[Record, ...]:
    """Every record of the controller connection in ``scenario``, in order."""
    records = []
    path = fixtures_dir() / f"{_checked(scenario)}.controller.jsonl"
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            obj = json.loads(line)
            records.append(Record(obj["dir"], float(obj["t"]), obj["data"].encode("utf-8")))
    return tuple(records)


def plain_stream(scenario: str) -> bytes:
    """The bytes the controller (``event plain ALL``) received, frames concatenated in order."""
    return b"".join(r.data for r in controller_records(scenario) if r.dir == "recv")


def _checked(scenario: str) -> str:
    # Names come from tests and CLI flags; keep them to plain file stems.
    if not scenario or not scenario.replace("_", "").isalnum():
        raise ValueError(f"not a fixture scenario name: {scenario!r}")
    return scenario
