"""No value can make FreeSWITCH dial a leg ctilink did not ask for.

FreeSWITCH cuts an originate's call URL on ``:_:`` before it reads the ``{}`` block, and the dial
string on ``|`` and ``,``; ``^^X`` changes a block's delimiter. Every rendered originate is read
back by an independent model of FreeSWITCH's own parsing (``tests/support/freeswitch_originate.py``,
written from ``switch_ivr_originate.c``, ``switch_event.c`` and ``switch_utils.c``): it must dial
exactly the one leg asked for, with exactly the variables asked for, or the renderer must refuse
the value naming its field. The ways in (configuration, campaign CSV import) refuse such values
with the field named.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.freeswitch_originate import dial, originate_api

from ctilink.commands import Eavesdrop, Originate, UnsafeValueError
from ctilink.config import ConfigError, parse_config
from ctilink.dialer.contacts import import_campaign_contacts
from ctilink.esl.command_parse import CommandParseError, parse_originate_args
from ctilink.esl.render import render
from ctilink.store import SqliteStore

U1 = "fb7ceee2-7c9b-4407-b9f5-172452f8ce39"
U2 = "d902c904-7a3b-413f-8ed0-660586b1d96f"
JOB = "ac7edb4a-28ff-4bbe-9621-1ca268b494c5"
FRAUD = "x:_:sofia/gateway/evil/19005550100"

PIECES = [":_:", ":", "_", "|", ",", "^^", "^^:", "^^|", "=", "'", '"', "\\", " ", "\\s", "\\,", "${x}", "&", "%", "é"]
hostile = st.lists(st.sampled_from(PIECES) | st.text(max_size=4), min_size=1, max_size=8).map("".join)


def _read(command: Originate | Eavesdrop) -> tuple[str, dict[str, str], str]:
    """(the one target, its variables, the extension) FreeSWITCH would dial, or fail."""
    parsed = originate_api(render(command).text)
    assert len(parsed.legs) == 1, f"FreeSWITCH would dial {[leg.target for leg in parsed.legs]}"
    (leg,) = parsed.legs
    return leg.target, leg.variables, parsed.exten


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(value=hostile, name=hostile)
def test_no_originate_value_adds_a_leg_or_changes_a_variable(value: str, name: str) -> None:
    command = Originate(
        uuid=U1,
        dial_string="sofia/gateway/carrier/15550100",
        job_uuid=JOB,
        variables={"ctilink_contact_id": value},
        caller_id_name=name,
    )
    try:
        target, variables, exten = _read(command)
    except UnsafeValueError as exc:
        assert exc.field in ("Originate.variables['ctilink_contact_id']", "Originate.caller_id_name")
        return
    assert target == "sofia/gateway/carrier/15550100" and exten == "&park()"
    assert variables["ctilink_contact_id"] == value
    assert variables["origination_caller_id_name"] == name
    assert variables["origination_uuid"] == U1


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(value=hostile)
def test_no_eavesdrop_value_adds_a_leg(value: str) -> None:
    command = Eavesdrop(
        uuid=U1,
        job_uuid=JOB,
        target_uuid=U2,
        supervisor_dial_string="user/sup1",
        mode="listen",
        variables={"ctilink_note": value},
    )
    try:
        target, variables, _ = _read(command)
    except UnsafeValueError as exc:
        assert exc.field == "Eavesdrop.variables['ctilink_note']"
        return
    assert target == "user/sup1" and variables["ctilink_note"] == value


def test_the_model_reads_the_spreadsheet_attack_as_freeswitch_did() -> None:
    """The call URL the switch received for a CSV row whose contact id held ':_:' (before the fix):
    the evil gateway is dialled, with none of ctilink's variables."""
    line = f"{{origination_uuid={U1},ctilink_contact_id={FRAUD},originate_timeout=30}}sofia/gateway/carrier/15550100"
    legs = dial(line)
    assert legs[0].target == "sofia/gateway/evil/19005550100"
    assert "origination_uuid" not in legs[0].variables and "ctilink_contact_id" not in legs[0].variables


def test_the_renderer_refuses_the_enterprise_delimiter_naming_the_field() -> None:
    for field, command in [
        (
            "Originate.variables['ctilink_contact_id']",
            Originate(uuid=U1, dial_string="user/1001", job_uuid=JOB, variables={"ctilink_contact_id": FRAUD}),
        ),
        ("Originate.caller_id_name", Originate(uuid=U1, dial_string="user/1001", job_uuid=JOB, caller_id_name="a:_:b")),
        (
            "Eavesdrop.variables['v']",
            Eavesdrop(
                uuid=U1,
                job_uuid=JOB,
                target_uuid=U2,
                supervisor_dial_string="user/s",
                mode="listen",
                variables={"v": ":_:"},
            ),
        ),
    ]:
        with pytest.raises(UnsafeValueError) as err:
            render(command)
        assert err.value.field == field and ":_:" in str(err.value)


def test_the_fake_switch_parser_sees_the_delimiter_anywhere_in_the_call_url() -> None:
    with pytest.raises(CommandParseError, match=":_:"):
        parse_originate_args(f"{{ctilink_contact_id={FRAUD}}}user/1001 &park()")


def test_a_csv_row_with_the_delimiter_is_refused_at_import_naming_the_field(tmp_path: Path) -> None:
    csv = tmp_path / "contacts.csv"
    csv.write_text(f"contact_id,number\n{FRAUD},+12025550143\ngood-1,+12025550144\n")
    store = SqliteStore(str(tmp_path / "ctilink.db"))
    try:
        mapping = {"contact_id": "contact_id", "number": "number"}
        report = import_campaign_contacts(store, "spring", csv, mapping, "US", partial=False)
        assert not report.committed and store.get_contacts("spring") == []  # nothing changed
        ((line, reason),) = [(r[0], r[1]) for r in report.rejected]
        assert line == 2 and reason.startswith("contact_id:") and ":_:" in reason
        partial = import_campaign_contacts(store, "spring", csv, mapping, "US", partial=True)
        assert [c.contact_id for c in store.get_contacts("spring")] == ["good-1"] and partial.imported == 1
    finally:
        store.close()


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"calls": {"caller_id_name": "a:_:sofia/gateway/evil/1900"}}, "calls.caller_id_name"),
        ({"calls": {"dial_template": "sofia/gateway/x/{number}|sofia/gateway/evil/1900"}}, "calls.dial_template"),
        ({"calls": {"dial_template": "sofia/gateway/x:_:user/{number}"}}, "calls.dial_template"),
    ],
)
def test_configuration_refuses_values_that_would_dial_another_leg(config: dict, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(config)
    assert field in str(err.value)


def test_a_campaign_refuses_such_a_caller_name_or_dial_string() -> None:
    base = {"queues": [{"name": "sales"}], "agents": []}
    for key, value in [("caller_id_name", "a:_:b"), ("dial_string", "sofia/gateway/g:_:user/{number}")]:
        with pytest.raises(ConfigError) as err:
            parse_config({**base, "campaigns": [{"name": "spring", "queue": "sales", key: value}]})
        assert key in str(err.value) and "campaigns" in str(err.value)
