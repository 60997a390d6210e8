"""Example tests for command rendering: the recorded controller traffic, the wire format, and
specific injection attempts that must be refused with the field named."""

from __future__ import annotations

import pytest

from ctilink.commands import (
    Break,
    Bridge,
    Eavesdrop,
    Hangup,
    Hold,
    Originate,
    Playback,
    Record,
    SendDtmf,
    SetVariables,
    Transfer,
    UnsafeValueError,
)
from ctilink.esl.command_parse import CommandParseError, fs_separate, parse_command, parse_rendered_wire
from ctilink.esl.render import RenderedCommand, render
from ctilink.testing.recordings import Recordings

U1 = "fb7ceee2-7c9b-4407-b9f5-172452f8ce39"
U2 = "d902c904-7a3b-413f-8ed0-660586b1d96f"
JOB = "ac7edb4a-28ff-4bbe-9621-1ca268b494c5"


def _sent(recordings: Recordings, scenario: str) -> list[str]:
    return [r.data.decode() for r in recordings.controller_records(scenario) if r.dir == "send"]


@pytest.mark.parametrize(
    "scenario", ["inbound_queue_answered", "outbound_preview", "hold_transfer", "dtmf", "agent_busy"]
)
def test_recorded_commands_render_byte_for_byte(recordings: Recordings, scenario: str) -> None:
    """Every api/bgapi command ctilink's predecessor sent parses to a command that renders identically
    (uuid_kill without a cause aside: ctilink always names the cause)."""
    checked = 0
    for data in _sent(recordings, scenario):
        if not (data.startswith("api uuid_") or data.startswith("bgapi originate")):
            continue
        cmd = parse_rendered_wire(data.encode())
        wire = render(cmd).wire()
        if isinstance(cmd, Hangup) and len(data.split()) == 3:
            assert wire == data.replace("\n\n", " NORMAL_CLEARING\n\n").encode()
        else:
            assert wire == data.encode()
        checked += 1
    assert checked >= 3


def test_wire_format() -> None:
    assert render(Bridge(uuid=U1, other_uuid=U2)).wire() == f"api uuid_bridge {U1} {U2}\n\n".encode()
    r = render(Originate(uuid=U1, dial_string="user/1001", job_uuid=JOB, timeout_s=20))
    assert r == RenderedCommand(
        "bgapi", f"originate {{origination_uuid={U1},originate_timeout=20}}user/1001 &park()", JOB
    )
    assert r.wire().endswith(f"&park()\nJob-UUID: {JOB}\n\n".encode())
    assert render(Hold(uuid=U1, on=False)).text == f"uuid_hold off {U1}"
    assert render(Break(uuid=U1, all=False)).text == f"uuid_break {U1}"
    assert render(Transfer(uuid=U1, destination="9999", context="public", leg="-bleg")).text == (
        f"uuid_transfer {U1} -bleg 9999 XML public"
    )
    assert render(Record(uuid=U1, path="/tmp/r.wav", start=False)).text == f"uuid_record {U1} stop /tmp/r.wav"


def test_eavesdrop_modes() -> None:
    base = dict(uuid=U1, job_uuid=JOB, supervisor_dial_string="user/1001@example.com", target_uuid=U2)
    assert render(Eavesdrop(**base)).text.endswith(f"user/1001@example.com &eavesdrop({U2})")
    assert "eavesdrop_whisper_aleg=true" in render(Eavesdrop(**base, mode="whisper")).text
    assert render(Eavesdrop(**base, mode="barge")).text.endswith(f"&three_way({U2})")
    for mode in ("listen", "whisper", "barge"):
        cmd = Eavesdrop(**base, mode=mode)  # type: ignore[arg-type]
        assert parse_rendered_wire(render(cmd).wire()) == cmd


def test_caller_id_name_with_comma_space_quote_is_kept_intact() -> None:
    cmd = Originate(
        uuid=U1, dial_string="sofia/gateway/gw1/+15557654321", job_uuid=JOB, caller_id_name='O\'Brien, "Pat" Zoë'
    )
    parsed = parse_rendered_wire(render(cmd).wire())
    assert isinstance(parsed, Originate) and parsed.caller_id_name == 'O\'Brien, "Pat" Zoë'
    assert parsed.variables == {}


