"""Project-wide test settings."""

from __future__ import annotations

import os

import pytest

from ctilink.esl import fixtures


def pytest_sessionstart(session: pytest.Session) -> None:
    # CI runs with ../shared beside the checkout: recorded-traffic tests must run there, not skip.
    if os.environ.get("CI") and not fixtures.available():
        raise pytest.UsageError(f"CI: the recorded ESL fixtures are missing at {fixtures.fixtures_dir()}")
