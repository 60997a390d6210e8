"""The public API: everything in ``ctilink.__all__`` resolves, and the documented example runs."""

from __future__ import annotations

import doctest
import subprocess
import sys

import ctilink


def test_every_public_name_resolves() -> None:
    missing = [name for name in ctilink.__all__ if getattr(ctilink, name, None) is None]
    assert missing == []


def test_the_module_example_runs() -> None:
    result = doctest.testmod(ctilink, raise_on_error=False)
    assert result.attempted >= 5 and result.failed == 0


def test_import_stays_light() -> None:
    # The engine is usable without the network stack: importing ctilink loads no HTTP framework.
    code = "import sys, ctilink; print('falcon' in sys.modules, 'ctilink.esl.connection' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
