"""The fake switch's channel model, and what FreeSWITCH says about a channel: event headers,
``show channels as json`` rows, the uptime text of ``status``.

Header names, order and values follow the recordings of FreeSWITCH 1.10.12 in
``tests/fixtures/esl`` and ``tests/fixtures/esl-ctilink``: a bridged leg carries ``bridge_to``,
``signal_bond`` and ``last_bridge_to``, and its ``variable_current_application`` stays the last
application it ran itself (a caller bridged with ``uuid_bridge`` still says ``playback``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["HOSTNAME", "SIP_STATUS", "Endpoint", "FakeChannel", "channel_headers", "show_channels_json", "uptime"]

HOSTNAME = "fs-node-1"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """How a dialled endpoint behaves when originated to."""

    kind: Literal["answer", "busy", "no_answer", "fail"] = "answer"
    delay_s: float = 0.0


@dataclass
class FakeChannel:
    uuid: str
    direction: Literal["inbound", "outbound"]
    name: str
    caller_number: str
    caller_name: str
    destination: str
    context: str
    variables: dict[str, str] = field(default_factory=dict)
    state: str = "CS_INIT"
    callstate: str = "DOWN"
    answer_state: str = "ringing"
    created_us: int = 0
    progress_us: int = 0
    progress_media_us: int = 0
    answered_us: int = 0
    bridged_us: int = 0
    hangup_us: int = 0
    other_uuid: str | None = None
    application: str = ""  # what ``show channels`` lists (uuid_bridge once bridged)
    application_data: str = ""
    # variable_current_application: the last application the channel itself ran. A uuid_bridge
    # does not change it, so a bridged caller still says ``playback`` (its hold music).
    current_app: str = ""
    parked: bool = False
    held: bool = False
    hangup_cause: str | None = None
    # While its originate has not returned, FreeSWITCH's originate thread owns the leg: a
    # uuid_bridge / uuid_transfer that takes it away makes that originate fail (the leg lives on).
    owned_by_originate: bool = False
    taken_from_originate: bool = False


_STATE_NUMBERS = {
    "CS_NEW": 0,
    "CS_INIT": 1,
    "CS_ROUTING": 2,
    "CS_SOFT_EXECUTE": 3,
    "CS_EXECUTE": 4,
    "CS_EXCHANGE_MEDIA": 5,
    "CS_PARK": 6,
    "CS_HANGUP": 10,
    "CS_REPORTING": 11,
    "CS_DESTROY": 12,
}
SIP_STATUS = {"USER_BUSY": "486", "NO_ANSWER": "487", "NORMAL_TEMPORARY_FAILURE": "503", "NORMAL_CLEARING": "200"}


def channel_headers(ch: FakeChannel, other: FakeChannel | None) -> dict[str, str]:
    """The channel-data, Caller-*, Other-Leg-* and variable_* headers of an event about ``ch``."""
    h = {
        "Channel-State": ch.state,
        "Channel-Call-State": ch.callstate,
        "Channel-State-Number": str(_STATE_NUMBERS.get(ch.state, 4)),
        "Channel-Name": ch.name,
        "Unique-ID": ch.uuid,
        "Call-Direction": ch.direction,
        "Presence-Call-Direction": ch.direction,
        "Channel-HIT-Dialplan": "true" if ch.direction == "inbound" else "false",
        "Channel-Call-UUID": ch.uuid,
        "Answer-State": ch.answer_state,
    }
    if ch.answered_us or ch.progress_media_us:
        h.update(
            {
                "Channel-Read-Codec-Name": "PCMU",
                "Channel-Read-Codec-Rate": "8000",
                "Channel-Read-Codec-Bit-Rate": "64000",
                "Channel-Write-Codec-Name": "PCMU",
                "Channel-Write-Codec-Rate": "8000",
                "Channel-Write-Codec-Bit-Rate": "64000",
            }
        )
    h.update(_profile("Caller", ch))
    if other is not None:
        h["Other-Type"] = "originatee" if ch.direction == "inbound" else "originator"
        h.update(_profile("Other-Leg", other))
    h["variable_direction"] = ch.direction
    h["variable_uuid"] = ch.uuid
    h["variable_call_uuid"] = ch.uuid
    h["variable_channel_name"] = ch.name
    for k, v in ch.variables.items():
        h[f"variable_{k}"] = v
    if ch.current_app or ch.application:
        h["variable_current_application"] = ch.current_app or ch.application
    return h


def _profile(prefix: str, ch: FakeChannel) -> dict[str, str]:
    p = prefix
    return {
        f"{p}-Direction": ch.direction,
        f"{p}-Logical-Direction": ch.direction,
        f"{p}-Username": ch.caller_number,
        f"{p}-Dialplan": "XML",
        f"{p}-Caller-ID-Name": ch.caller_name,
        f"{p}-Caller-ID-Number": ch.caller_number,
        f"{p}-Orig-Caller-ID-Name": ch.caller_name,
        f"{p}-Orig-Caller-ID-Number": ch.caller_number,
        f"{p}-Network-Addr": "127.0.0.1",
        f"{p}-ANI": ch.caller_number,
        f"{p}-Destination-Number": ch.destination,
        f"{p}-Unique-ID": ch.uuid,
        f"{p}-Source": "mod_sofia" if ch.direction == "inbound" else "src/switch_ivr_originate.c",
        f"{p}-Context": ch.context,
        f"{p}-Channel-Name": ch.name,
        f"{p}-Profile-Index": "1",
        f"{p}-Profile-Created-Time": str(ch.created_us),
        f"{p}-Channel-Created-Time": str(ch.created_us),
        f"{p}-Channel-Answered-Time": str(ch.answered_us),
        f"{p}-Channel-Progress-Time": str(ch.progress_us),
        f"{p}-Channel-Progress-Media-Time": str(ch.progress_media_us),
        f"{p}-Channel-Hangup-Time": str(ch.hangup_us),
        f"{p}-Channel-Transfer-Time": "0",
        f"{p}-Channel-Resurrect-Time": "0",
        f"{p}-Channel-Bridged-Time": str(ch.bridged_us),
        f"{p}-Channel-Last-Hold": "0",
        f"{p}-Channel-Hold-Accum": "0",
        f"{p}-Screen-Bit": "true",
        f"{p}-Privacy-Hide-Name": "false",
        f"{p}-Privacy-Hide-Number": "false",
    }


def show_channels_json(channels: Iterable[FakeChannel]) -> str:
    """The body of ``show channels as json`` (FreeSWITCH's list rows) for these channels."""
    rows_of = list(channels)
    if not rows_of:
        return '{"row_count": 0}\n'
    rows = []
    for ch in rows_of:
        created = ch.created_us // 1_000_000
        rows.append(
            {
                "uuid": ch.uuid,
                "direction": ch.direction,
                "created": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created)),
                "created_epoch": str(created),
                "name": ch.name,
                "state": ch.state,
                "cid_name": ch.caller_name,
                "cid_num": ch.caller_number,
                "ip_addr": "127.0.0.1" if ch.direction == "inbound" else "",
                "dest": ch.destination,
                "application": ch.application,
                "application_data": ch.application_data,
                "dialplan": "XML" if ch.direction == "inbound" else "",
                "context": ch.context,
                "read_codec": "PCMU",
                "read_rate": "8000",
                "read_bit_rate": "64000",
                "write_codec": "PCMU",
                "write_rate": "8000",
                "write_bit_rate": "64000",
                "secure": "",
                "hostname": HOSTNAME,
                "presence_id": "",
                "presence_data": "",
                "accountcode": "",
                "callstate": ch.callstate,
                "callee_name": "",
                "callee_num": "",
                "callee_direction": "",
                "call_uuid": ch.uuid,
                "sent_callee_name": "",
                "sent_callee_num": "",
                "initial_cid_name": ch.caller_name,
                "initial_cid_num": ch.caller_number,
                "initial_ip_addr": "127.0.0.1" if ch.direction == "inbound" else "",
                "initial_dest": ch.destination,
                "initial_dialplan": "XML" if ch.direction == "inbound" else "",
                "initial_context": ch.context,
            }
        )
    return json.dumps({"row_count": len(rows), "rows": rows}, ensure_ascii=False, separators=(",", ":"))


def uptime(ms: int) -> str:
    s, msec = divmod(ms, 1000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    d, h = divmod(h, 24)
    return f"0 years, {d} days, {h} hours, {m} minutes, {s} seconds, {msec} milliseconds, 0 microseconds"
