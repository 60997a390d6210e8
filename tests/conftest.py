"""Project-wide test settings."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from ctilink.esl import fixtures

# CI must be reproducible: the same examples on every run (and no example database carried over).
# Local runs keep exploring with fresh randomness and remember what failed.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_sessionstart(session: pytest.Session) -> None:
    # CI runs with ../shared beside the checkout: recorded-traffic tests must run there, not skip.
    if os.environ.get("CI") and not fixtures.available():
        raise pytest.UsageError(f"CI: the recorded ESL fixtures are missing at {fixtures.fixtures_dir()}")
