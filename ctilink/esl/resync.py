"""Resync: turn FreeSWITCH's own account of its channels into the events a listener would have seen.

Rules:
- Runs on every (re)connect, after subscribing and before any live event of the new session
  reaches the consumer (the connection holds live events back until the resync is delivered).
- Asks only read-only questions: ``show channels as json`` once, then ``uuid_dump <uuid> json``
  per channel (for the ``variable_ctilink_*`` variables, answer/hold/bridge state).
- Emits the same typed events as live traffic, built by the same :class:`Normalizer` from the
  dump's headers, all with ``resync=True``, in the order a live observer sees them: every
  ChannelCreated first, then per channel ChannelProgress/ChannelAnswered and ChannelParked, then
  one ChannelBridged per bridged pair (on the A leg, as FreeSWITCH does), then ChannelHeld; and
  always last a :class:`Resynced` marker listing exactly the channels described.
- Parked means "not bridged and its current application is ``park``". A parked channel that is
  running an inserted application (``uuid_broadcast`` hold music) reports that application
  instead, and FreeSWITCH exposes no park flag: it gets no ChannelParked here; the engine still
  gets its ChannelCreated/ChannelAnswered with the ``ctilink_*`` variables.
- A channel that vanished between the list and its dump (``-ERR No such channel``) is left
  out entirely, marker included: it is gone. A dump that is present but undecodable falls back to
  the list row, so a channel that exists is never forgotten.
- Everything FreeSWITCH returns is data: a uuid that could not be safely put on a command line is
  not queried (the row alone describes it), and a reply that is not a channel list raises
  :class:`ResyncError` (the connection drops the session and retries: a partial snapshot would
  make the engine forget live calls).

Theory of operation: :func:`run_resync` is the only entry point with I/O, and its I/O is a
callable the connection supplies (send these api commands, return their bodies in order); the
rest are pure functions from reply bodies to events. This module never knows about sockets,
greenlets, buffers or metrics, and it makes no routing decision: it reports what exists.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from ctilink.events import Event, Resynced

__all__ = [
    "SHOW_CHANNELS",
    "ChannelSnapshot",
    "HeaderNormalizer",
    "ResyncError",
    "build_resync_events",
    "dump_command",
    "parse_channel_rows",
    "parse_uuid_dump",
    "run_resync",
    "snapshot",
]

SHOW_CHANNELS = "show channels as json"

# A uuid we are willing to echo back on a command line. FreeSWITCH uuids are RFC 4122 text,
# but origination_uuid lets any client pick one, so accept a conservative token alphabet only.
_SAFE_UUID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")

_ANSWERED_CALLSTATES = frozenset({"ACTIVE", "HELD", "UNHELD"})


class ResyncError(Exception):
    """The switch's answer to a resync query could not be understood; the snapshot is unusable."""


class HeaderNormalizer(Protocol):
    """What resync needs from ``ctilink.esl.normalize.Normalizer``."""

    def from_headers(self, headers: Mapping[str, Any], body: str | None = None, *, resync: bool = False) -> Event: ...


@dataclass
class ChannelSnapshot:
    """One live channel as FreeSWITCH described it: its list row and, if we got it, its dump."""

    uuid: str
    row: dict[str, Any]
    dump: dict[str, Any] | None = None
    headers: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        value = self.headers.get(name)
        return value if isinstance(value, str) else None


def dump_command(uuid: str) -> str | None:
    """``uuid_dump <uuid> json``, or None if ``uuid`` is not safe to put on a command line."""
    return f"uuid_dump {uuid} json" if _SAFE_UUID.match(uuid) else None


def parse_channel_rows(body: str) -> list[dict[str, Any]]:
    """The rows of a ``show channels as json`` reply (``{"row_count": 0}`` has none)."""
    text = body.strip()
    if not text.startswith("{"):
        raise ResyncError(f"'{SHOW_CHANNELS}' did not return JSON: {text[:120]!r}")
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ResyncError(f"'{SHOW_CHANNELS}' returned malformed JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ResyncError(f"'{SHOW_CHANNELS}' returned {type(doc).__name__}, expected an object")
    rows = doc.get("rows", [])
    if not isinstance(rows, list):
        raise ResyncError(f"'{SHOW_CHANNELS}' rows is {type(rows).__name__}, expected a list")
    good: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("uuid"), str) or not row["uuid"]:
            raise ResyncError(f"'{SHOW_CHANNELS}' row {index} has no uuid: {str(row)[:120]!r}")
        good.append(row)
    return good


