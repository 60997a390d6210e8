"""The FreeSWITCH files parse, and the dialplan hands ctilink only variables the engine reads."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "freeswitch_conf"
XML_FILES = sorted(CONF.rglob("*.xml"))

# What the engine reads from a parked call (ctilink/core/engine.py) and the IVR-result convention.
ENGINE_VARIABLES = {"ctilink_queue", "ctilink_priority"}
IVR_RESULT = re.compile(r"^ctilink_ivr_[a-z0-9_]+$")


def test_there_are_files() -> None:
    names = {p.name for p in XML_FILES}
    assert {"event_socket.conf.xml", "00_ctilink.xml", "agents.xml"} <= names


@pytest.mark.parametrize("path", XML_FILES, ids=lambda p: str(p.relative_to(CONF)))
def test_xml_parses(path: Path) -> None:
    ET.parse(path)


def test_event_socket_is_loopback_with_a_non_default_password_and_acl() -> None:
    root = ET.parse(CONF / "autoload_configs" / "event_socket.conf.xml").getroot()
    params = {p.get("name"): p.get("value") for p in root.iter("param")}
    assert params["listen-ip"] == "127.0.0.1"
    assert params["password"] != "ClueCon"
    assert params["apply-inbound-acl"] == "ctilink_esl"
    acl = ET.parse(CONF / "autoload_configs" / "ctilink_acl.conf.xml").getroot()
    assert acl.get("name") == "ctilink_esl" and acl.get("default") == "deny"


def test_dialplan_sets_only_variables_the_engine_reads_and_parks() -> None:
    engine_source = "".join(p.read_text() for p in sorted((ROOT / "ctilink" / "core").glob("*.py")))
    for var in ENGINE_VARIABLES:
        assert f'"{var}"' in engine_source, f"the engine no longer reads {var}"
    root = ET.parse(CONF / "dialplan" / "public" / "00_ctilink.xml").getroot()
    queues = 0
    for ext in root.iter("extension"):
        actions = [(a.get("application"), a.get("data") or "") for a in ext.iter("action")]
        set_vars = {data.split("=", 1)[0] for app, data in actions if app == "set"}
        set_vars |= {data.split()[-2] for app, data in actions if app == "play_and_get_digits"}
        ctilink_vars = {v for v in set_vars if v.startswith("ctilink_")}
        for var in ctilink_vars:
            assert var in ENGINE_VARIABLES or IVR_RESULT.match(var), f"{ext.get('name')}: {var} is read by nobody"
        if "ctilink_queue" in ctilink_vars:
            queues += 1
            assert actions[-1][0] == "park", f"{ext.get('name')} must end by parking the call for ctilink"
    assert queues >= 2


def test_the_overflow_target_exists_in_the_context_ctilink_transfers_to() -> None:
    from ctilink.core import EngineConfig

    context = EngineConfig().transfer_context
    files = sorted((CONF / "dialplan" / context).glob("*.xml"))
    assert files, f"no ctilink dialplan file for the {context!r} context"
    patterns = [
        cond.get("expression") or ""
        for path in files
        for cond in ET.parse(path).getroot().iter("condition")
        if cond.get("field") == "destination_number"
    ]
    assert any(re.fullmatch(p, "7999") for p in patterns), patterns
    # ... and not in public, where any outside caller could dial it directly.
    public = ET.parse(CONF / "dialplan" / "public" / "00_ctilink.xml").getroot()
    assert not any(re.fullmatch(c.get("expression") or "", "7999") for c in public.iter("condition"))


def test_agent_users_do_not_collide_with_the_stock_directory() -> None:
    root = ET.parse(CONF / "directory" / "default" / "agents.xml").getroot()
    ids = [int(user.get("id") or "0") for user in root.iter("user")]
    assert ids and not any(1000 <= i <= 1019 for i in ids), ids  # stock 1000.xml ... 1019.xml
