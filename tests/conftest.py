"""Project-wide test settings."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from ctilink.testing.recordings import Recordings

# The recorded FreeSWITCH 1.10.12 traffic the project ships (tests/fixtures/README.md).
RECORDINGS_DIR = Path(__file__).resolve().parent / "fixtures"

# CI must be reproducible: the same examples on every run (and no example database carried over).
# Local runs keep exploring with fresh randomness and remember what failed.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def recordings() -> Recordings:
    """The 13 call-centre scenarios (a controller with ``event plain ALL`` and a JSON listener)."""
    return Recordings(RECORDINGS_DIR / "esl")


@pytest.fixture(scope="session")
def ctilink_recordings() -> Recordings:
    """ctilink's own daemon connection to a real FreeSWITCH, in the situations where it failed."""
    return Recordings(RECORDINGS_DIR / "esl-ctilink")


@pytest.fixture(scope="session")
def redis_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """One real redis-server for the session's store tests (each test takes a fresh key prefix)."""
    from redis_servers import start_server, stop

    proc, port = start_server(tmp_path_factory.mktemp("redis"))
    yield port
    stop(proc)