def parse_uuid_dump(body: str) -> dict[str, Any] | None:
    """The headers of a ``uuid_dump`` reply; None if the channel no longer exists.

    Accepts the JSON form (what we ask for) and, defensively, the plain form (URL-encoded
    ``Name: value`` lines, decoded per value so an encoded newline cannot forge a header).
    Raises :class:`ValueError` if the body is neither.
    """
    text = body.strip()
    if text.startswith("-ERR"):
        return None
    if text.startswith("{"):
        doc = orjson.loads(text)
        if not isinstance(doc, dict):
            raise ValueError("uuid_dump JSON is not an object")
        return doc
    headers: dict[str, Any] = {}
    for line in text.split("\n"):
        name, sep, value = line.partition(": ")
        if not sep or not name:
            raise ValueError(f"uuid_dump line is not 'Name: value': {line[:80]!r}")
        headers[name] = urllib.parse.unquote(value)
    if "Unique-ID" not in headers:
        raise ValueError("uuid_dump has no Unique-ID")
    return headers


def _row_headers(row: Mapping[str, Any], core_uuid: str | None) -> dict[str, Any]:
    """Event headers equivalent to a ``show channels`` row, for a channel we could not dump."""

    def s(key: str) -> str | None:
        value = row.get(key)
        return value if isinstance(value, str) and value != "" else None

    headers: dict[str, Any] = {
        "Unique-ID": row["uuid"],
        "Call-Direction": s("direction"),
        "Channel-Name": s("name"),
        "Channel-State": s("state"),
        "Channel-Call-State": s("callstate"),
        "Caller-Caller-ID-Name": s("cid_name"),
        "Caller-Caller-ID-Number": s("cid_num"),
        "Caller-Callee-ID-Name": s("callee_name"),
        "Caller-Callee-ID-Number": s("callee_num"),
        "Caller-Destination-Number": s("dest"),
        "Core-UUID": core_uuid,
    }
    epoch = s("created_epoch")
    if epoch is not None and epoch.isdigit():
        headers["Event-Date-Timestamp"] = str(int(epoch) * 1_000_000)
    return {k: v for k, v in headers.items() if v is not None}


def snapshot(
    rows: Sequence[dict[str, Any]],
    dump_bodies: Mapping[str, str | None],
    core_uuid: str | None = None,
    on_bad_dump: Callable[[str, str], None] | None = None,
) -> list[ChannelSnapshot]:
    """Join list rows with their dump replies; drop channels whose dump says they are gone.

    ``dump_bodies[uuid]`` is the reply body, or None when the uuid was not queried (unsafe).
    ``on_bad_dump(uuid, reason)`` is told about dumps that could not be decoded.
    """
    channels: list[ChannelSnapshot] = []
    seen: set[str] = set()
    for row in rows:
        uuid = row["uuid"]
        if uuid in seen:
            continue
        seen.add(uuid)
        body = dump_bodies.get(uuid)
        dump: dict[str, Any] | None = None
        if body is not None:
            try:
                dump = parse_uuid_dump(body)
            except (ValueError, orjson.JSONDecodeError) as exc:
                if on_bad_dump is not None:
                    on_bad_dump(uuid, str(exc))
            else:
                if dump is None:
                    continue  # hung up between the list and the dump
                if dump.get("Unique-ID") not in (None, uuid):
                    if on_bad_dump is not None:
                        on_bad_dump(uuid, f"dump describes another channel {dump.get('Unique-ID')!r}")
                    dump = None
        headers = dict(dump) if dump is not None else _row_headers(row, core_uuid)
        headers["Unique-ID"] = uuid
        if core_uuid is not None and not isinstance(headers.get("Core-UUID"), str):
            headers["Core-UUID"] = core_uuid
        # Resync events are not part of FreeSWITCH's event sequence: a copied sequence number
        # would collide with the CHANNEL_DATA dump's own and mislead any ordering check.
        headers.pop("Event-Sequence", None)
        # Answered, held or bridged are derived by us, not taken from the dump's own name.
        headers.pop("Event-Subclass", None)
        channels.append(ChannelSnapshot(uuid=uuid, row=dict(row), dump=dump, headers=headers))
    return channels


def _is_answered(ch: ChannelSnapshot) -> bool:
    answer_state = ch.get("Answer-State")
    if answer_state is not None:
        return answer_state == "answered"
    return ch.row.get("callstate") in _ANSWERED_CALLSTATES


def _early_state(ch: ChannelSnapshot) -> str | None:
    """CHANNEL_PROGRESS(_MEDIA) for a channel that is ringing or in early media, else None."""
    answer_state = ch.get("Answer-State")
    if answer_state == "early":
        return "CHANNEL_PROGRESS_MEDIA"
    if answer_state == "ringing" and (ch.get("Call-Direction") or ch.row.get("direction")) == "outbound":
        # FreeSWITCH reports ringing (180) only on legs it dials; an inbound call that has
        # not been answered is "ringing" without ever firing CHANNEL_PROGRESS.
        return "CHANNEL_PROGRESS"
    if answer_state is None and ch.row.get("callstate") == "EARLY":
        return "CHANNEL_PROGRESS_MEDIA"
    return None


