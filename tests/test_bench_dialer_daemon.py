"""The daemon-path pacing benchmark (bench/dialer_daemon.py) runs and reports sane figures.

Structure and sanity only: progressive is not asserted abandon-free, because on the real path the
connect deadline also covers the engine's offer to the agent (a phone that rings longer than the
deadline abandons the call even in progressive mode).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "dialer_daemon.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_dialer_daemon", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("policy", ["progressive", "ctilink"])
def test_a_short_shift_reports_every_figure_within_bounds(policy: str) -> None:
    result = _bench().simulate(n=2, policy=policy, seed=0, hours=0.1, p_human=0.3)
    for key in ("occupancy", "abandon_rate", "contacts_per_agent_hour", "abandon_rate_worst_hour"):
        assert key in result
    assert 0.0 <= result["occupancy"] <= 1.0
    assert 0.0 <= result["abandon_rate"] <= 1.0
    assert result["abandon_rate_worst_hour"] is None or 0.0 <= result["abandon_rate_worst_hour"] <= 1.0
    assert result["contacts_per_agent_hour"] >= 0.0
    assert result["dials"] > 0 and result["connected"] <= result["live_answers"]
    assert result["unsettled"] == 0 and result["switch_errors"] == 0
