"""Property tests: hostile strings in every field either raise UnsafeValueError naming that field,
or render to one line that FreeSWITCH's own splitting rules (command_parse) read back as exactly
the intended command."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctilink.commands import (
    Answer,
    Break,
    Bridge,
    Eavesdrop,
    Hangup,
    Hold,
    Originate,
    Playback,
    PreAnswer,
    Record,
    RecvDtmf,
    SendDtmf,
    SetVariables,
    Transfer,
    UnsafeValueError,
)
from ctilink.esl.command_parse import parse_rendered_wire
from ctilink.esl.render import render

U1 = "fb7ceee2-7c9b-4407-b9f5-172452f8ce39"
U2 = "d902c904-7a3b-413f-8ed0-660586b1d96f"
JOB = "ac7edb4a-28ff-4bbe-9621-1ca268b494c5"

HOSTILE_PIECES = [
    "\n",
    "\r",
    "\x00",
    "{",
    "}",
    "[",
    "]",
    "<",
    ">",
    ",",
    "'",
    '"',
    "\\",
    "=",
    ";",
    " ",
    "^^",
    "^^:",
    "^^;",
    "|",
    ":_:",
    "&",
    "(",
    ")",
    "$",
    "${",
    "::",
    "\\s",
    "\\'",
    "'x'",
    "-bleg",
    "é",
    "Zoë",
    "☎",
    "\t",
]
hostile = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(HOSTILE_PIECES) | st.text(alphabet="abc019", max_size=3), max_size=12).map("".join),
    st.text(min_size=1000, max_size=1100, alphabet="ab ,'"),
)

BASE = {
    Originate: Originate(
        uuid=U1,
        dial_string="sofia/external/agent1001@127.0.0.1:5090",
        job_uuid=JOB,
        variables={"ctilink_call_id": "x"},
        caller_id_number="15551230001",
        caller_id_name="Alice Example",
        timeout_s=15,
    ),
    Eavesdrop: Eavesdrop(
        uuid=U1,
        job_uuid=JOB,
        supervisor_dial_string="user/1001@127.0.0.1",
        target_uuid=U2,
        mode="whisper",
        variables={"ctilink_role": "supervisor"},
    ),
    Bridge: Bridge(uuid=U1, other_uuid=U2),
    Answer: Answer(uuid=U1),
    PreAnswer: PreAnswer(uuid=U1),
    Hangup: Hangup(uuid=U1, cause="USER_BUSY"),
    Playback: Playback(uuid=U1, path="local_stream://moh"),
    Break: Break(uuid=U1),
    Transfer: Transfer(uuid=U1, destination="9999", context="public"),
    Hold: Hold(uuid=U1, on=False),
    SetVariables: SetVariables(uuid=U1, variables={"ctilink_call_id": "x", "ctilink_queue": "support"}),
    Record: Record(uuid=U1, path="/var/rec/a.wav"),
    SendDtmf: SendDtmf(uuid=U1, digits="12#"),
    RecvDtmf: RecvDtmf(uuid=U1, digits="34"),
}

STR_FIELDS = [
    (cls, f.name)
    for cls, cmd in BASE.items()
    for f in dataclasses.fields(cmd)
    if f.name != "node" and isinstance(getattr(cmd, f.name), str)
] + [(Originate, "caller_id_name"), (Originate, "caller_id_number"), (Originate, "application_arg")]


def check(cmd: object, field_prefix: str) -> None:
    try:
        rendered = render(cmd)  # type: ignore[arg-type]
    except UnsafeValueError as err:
        assert err.field.startswith(field_prefix), (err.field, field_prefix)
        return
    wire = rendered.wire()
    lines = wire.split(b"\n")
    expected_lines = 4 if rendered.verb == "bgapi" else 3  # command [+ Job-UUID] + blank + ""
    assert len(lines) == expected_lines and lines[-2:] == [b"", b""], wire
    assert b"\r" not in wire and b"\x00" not in wire
    assert parse_rendered_wire(wire) == cmd


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(target=st.sampled_from(STR_FIELDS), value=hostile)
def test_hostile_string_in_any_field(target: tuple[type, str], value: str) -> None:
    cls, name = target
    cmd = dataclasses.replace(BASE[cls], **{name: value})
    check(cmd, f"{cls.__name__}.{name}")


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    cls=st.sampled_from([Originate, Eavesdrop, SetVariables]),
    key=st.one_of(hostile, st.sampled_from(["ctilink_x", "a", "_", "origination_uuid", "originate_timeout"])),
    value=hostile,
)
def test_hostile_variables(cls: type, key: str, value: str) -> None:
    variables = dict(BASE[cls].variables)
    variables[key] = value
    cmd = dataclasses.replace(BASE[cls], variables=variables)
    check(cmd, f"{cls.__name__}.variables[{key!r}]")


@settings(max_examples=300, deadline=None)
@given(values=st.lists(hostile, min_size=1, max_size=4))
def test_hostile_values_that_render_survive_every_layer(values: list[str]) -> None:
    """Values that pass validation are kept byte-for-byte, whatever quoting/escaping they contain."""
    variables = {f"ctilink_v{i}": v for i, v in enumerate(values)}
    for cmd in (
        dataclasses.replace(BASE[Originate], variables=variables, caller_id_name=values[0]),
        SetVariables(uuid=U1, variables=variables),
        SetVariables(uuid=U1, variables={"ctilink_one": values[0]}),
    ):
        check(cmd, type(cmd).__name__)


def test_legit_names_with_commas_quotes_and_non_ascii_render() -> None:
    names = ["O'Brien, Pat", 'Bob "The Builder"', "Zoë Åström", "ACME, Inc. = best; 100%", "  padded  "]
    for name in names:
        cmd = dataclasses.replace(BASE[Originate], caller_id_name=name)
        assert parse_rendered_wire(render(cmd).wire()) == cmd