@pytest.mark.parametrize(
    ("cmd", "field"),
    [
        (Bridge(uuid=U1 + "\napi fsctl shutdown", other_uuid=U2), "Bridge.uuid"),
        (Bridge(uuid=U1, other_uuid="all"), "Bridge.other_uuid"),
        (Originate(uuid=U1, dial_string="user/1001,user/1002", job_uuid=JOB), "Originate.dial_string"),
        (Originate(uuid=U1, dial_string="{x=y}user/1001", job_uuid=JOB), "Originate.dial_string"),
        (Originate(uuid=U1, dial_string="user/1001 &system(rm)", job_uuid=JOB), "Originate.dial_string"),
        (
            Originate(uuid=U1, dial_string="user/1001", job_uuid=JOB, variables={"ctilink_x": "a}user/666 &bridge("}),
            "Originate.variables['ctilink_x']",
        ),
        (
            Originate(uuid=U1, dial_string="user/1001", job_uuid=JOB, variables={"ctilink_x": "a\nb"}),
            "Originate.variables['ctilink_x']",
        ),
        (
            Originate(uuid=U1, dial_string="user/1001", job_uuid=JOB, variables={"x=y,z": "1"}),
            "Originate.variables['x=y,z']",
        ),
        (
            Originate(uuid=U1, dial_string="user/1001", job_uuid=JOB, variables={"origination_uuid": U2}),
            "Originate.variables['origination_uuid']",
        ),
        (
            Originate(uuid=U1, dial_string="user/1001", job_uuid=JOB, caller_id_name="${system(id)}"),
            "Originate.caller_id_name",
        ),
        (
            Originate(uuid=U1, dial_string="user/1001", job_uuid=JOB, caller_id_number="1000 x"),
            "Originate.caller_id_number",
        ),
        (Originate(uuid=U1, dial_string="user/1001", job_uuid=JOB, application="system"), "Originate.application"),
        (
            Originate(uuid=U1, dial_string="user/1001", job_uuid=JOB, application_arg="x) &hangup("),
            "Originate.application_arg",
        ),
        (Originate(uuid=U1, dial_string="user/1001", job_uuid=JOB, timeout_s=True), "Originate.timeout_s"),
        (Hangup(uuid=U1, cause="NORMAL_CLEARING\n\napi fsctl shutdown"), "Hangup.cause"),
        (Playback(uuid=U1, path="system::rm -rf /"), "Playback.path"),
        (Playback(uuid=U1, path="say:en number pronounced 1"), "Playback.path"),
        (Playback(uuid=U1, path="/var/../etc/passwd"), "Playback.path"),
        (Playback(uuid=U1, path="../../etc/passwd"), "Playback.path"),
        (Playback(uuid=U1, path="ivr/.hidden.wav"), "Playback.path"),
        (Playback(uuid=U1, path="/tmp/a b.wav"), "Playback.path"),
        (Transfer(uuid=U1, destination="-both"), "Transfer.destination"),
        (Transfer(uuid=U1, destination="x", dialplan="inline"), "Transfer.destination"),
        (Transfer(uuid=U1, destination="park", dialplan="XML ; x"), "Transfer.dialplan"),
        (SetVariables(uuid=U1, variables={"a": "b;c=d"} | {"e; f": "g"}), "SetVariables.variables['e; f']"),
        (SetVariables(uuid=U1, variables={}), "SetVariables.variables"),
        (SendDtmf(uuid=U1, digits="1 2"), "SendDtmf.digits"),
        (SendDtmf(uuid=U1, digits="1" * 65), "SendDtmf.digits"),
    ],
)
def test_injection_attempts_are_refused_with_the_field_named(cmd: object, field: str) -> None:
    with pytest.raises(UnsafeValueError) as info:
        render(cmd)  # type: ignore[arg-type]
    assert info.value.field == field
    assert field in str(info.value)


def test_setvar_multi_semicolons_do_not_add_variables() -> None:
    cmd = SetVariables(uuid=U1, variables={"ctilink_a": "x;ctilink_b=evil", "ctilink_c": "y"})
    parsed = parse_command(render(cmd).text)
    assert parsed == cmd and set(parsed.variables) == {"ctilink_a", "ctilink_c"}  # type: ignore[attr-defined]


def test_model_of_freeswitch_splitting() -> None:
    """The parser follows switch_separate_string, not the renderer: spot-check its documented rules."""
    assert fs_separate("a 'b c' d", " ") == ["a", "b c", "d"]
    assert fs_separate("a\\sb c", " ") == ["a b", "c"]
    assert fs_separate("^^:a=1,2:b=3", ",") == ["a=1,2", "b=3"]
    assert fs_separate("x=y=z", "=", 2) == ["x", "y=z"]
    assert fs_separate("a,b,", ",") == ["a", "b"]
    assert fs_separate("it's,x", ",") == ["it's", "x"]  # an unmatched quote does not quote
    with pytest.raises(CommandParseError):
        parse_command(f"originate {{origination_uuid={U1}}}user/1|user/2 &park()", JOB)
    with pytest.raises(CommandParseError):
        parse_command(f"originate {{origination_uuid={U1},originate_timeout=1}}user/1 &park()x)", JOB)


def test_a_sound_path_relative_to_the_sound_prefix_renders() -> None:
    """The campaign's default abandon announcement is a stock sound, named as FreeSWITCH names it."""
    from ctilink.dialer.campaign import CampaignConfig

    default = CampaignConfig.model_fields["abandon_announcement"].default
    assert render(Playback(uuid=U1, path=default)).text == f"uuid_broadcast {U1} {default} aleg"
