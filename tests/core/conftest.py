"""Fixtures for the core engine tests (the helper itself lives in core_switch.py)."""

from __future__ import annotations

import pytest
from core_switch import Switch, make_switch


@pytest.fixture
def switch() -> Switch:
    """One queue ``support`` (wrap-up 5 s), one logged-in agent ``1001``, dispositions sale/no-sale."""
    sw = make_switch(disposition_codes=["sale", "no-sale"])
    sw.login("1001")
    return sw