def _is_held(ch: ChannelSnapshot) -> bool:
    return (ch.get("Channel-Call-State") or ch.row.get("callstate")) == "HELD"


def _application(ch: ChannelSnapshot) -> str | None:
    # The dump was taken after the list, so it is the fresher of the two.
    if ch.dump is not None:
        app = ch.get("variable_current_application")
        if app:
            return app
    app = ch.row.get("application")
    return app if isinstance(app, str) and app else None


def _partners(channels: Sequence[ChannelSnapshot]) -> dict[str, str]:
    """uuid -> bridged partner uuid, for channels FreeSWITCH says are bridged to a live channel."""
    by_uuid = {ch.uuid: ch for ch in channels}
    partners: dict[str, str] = {}
    # ``bridge_to`` is set while a bridge lasts and cleared on unbridge: the authoritative mark.
    for ch in channels:
        other = ch.get("variable_bridge_to")
        if other and other in by_uuid and other != ch.uuid:
            partners[ch.uuid] = other
            partners.setdefault(other, ch.uuid)
    # Without it (a dump that lacks variables), accept a pair only when both legs name each
    # other as Other-Leg-Unique-ID, both are up and were bridged at some point: one-sided or
    # stale references (a leg that was bridged earlier) must not invent a bridge.
    for ch in channels:
        if ch.uuid in partners:
            continue
        other = ch.get("Other-Leg-Unique-ID")
        peer = by_uuid.get(other) if other else None
        if peer is None or peer.uuid in partners or peer.uuid == ch.uuid:
            continue
        # call_uuid is not enough: it keeps naming the A leg after an unbridge.
        mutual = peer.get("Other-Leg-Unique-ID") == ch.uuid
        up = all((c.get("Channel-Call-State") or c.row.get("callstate")) in _ANSWERED_CALLSTATES for c in (ch, peer))
        if mutual and up and (ch.get("Caller-Channel-Bridged-Time") or "0") != "0":
            partners[ch.uuid] = peer.uuid
            partners[peer.uuid] = ch.uuid
    return partners


def _a_leg(ch: ChannelSnapshot, peer: ChannelSnapshot, order: Mapping[str, int]) -> tuple[str, str]:
    """(A, B) of a bridged pair: FreeSWITCH reports CHANNEL_BRIDGE once, on the A leg."""
    if ch.get("Other-Type") == "originatee" or peer.get("Other-Type") == "originator":
        return ch.uuid, peer.uuid
    if peer.get("Other-Type") == "originatee" or ch.get("Other-Type") == "originator":
        return peer.uuid, ch.uuid
    if ch.row.get("call_uuid") == ch.uuid and peer.row.get("call_uuid") != peer.uuid:
        return ch.uuid, peer.uuid
    if peer.row.get("call_uuid") == peer.uuid and ch.row.get("call_uuid") != ch.uuid:
        return peer.uuid, ch.uuid
    return (ch.uuid, peer.uuid) if order[ch.uuid] <= order[peer.uuid] else (peer.uuid, ch.uuid)


def _created_key(item: tuple[int, ChannelSnapshot]) -> tuple[int, int]:
    index, ch = item
    epoch = ch.row.get("created_epoch")
    return (int(epoch) if isinstance(epoch, str) and epoch.isdigit() else 0, index)


def _usable(
    normalizer: HeaderNormalizer,
    channels: Sequence[ChannelSnapshot],
    core_uuid: str | None,
    on_bad_dump: Callable[[str, str], None] | None,
) -> list[ChannelSnapshot]:
    """The channels the normalizer accepts, each from its dump or else from its list row."""
    usable: list[ChannelSnapshot] = []
    for ch in channels:
        for attempt in ("dump", "row"):
            try:
                normalizer.from_headers({**ch.headers, "Event-Name": "CHANNEL_CREATE"}, None, resync=True)
            except ValueError as exc:
                if on_bad_dump is not None:
                    on_bad_dump(ch.uuid, f"{attempt} not decodable: {exc}")
                if attempt == "dump" and ch.dump is not None:
                    ch = ChannelSnapshot(uuid=ch.uuid, row=ch.row, dump=None, headers=_row_headers(ch.row, core_uuid))
                    continue
                break
            usable.append(ch)
            break
    return usable


class _EventMaker:
    """Builds one resync event of a channel, through the normalizer live events go through."""

    def __init__(self, normalizer: HeaderNormalizer) -> None:
        self._normalizer = normalizer

    def __call__(self, ch: ChannelSnapshot, name: str, extra: Mapping[str, str] | None = None) -> Event:
        headers = dict(ch.headers)
        headers["Event-Name"] = name
        if extra:
            headers.update(extra)
        return self._normalizer.from_headers(headers, None, resync=True)


