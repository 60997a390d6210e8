"""Reader for recorded FreeSWITCH event-socket traffic (tests, benchmarks, the fake switch).

Rules:
- Read-only: a recording is evidence of what a real switch sent; nothing here edits, normalises
  or "fixes" it. Bytes come back exactly as recorded.
- The folder is always passed in: this package ships no recordings and never guesses where some
  might be. The project's own set lives in ``tests/fixtures/``.
- Files may be stored compressed (``.xz`` or ``.gz``) or plain; the reader takes whichever exists.

Theory of operation: a scenario has ``<name>.controller.jsonl`` (the controller's connection, one
``{"dir", "t", "data"}`` record per frame sent or received) and, in the call-centre set,
``<name>.json.esl`` (a passive ``event json ALL`` listener's raw byte stream).
:meth:`Recordings.plain_stream` joins the controller's received frames back into the byte stream
it read. This module knows nothing about parsing frames or events.
"""

from __future__ import annotations

import gzip
import json
import lzma
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = ["Record", "Recordings"]

_SUFFIXES = (".xz", ".gz", "")


@dataclass(frozen=True, slots=True)
class Record:
    """One line of a ``.controller.jsonl``: what the controller sent or received, and when."""

    dir: Literal["send", "recv", "close"]
    t: float
    data: bytes


@dataclass
class Recordings:
    """One folder of recordings, read lazily and cached per file."""

    root: Path
    _cache: dict[str, bytes] = field(default_factory=dict, repr=False)

    def scenarios(self) -> list[str]:
        """Scenario names that have a controller recording, sorted (``.2`` reconnects included)."""
        names = set()
        for path in self.root.iterdir():
            name = path.name
            for suffix in _SUFFIXES:
                stem = ".controller.jsonl" + suffix
                if name.endswith(stem):
                    names.add(name[: -len(stem)])
                    break
        return sorted(names)

    def read(self, filename: str) -> bytes:
        """The bytes of ``filename`` in this folder, decompressed when stored compressed."""
        cached = self._cache.get(filename)
        if cached is not None:
            return cached
        _checked(filename)
        for suffix in _SUFFIXES:
            path = self.root / (filename + suffix)
            if path.is_file():
                raw = path.read_bytes()
                data = lzma.decompress(raw) if suffix == ".xz" else gzip.decompress(raw) if suffix == ".gz" else raw
                self._cache[filename] = data
                return data
        raise FileNotFoundError(f"no recording {filename!r} in {self.root}")

    def json_stream(self, scenario: str) -> bytes:
        """The raw bytes an ``event json ALL`` listener received in ``scenario``."""
        return self.read(f"{scenario}.json.esl")

    def controller_records(self, scenario: str) -> tuple[Record, ...]:
        """Every record of the controller connection in ``scenario``, in order."""
        records = []
        for line in self.read(f"{scenario}.controller.jsonl").decode("utf-8").splitlines():
            if line.strip():
                obj = json.loads(line)
                records.append(Record(obj["dir"], float(obj["t"]), obj["data"].encode("utf-8")))
        return tuple(records)

    def plain_stream(self, scenario: str) -> bytes:
        """The bytes the controller received, frames joined in order."""
        return b"".join(r.data for r in self.controller_records(scenario) if r.dir == "recv")


def _checked(filename: str) -> str:
    # Names come from tests and command-line flags; keep them to plain file names in the folder.
    stem = filename.replace("_", "").replace(".", "").replace("-", "")
    if not stem.isalnum() or filename.startswith(".") or "/" in filename:
        raise ValueError(f"not a recording name: {filename!r}")
    return filename
