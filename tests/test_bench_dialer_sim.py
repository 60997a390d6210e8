"""The pacing benchmark (bench/dialer_sim.py) runs both its modes on one model and reports sane figures.

Structure and sanity only: progressive is not asserted abandon-free, because on the real path the
connect deadline also covers the engine's offer to the agent (a phone that rings longer than the
deadline abandons the call even in progressive mode).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _load(name: str) -> ModuleType:
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _sane(result: dict) -> None:
    for key in ("occupancy", "abandon_rate", "contacts_per_agent_hour", "abandon_rate_worst_hour"):
        assert key in result
    assert 0.0 < result["occupancy"] <= 1.0
    assert 0.0 <= result["abandon_rate"] <= 1.0
    assert result["abandon_rate_worst_hour"] is None or 0.0 <= result["abandon_rate_worst_hour"] <= 1.0
    assert result["contacts_per_agent_hour"] >= 0.0
    assert result["dials"] > 0 and result["abandoned"] <= result["live_answers"]
    assert result["unsettled"] == 0 and result["switch_errors"] == 0


@pytest.mark.parametrize("policy", ["progressive", "ctilink", "lookahead:1.5"])
def test_a_short_shift_on_the_daemon_path_reports_every_figure_within_bounds(policy: str) -> None:
    _sane(_load("dialer_sim").simulate(n=2, policy=policy, seed=0, hours=0.2))


@pytest.mark.parametrize("policy", ["progressive", "ctilink", "power:2.0"])
def test_the_loop_mode_reports_the_same_figures_within_bounds(policy: str) -> None:
    model = _load("dialer_model").Model()
    _sane(_load("dialer_loop").simulate(2, policy, 0, 0.2, model))


def test_machines_the_agents_mark_leave_the_live_answers_on_the_daemon_path() -> None:
    # AMD misses every machine here, so machines reach agents; each is marked and corrected.
    bench = _load("dialer_sim")
    model = bench.Model.basic(amd_miss=1.0)
    result = bench.simulate(n=2, policy="progressive", seed=1, hours=0.3, model=model)
    assert result["machines_marked"] > 0
    assert result["live_answers"] + result["machines_marked"] <= result["dials"]


def test_the_final_line_has_the_issue_shape_and_tuned_policies(capsys: pytest.CaptureFixture[str]) -> None:
    bench = _load("dialer_sim")
    args = ["--mode", "loop", "--seeds", "1", "--hours", "0.3", "--agents", "3", "--p-human", "0.3"]
    assert bench.main([*args, "--policies", "progressive", "power", "ctilink"]) == 0
    results = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["results"]
    keys = {
        "n",
        "policy",
        "p_human",
        "hours",
        "occupancy",
        "abandon_rate",
        "abandon_rate_max_seed",
        "abandon_rate_worst_hour",
        "contacts_per_agent_hour",
    }
    assert all(set(r) == keys for r in results)
    policies = {r["policy"] for r in results}
    assert {"progressive", "ctilink"} <= policies
    tuned = [p for p in policies if p.startswith("power_tuned(")]
    assert len(tuned) <= 1 and not any(p.startswith("power:") for p in policies)
