"""The daemon's TOML configuration and `ctilink check-config`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ctilink.config import ConfigError, load_config, masked_dump, parse_config

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "ctilink.toml"


def _paths(exc: ConfigError) -> list[str]:
    return [path for path, _ in exc.errors]


def test_example_config_is_valid_and_secret_resolved_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CTILINK_ESL_PASSWORD", "s3cret-from-env")
    config = load_config(EXAMPLE)
    assert config.nodes[0].password.get_secret_value() == "s3cret-from-env"
    assert [q.name for q in config.queues] == ["support", "sales"]
    dumped = masked_dump(config)
    assert "s3cret-from-env" not in repr(dumped)
    engine_config = config.engine_config()
    assert engine_config.max_no_answer == 3


def test_missing_env_secret_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CTILINK_ESL_PASSWORD", raising=False)
    with pytest.raises(ConfigError) as info:
        load_config(EXAMPLE)
    assert (
        "nodes[0].password",
        "Value error, environment variable CTILINK_ESL_PASSWORD is not set",
    ) in info.value.errors


def test_errors_name_the_path_and_unknown_keys_are_errors() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(
            {
                "queues": [{"name": "a"}, {"name": "b"}, {"name": "c", "strategy": "no such; strategy"}],
                "metrics": {"listen": "nowhere"},
                "http": {"lisen": "127.0.0.1:1"},
            }
        )
    paths = _paths(info.value)
    assert "queues[2].strategy" in paths
    assert "metrics.listen" in paths
    assert "http.lisen" in paths
    assert "unknown key" in dict(info.value.errors)["http.lisen"]


def test_engine_section_is_checked_by_the_engine_models() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"queues": [{"name": "q"}], "engine": {"busy_delay_s": -1, "busy_dealy_s": 3}})
    assert set(_paths(info.value)) == {"engine.busy_delay_s", "engine.busy_dealy_s"}


def test_cross_references_are_checked() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"queues": [{"name": "q", "escalation": [{"after_s": 5, "widen_to_queues": ["nope"]}]}]})
    assert info.value.errors, "an escalation step widening to an unknown queue must be refused"


def _campaign(**kw: object) -> dict[str, object]:
    return {"name": "spring", "queue": "q", "caller_id_number": "442070000000", **kw}


def test_a_campaigns_machine_disposition_is_a_code_agents_can_set() -> None:
    # Without it an agent could never say a connected call reached a machine, and the campaign's
    # legal abandon rate (live answers only) could not be corrected.
    config = parse_config(
        {"queues": [{"name": "q"}], "engine": {"disposition_codes": ["resolved"]}, "campaigns": [_campaign()]}
    )
    assert config.engine_config().disposition_codes == ["resolved", "machine"]
    config = parse_config({"queues": [{"name": "q"}], "campaigns": [_campaign(machine_dispositions=["vm", "fax"])]})
    assert config.engine_config().disposition_codes == ["vm", "fax"]
    with pytest.raises(ConfigError) as info:
        parse_config({"queues": [{"name": "q"}], "campaigns": [_campaign(machine_dispositions=["voice mail"])]})
    assert _paths(info.value) == ["campaigns[0].machine_dispositions[0]"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ctilink.cli", *args], capture_output=True, text=True, timeout=60, cwd=ROOT
    )


def test_check_config_cli_ok_and_error(tmp_path: Path) -> None:
    ok = _cli("check-config", str(EXAMPLE.with_name("ctilink.toml")))
    # The example reads its password from the environment: without it the CLI must say which field.
    assert ok.returncode == 2 and "nodes[0].password" in ok.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('[[queues]]\nname = "q"\nring_timeout_s = "soon"\n')
    res = _cli("check-config", str(bad))
    assert res.returncode == 2
    assert "queues[0].ring_timeout_s" in res.stderr
    syntax = tmp_path / "syntax.toml"
    syntax.write_text("[[queues]\n")
    res = _cli("check-config", str(syntax))
    assert res.returncode == 2 and "TOML syntax" in res.stderr
