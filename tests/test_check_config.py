"""`ctilink check-config` refuses what `ctilink run` would refuse or fail on, naming the field.

Every case writes a real TOML file and runs the command line on it (``main`` in-process for
check-config; a subprocess for ``run``, which monkey-patches the process it runs in).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ctilink.cli import main

ROOT = Path(__file__).resolve().parents[1]

NODE = """
[[nodes]]
name = "fs"
password = "esl-password"
"""
QUEUE = """
[[queues]]
name = "support"
"""
AGENTS = """
[[agents]]
id = "1001"
endpoints = ["user/1001"]

[[agents]]
id = "1002"
endpoints = ["user/1002"]
"""
TOKEN = "admin-token-0123456789"
BASE = NODE + QUEUE + AGENTS


def _check(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "ctilink.toml"
    path.write_text(text)
    code = main(["check-config", str(path)])
    return code, capsys.readouterr().err


def _refused(tmp_path: Path, text: str, field: str, capsys: pytest.CaptureFixture[str], *words: str) -> str:
    """Exit 2 with ``field`` named in ConfigError's format (``  path: message``)."""
    code, err = _check(tmp_path, text, capsys)
    assert code == 2, err
    assert "invalid configuration" in err, err
    lines = [line for line in err.splitlines() if line.startswith(f"  {field}: ")]
    assert lines, f"{field} not named in:\n{err}"
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def _run(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "run.toml"
    path.write_text(text + f'\n[store]\npath = "{tmp_path / "ctilink.db"}"\n')
    return subprocess.run(
        [sys.executable, "-m", "ctilink.cli", "run", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_a_valid_configuration_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _check(tmp_path, BASE, capsys)
    assert code == 0, err
    assert "OK" in err


# -- the engine is built as `ctilink run` builds it -------------------------------------------------


def test_a_strategy_the_engine_does_not_know(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = BASE + '\n[[queues]]\nname = "sales"\nstrategy = "fastest"\n'
    _refused(tmp_path, text, "queues[1].strategy", capsys, "fastest")


def test_run_refuses_the_unknown_strategy_the_same_way(tmp_path: Path) -> None:
    res = _run(tmp_path, BASE + '\n[[queues]]\nname = "sales"\nstrategy = "fastest"\n')
    assert res.returncode == 2, res.stderr
    assert "  queues[1].strategy: " in res.stderr
    assert not (tmp_path / "ctilink.db").exists()  # refused before the store is opened


def test_a_configuration_without_nodes_cannot_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _refused(tmp_path, QUEUE + AGENTS, "nodes", capsys, "at least one")


# -- every configured value is rendered once through the real renderer -----------------------------


@pytest.mark.parametrize(
    ("text", "field", "word"),
    [
        (
            NODE + '[[queues]]\nname = "support"\nhold_music = "local_stream://{moh}"\n' + AGENTS,
            "queues[0].hold_music",
            "Playback.path",
        ),
        (
            NODE + QUEUE + AGENTS + '\n[[agents]]\nid = "1003"\nendpoints = ["user/1003", "user/1003:_:user/1900"]\n',
            "agents[2].endpoints[1]",
            "Originate.dial_string",
        ),
        (
            NODE + QUEUE + '[[agents]]\nid = "1001"\nendpoints = ["user/1001"]\n'
            '[[agents]]\nid = "1002"\nendpoints = ["user/1002=x"]\n',
            "agents[1].endpoints[0]",
            "dial string",
        ),
        (
            NODE
            + '[[queues]]\nname = "support"\n[queues.announcement]\npath = "/s/p}{position}.wav"\nevery_s = 30\n'
            + AGENTS,
            "queues[0].announcement.path",
            "}",
        ),
        (
            NODE
            + '[[queues]]\nname = "support"\n[queues.announcement]\npath = "../pos-{position}.wav"\nevery_s = 30\n'
            + AGENTS,
            "queues[0].announcement.path",
            "sound path",
        ),
        (
            NODE + '[[queues]]\nname = "support"\noverflow = { kind = "hangup", cause = "NORMAL_CLEARNG" }\n' + AGENTS,
            "queues[0].overflow.cause",
            "hangup cause",
        ),
        (
            NODE
            + '[[queues]]\nname = "support"\noverflow = { kind = "hangup", announcement = "/s/{x}.wav" }\n'
            + AGENTS,
            "queues[0].overflow.announcement",
            "Playback.path",
        ),
        (
            NODE
            + '[[queues]]\nname = "support"\noverflow = { kind = "extension", target = "7999", context = "a+b" }\n'
            + AGENTS,
            "queues[0].overflow.context",
            "Transfer.context",
        ),
        (BASE + '[engine]\ntransfer_context = "voice@mail"\n', "engine.transfer_context", "Transfer.context"),
        (
            BASE + '[engine]\ndefault_route = { kind = "hangup", cause = "GOODBYE" }\n',
            "engine.default_route.cause",
            "hangup cause",
        ),
        (BASE + '[calls]\ndial_template = "sofia/gateway/x/{number}|user/1900"\n', "calls.dial_template", "|"),
        (
            BASE + '[[campaigns]]\nname = "spring"\nqueue = "support"\ndial_string = "sofia/gateway/gw/9{number}"\n'
            'abandon_announcement = "/sounds/sorry.wav"\n',
            "campaigns[0].dial_string",
            "Originate.dial_string",
        ),
        (
            BASE + '[[campaigns]]\nname = "spring"\nqueue = "support"\nabandon_announcement = "/s/${x}.wav"\n',
            "campaigns[0].abandon_announcement",
            "Playback.path",
        ),
        (
            BASE + '[[campaigns]]\nname = "spring"\nqueue = "support"\nabandon_announcement = "/s/a.wav"\n'
            'machine_action = "message"\nmachine_message = "msg/.left.wav"\n',
            "campaigns[0].machine_message",
            "Playback.path",
        ),
    ],
)
def test_a_value_freeswitch_would_refuse_is_refused_here(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, field: str, word: str
) -> None:
    _refused(tmp_path, text, field, capsys, word)


# -- secrets ------------------------------------------------------------------------------------------


def test_an_empty_esl_password(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = '[[nodes]]\nname = "fs"\npassword = ""\n' + QUEUE + AGENTS
    _refused(tmp_path, text, "nodes[0].password", capsys, "empty")


def test_an_esl_password_from_an_empty_env_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTILINK_TEST_EMPTY", "")
    text = '[[nodes]]\nname = "fs"\npassword = "env:CTILINK_TEST_EMPTY"\n' + QUEUE + AGENTS
    _refused(tmp_path, text, "nodes[0].password", capsys, "CTILINK_TEST_EMPTY", "empty")


def test_an_esl_password_that_would_end_the_auth_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = '[[nodes]]\nname = "fs"\npassword = "pw\\napi shutdown"\n' + QUEUE + AGENTS
    _refused(tmp_path, text, "nodes[0].password", capsys, "control")


WEBHOOK = '\n[[webhooks.endpoints]]\nname = "crm"\nurl = "https://crm.example/hook"\n'


def test_an_empty_webhook_secret(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _refused(tmp_path, BASE + WEBHOOK + 'secret = "   "\n', "webhooks.endpoints[0].secret", capsys, "empty")


def test_a_webhook_secret_from_an_empty_env_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTILINK_TEST_EMPTY", "")
    text = BASE + WEBHOOK + 'secret = "${CTILINK_TEST_EMPTY}"\n'
    _refused(tmp_path, text, "webhooks.endpoints[0].secret", capsys, "CTILINK_TEST_EMPTY")


def test_a_blank_token(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = BASE + f'[api]\ntokens = [{{ name = "ops", token = "{" " * 20}", role = "admin" }}]\n'
    _refused(tmp_path, text, "api.tokens[0].token", capsys, "empty")


def test_a_token_from_an_empty_env_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTILINK_TEST_EMPTY", "")
    text = BASE + '[api]\ntokens = [{ name = "ops", token = "env:CTILINK_TEST_EMPTY", role = "admin" }]\n'
    _refused(tmp_path, text, "api.tokens[0].token", capsys, "CTILINK_TEST_EMPTY")


def test_the_same_token_twice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (
        BASE + "[api]\ntokens = [\n"
        f'  {{ name = "ops", token = "{TOKEN}", role = "admin" }},\n'
        f'  {{ name = "desk", token = "{TOKEN}", role = "agent", agent_id = "1001" }},\n'
        "]\n"
    )
    line = _refused(tmp_path, text, "api.tokens[1].token", capsys, "api.tokens[0]")
    assert TOKEN not in line  # the message never shows the secret


def test_the_same_token_twice_with_the_same_role(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (
        BASE + "[api]\ntokens = [\n"
        f'  {{ name = "ops", token = "{TOKEN}", role = "admin" }},\n'
        f'  {{ name = "ops2", token = "{TOKEN}", role = "admin" }},\n'
        "]\n"
    )
    _refused(tmp_path, text, "api.tokens[1].token", capsys, "api.tokens[0]")


def test_an_agent_token_for_an_unknown_agent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = BASE + f'[api]\ntokens = [{{ name = "desk", token = "{TOKEN}", role = "agent", agent_id = "1009" }}]\n'
    _refused(tmp_path, text, "api.tokens[0].agent_id", capsys, "1009", "[[agents]]")


# -- webhook destinations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "entry", ["10.0.0.0/33", "10.0.0/8", "10.1.2.3/8", "300.1.1.1", "crm.example:443", "", "*.example"]
)
def test_a_malformed_allow_hosts_entry(tmp_path: Path, capsys: pytest.CaptureFixture[str], entry: str) -> None:
    text = BASE + WEBHOOK + f'secret = "s3cret"\nallow_hosts = ["crm.example", "{entry}"]\n'
    _refused(tmp_path, text, "webhooks.endpoints[0].allow_hosts[1]", capsys)


def test_good_allow_hosts_entries_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (
        BASE
        + WEBHOOK
        + 'secret = "s3cret"\nallow_hosts = ["crm.example", "10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]\n'
    )
    code, err = _check(tmp_path, text, capsys)
    assert code == 0, err


def test_two_webhook_endpoints_with_one_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = BASE + WEBHOOK + 'secret = "s3cret"\n' + WEBHOOK + 'secret = "s3cret"\n'
    _refused(tmp_path, text, "webhooks.endpoints[1].name", capsys, "duplicate")


def test_two_nodes_with_one_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _refused(tmp_path, NODE + BASE, "nodes[1].name", capsys, "duplicate")


# -- the file itself ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "\n  \n", "# only a comment\n"])
def test_an_empty_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
    _refused(tmp_path, text, "(file)", capsys, "empty")


# -- an API open to the network -------------------------------------------------------------------------------


@pytest.mark.parametrize("listen", ["0.0.0.0:8080", "[::]:8080", "192.0.2.10:8080", "ctilink.example:8080"])
def test_listening_on_the_network_without_tokens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], listen: str
) -> None:
    line = _refused(tmp_path, BASE + f'[http]\nlisten = "{listen}"\n', "http.listen", capsys)
    assert "api.allow_unauthenticated_network" in line


def test_run_refuses_listening_on_the_network_without_tokens(tmp_path: Path) -> None:
    res = _run(tmp_path, BASE + '[http]\nlisten = "0.0.0.0:0"\n')
    assert res.returncode == 2, res.stderr
    assert "  http.listen: " in res.stderr


@pytest.mark.parametrize(
    "extra",
    [
        '[http]\nlisten = "0.0.0.0:8080"\n[api]\nallow_unauthenticated_network = true\n',
        f'[http]\nlisten = "0.0.0.0:8080"\n[api]\ntokens = [{{ name = "ops", token = "{TOKEN}", role = "admin" }}]\n',
        '[http]\nlisten = "0.0.0.0:8080"\nenabled = false\n',
        '[http]\nlisten = "127.0.0.2:8080"\n',
        '[http]\nlisten = "[::1]:8080"\n',
        '[http]\nlisten = "localhost:8080"\n',
    ],
)
def test_listening_allowed(tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str) -> None:
    code, err = _check(tmp_path, BASE + extra, capsys)
    assert code == 0, err


# -- the shipped configurations --------------------------------------------------------------------------------

EXAMPLE = ROOT / "examples" / "ctilink.toml"


def test_the_example_passes_with_its_campaign_uncommented(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTILINK_ESL_PASSWORD", "s3cret-from-env")
    text = EXAMPLE.read_text()
    code, err = _check(tmp_path, text, capsys)
    assert code == 0, err
    head, sep, tail = text.partition("# [[campaigns]]")
    uncommented = "\n".join(line[2:] if line.startswith("# ") else line for line in (sep + tail).splitlines())
    assert "[[campaigns]]" in uncommented and "abandon_announcement" in uncommented
    code, err = _check(tmp_path, head + uncommented, capsys)
    assert code == 0, err


def test_the_demo_refuses_to_open_its_views_to_the_network() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "ctilink.cli", "demo", "--http", "0.0.0.0:0", "--duration", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert res.returncode == 2, res.stderr
    assert "  http.listen: " in res.stderr


def test_a_campaign_with_the_default_abandon_announcement_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The default is a stock sound under the switch's sound prefix, which FreeSWITCH plays."""
    code, out = _check(tmp_path, BASE + '[[campaigns]]\nname = "spring"\nqueue = "support"\n', capsys)
    assert code == 0, out