def _state_events(make: _EventMaker, ordered: Sequence[ChannelSnapshot], partners: Mapping[str, str]) -> list[Event]:
    """Per channel, in order: ringing or early media, answered, parked."""
    events: list[Event] = []
    for ch in ordered:
        early = _early_state(ch)
        if early is not None:
            events.append(make(ch, early))
        if _is_answered(ch):
            events.append(make(ch, "CHANNEL_ANSWER"))
        if ch.uuid not in partners and _application(ch) == "park":
            events.append(make(ch, "CHANNEL_PARK"))
    return events


def _bridge_events(make: _EventMaker, ordered: Sequence[ChannelSnapshot], partners: Mapping[str, str]) -> list[Event]:
    """One CHANNEL_BRIDGE per bridged pair, on its A leg."""
    order = {ch.uuid: i for i, ch in enumerate(ordered)}
    by_uuid = {ch.uuid: ch for ch in ordered}
    events: list[Event] = []
    done: set[str] = set()
    for ch in ordered:
        other = partners.get(ch.uuid)
        if other is None or ch.uuid in done:
            continue
        a, b = _a_leg(ch, by_uuid[other], order)
        done.update((a, b))
        events.append(
            make(
                by_uuid[a],
                "CHANNEL_BRIDGE",
                {"Other-Leg-Unique-ID": b, "Bridge-A-Unique-ID": a, "Bridge-B-Unique-ID": b},
            )
        )
    return events


def _marker(ordered: Sequence[ChannelSnapshot], node: str, core_uuid: str | None) -> Resynced:
    """The Resynced marker: exactly these channels, stamped with the latest time they carry."""
    core = core_uuid
    latest = 0.0
    for ch in ordered:
        if core is None and isinstance(ch.headers.get("Core-UUID"), str):
            core = ch.headers["Core-UUID"]
        stamp = ch.get("Event-Date-Timestamp")
        if stamp is not None and stamp.isdigit():
            latest = max(latest, int(stamp) / 1_000_000)
    applications = {ch.uuid: app for ch in ordered if (app := _application(ch)) is not None}
    return Resynced(
        node=node, core_uuid=core, timestamp=latest, uuids=[ch.uuid for ch in ordered], applications=applications
    )


def build_resync_events(
    normalizer: HeaderNormalizer,
    channels: Sequence[ChannelSnapshot],
    node: str,
    core_uuid: str | None = None,
    on_bad_dump: Callable[[str, str], None] | None = None,
) -> list[Event]:
    """The resync events for a snapshot, ending with the :class:`Resynced` marker.

    A channel whose dump the normalizer refuses is described from its list row instead; one
    whose row is refused too is left out (and reported): a hostile or broken dump costs that
    channel's detail, never the resync.
    """
    usable = _usable(normalizer, channels, core_uuid, on_bad_dump)
    ordered = [ch for _, ch in sorted(enumerate(usable), key=_created_key)]
    partners = _partners(ordered)
    make = _EventMaker(normalizer)
    events: list[Event] = [make(ch, "CHANNEL_CREATE") for ch in ordered]
    events += _state_events(make, ordered, partners)
    events += _bridge_events(make, ordered, partners)
    events += [make(ch, "CHANNEL_HOLD") for ch in ordered if _is_held(ch)]
    events.append(_marker(ordered, node, core_uuid))
    return events


def run_resync(
    query: Callable[[Sequence[str]], list[str]],
    normalizer: HeaderNormalizer,
    node: str,
    core_uuid: str | None = None,
    on_bad_dump: Callable[[str, str], None] | None = None,
) -> list[Event]:
    """Ask the switch what exists and return the resync events (marker last).

    ``query(commands)`` sends the given ``api`` commands (pipelined is fine) and returns their
    reply bodies in the same order; it raises whatever the connection raises on timeout or
    disconnect, which aborts the resync.
    """
    rows = parse_channel_rows(query([SHOW_CHANNELS])[0])
    wanted: list[tuple[str, str]] = []
    for row in rows:
        cmd = dump_command(row["uuid"])
        if cmd is not None:
            wanted.append((row["uuid"], cmd))
        elif on_bad_dump is not None:
            on_bad_dump(row["uuid"][:80], "uuid not safe to query; using the list row")
    bodies = query([cmd for _, cmd in wanted]) if wanted else []
    if len(bodies) != len(wanted):
        raise ResyncError(f"asked {len(wanted)} uuid_dump commands, got {len(bodies)} replies")
    dump_bodies: dict[str, str | None] = {uuid: body for (uuid, _), body in zip(wanted, bodies, strict=False)}
    channels = snapshot(rows, dump_bodies, core_uuid, on_bad_dump)
    return build_resync_events(normalizer, channels, node, core_uuid, on_bad_dump)
