"""Every example runs: against the simulated switch or the fake ESL server."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "examples" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_engine_quickstart_renders_the_inbound_flow() -> None:
    lines = _load("engine_quickstart").main()
    assert [line.split()[0] for line in lines] == ["uuid_setvar", "uuid_answer", "uuid_broadcast", "originate"]
    assert "user/1001 &park()" in lines[-1] and "ctilink_agent_id=1001" in lines[-1]


def test_custom_strategy_prefers_juniors() -> None:
    summary = _load("custom_strategy").main(hours=1.0)
    by_agent = summary["answered_by_agent"]
    assert summary["answered"] > 0
    # Agents 1001/1002 (support 3, 4) are juniors and are tried first; 1006 (support 8) last.
    assert by_agent.get("1001", 0) > by_agent.get("1006", 0)


def test_print_events_against_the_fake_switch() -> None:
    events = _load("print_events").main(["--fake"])
    names = [type(e).__name__ for e in events]
    assert "ChannelParked" in names and "ChannelBridged" in names and "ChannelHungUp" in names


def test_preview_campaign_dials_only_what_the_agent_accepts() -> None:
    result = _load("preview_campaign").main(contacts=6)
    assert [d.split()[:2] for d in result["decisions"]] == [
        ["accept", "r1"],
        ["accept", "r2"],
        ["skip", "r3"],
        ["accept", "r4"],
        ["accept", "r5"],
        ["skip", "r6"],
    ]
    outcomes = result["outcomes"]
    assert outcomes["r3"] == outcomes["r6"] == "skipped"
    assert {outcomes[c] for c in ("r1", "r2", "r4", "r5")} <= {"connected", "busy"}
    assert result["connected"] == sum(1 for c in ("r1", "r2", "r4", "r5") if outcomes[c] == "connected") >= 1


def test_screenpop_crm_pops_known_and_new_customers() -> None:
    pops = _load("screenpop_crm").main(pops_wanted=4)
    by_number = {(p.customer_number, p.phase): p for p in pops}
    known = by_number[("+15551240001", "offered")]
    assert known.crm_status == "found" and known.customer["name"] == "Kim Example"
    assert ("+15551240001", "answered") in by_number
    new = by_number[("+15551249999", "offered")]
    assert new.crm_status == "new" and new.new_customer and "name" in new.fields_to_fill
