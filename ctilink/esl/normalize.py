"""Event normalization: ESL event bodies and header dicts -> the typed events the core consumes.

Rules:
- One event in, one typed event out. Every event the switch sends becomes a typed event; the
  ones the core has no class for become :class:`~ctilink.events.RawEvent`, counted by name in
  :attr:`Normalizer.raw_counts` (``Event-Subclass`` for ``CUSTOM``). Nothing is dropped silently.
- Every value is exactly one decoded header value. ``text/event-plain`` bodies are split into
  lines FIRST, and only then is each value URL-decoded on its own, so an encoded ``%0A`` inside
  a caller name stays inside that value and can never start a new header. An event's own body
  (after its inner ``Content-Length``) is data, never headers. ``text/event-json`` bodies are one
  JSON object: a value is a JSON string, so it cannot become a key.
- When a header name repeats inside one event (FreeSWITCH does this, e.g. ``PRIVATE_COMMAND``
  carries ``Event-Name: COMMAND`` and later ``Event-Name: PRIVATE_COMMAND``), the LAST value wins
  in both formats: that is what FreeSWITCH's JSON serialiser produces and what the event really is.
- Arrays: JSON arrays stay lists; the event-plain spelling ``ARRAY::a|:b`` is split into the same
  list. Typed fields are always ``str``: a list there is rendered back in FreeSWITCH's
  ``ARRAY::a|:b`` spelling, so plain and JSON give identical typed events.
- Identity fields (``Event-Name``, ``Unique-ID`` of channel events, ``Job-UUID``, the SIP user and
  realm, ``Event-Date-Timestamp``, ``Event-Sequence``) must be well formed, or
  :class:`EventDecodeError` is raised naming the event and the header. Optional numeric details
  (durations, epochs, ports) that do not parse become ``None`` and are counted in
  :attr:`Normalizer.bad_fields`, so one odd value never costs the engine a hangup.
- Timestamps: FreeSWITCH's microseconds become float seconds here, at the edge.

Theory of operation: ``from_json`` / ``from_plain`` turn a body into ``(headers, body)``, then
``from_headers`` dispatches on ``Event-Name`` (and ``Event-Subclass``) to one small builder per
type. Builders read only the headers the engine uses. The header dict is already validated here,
so typed events are built without pydantic's validation pass (``_new``), which is most of the
decode cost otherwise; the tests check every built event against ``model_validate``.

This module must never know about sockets, reconnects or engine state. Resync (``uuid_dump``,
``show channels``) reuses :meth:`Normalizer.from_headers` with ``resync=True``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import unquote

import orjson

from ctilink.esl.framing import Frame
from ctilink.events import (
    ChannelAnswered,
    ChannelBridged,
    ChannelCreated,
    ChannelEvent,
    ChannelHeld,
    ChannelHungUp,
    ChannelParked,
    ChannelProgress,
    ChannelUnbridged,
    ChannelUnheld,
    ChannelUnparked,
    DtmfReceived,
    EndpointEvent,
    EndpointExpired,
    EndpointRegistered,
    EndpointUnregistered,
    Event,
    ExecuteComplete,
    Heartbeat,
    JobCompleted,
    MachineDetected,
    RawEvent,
    SwitchShutdown,
)

__all__ = ["EventDecodeError", "Normalizer", "parse_json", "parse_plain"]

_SAMPLE = 120
_VAR_PREFIX = "variable_"
_CTILINK_VAR = "variable_ctilink_"
_DIRECTIONS = ("inbound", "outbound")
_AMD_RESULTS = {"machine": "machine", "human": "human", "notsure": "notsure"}


class EventDecodeError(ValueError):
    """An event body or header set that cannot be turned into a typed event.

    ``reason`` says what is wrong; ``sample`` holds the first bytes involved. The stream itself is
    fine (framing is ``framing``'s job): log, count and go on with the next frame.
    """

    def __init__(self, reason: str, sample: bytes | str = b"") -> None:
        if isinstance(sample, str):
            sample = sample.encode("utf-8", "surrogateescape")
        super().__init__(f"{reason}: {sample[:_SAMPLE]!r}")
        self.reason = reason
        self.sample = bytes(sample[:_SAMPLE])


# -- body parsers ---------------------------------------------------------------------------


def parse_json(body: bytes | str) -> tuple[dict[str, Any], str | None]:
    """A ``text/event-json`` body (or ``uuid_dump ... json`` reply) -> ``(headers, body)``."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise EventDecodeError(f"invalid event JSON ({exc})", body) from None
    if obj.__class__ is not dict:
        raise EventDecodeError("event JSON is not an object", body)
    inner = obj.pop("_body", None)
    if inner is not None:
        if inner.__class__ is not str:
            raise EventDecodeError("event JSON _body is not a string", body)
        declared = obj.get("Content-Length")
        if declared is not None and (declared.__class__ is not str or not _is_length(declared, inner)):
            raise EventDecodeError("event JSON Content-Length does not match _body", body)
    return obj, inner


def parse_plain(body: bytes) -> tuple[dict[str, Any], str | None]:
    """A ``text/event-plain`` body (or plain ``uuid_dump`` reply) -> ``(headers, body)``.

    Lines are split first; each value is then URL-decoded on its own. After the blank line,
    exactly the inner ``Content-Length`` bytes are the event's body, taken as data.
    """
    head, sep, rest = body.partition(b"\n\n")
    if not sep:
        raise EventDecodeError("event-plain without the blank line that ends its headers", body)
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise EventDecodeError("invalid UTF-8 in event-plain headers", head) from None
    names: list[str] = []
    values: list[Any] = []
    encoded: list[int] = []
    for line in text.split("\n"):
        name, colon, value = line.partition(": ")
        if not colon or not name:
            raise EventDecodeError("event-plain header line without ': '", line)
        if "%" in value:
            encoded.append(len(values))
        names.append(name)
        values.append(value)
    if encoded:
        _decode_values(names, values, encoded)
    headers: dict[str, Any] = dict(zip(names, values, strict=False))
    declared = headers.get("Content-Length")
    if declared is None:
        if rest:
            raise EventDecodeError("bytes after an event-plain without Content-Length", rest)
        return headers, None
    if declared.__class__ is not str or not (declared.isascii() and declared.isdigit()):
        raise EventDecodeError("bad inner Content-Length", str(declared))
    if len(rest) != int(declared):
        raise EventDecodeError(f"inner Content-Length {declared} but {len(rest)} bytes of event body", rest)
    try:
        return headers, rest.decode("utf-8")
    except UnicodeDecodeError:
        raise EventDecodeError("invalid UTF-8 in event body", rest) from None


def _decode_values(names: list[str], values: list[Any], encoded: list[int]) -> None:
    """URL-decode ``values[i]`` for each ``i`` in ``encoded``, each value on its own.

    Decoding one value at a time costs a ``unquote`` call per value (most of plain's cost), so
    the values are joined with NUL and decoded in one call, then split again. That is exact only
    if no decoded value contains NUL: so when a raw NUL or ``%00`` appears anywhere (FreeSWITCH
    never sends either; SDP and friends do carry ``%0D%0A``, hence not LF), each value is decoded
    separately. ``unquote`` decodes runs of escapes, and the separator ends a run, so a
    multi-byte sequence cannot join across two values.
    """
    joined = "\x00".join([values[i] for i in encoded])
    decoded: list[str] | None = None
    if joined.count("\x00") == len(encoded) - 1 and "%00" not in joined:
        try:
            decoded = unquote(joined, errors="strict").split("\x00")
        except UnicodeDecodeError:
            decoded = None  # find and name the culprit below
    if decoded is None or len(decoded) != len(encoded):
        decoded = []
        for i in encoded:
            try:
                decoded.append(unquote(values[i], errors="strict"))
            except UnicodeDecodeError:
                raise EventDecodeError(f"invalid UTF-8 in URL-encoded value of {names[i]}", values[i]) from None
    for i, value in zip(encoded, decoded, strict=False):
        # FreeSWITCH writes array headers as ARRAY::a|:b, and always encodes the colons.
        values[i] = value[7:].split("|:") if value.startswith("ARRAY::") else value


def _is_length(declared: str, inner: str) -> bool:
    return declared.isascii() and declared.isdigit() and int(declared) == len(inner.encode("utf-8"))


# -- value helpers --------------------------------------------------------------------------


def _text(value: Any, name: str = "") -> str | None:
    """One header value as ``str`` (arrays in FreeSWITCH's ``ARRAY::`` spelling), or None."""
    if value.__class__ is str or value is None:
        return value
    if value.__class__ is list and all(item.__class__ is str for item in value):
        return "ARRAY::" + "|:".join(value)
    raise EventDecodeError(f"header {name or '?'} is not a string", repr(value))


_object_new = object.__new__
_set = object.__setattr__


_Spec = tuple[dict[str, Any], dict[str, Callable[[], Any]], frozenset[str]]
_SPECS: dict[type[Event], _Spec] = {}


def _spec(cls: type[Event]) -> _Spec:
    defaults: dict[str, Any] = {}
    factories: dict[str, Callable[[], Any]] = {}
    for name, field in cls.model_fields.items():
        if field.default_factory is not None:
            factories[name] = field.default_factory  # type: ignore[assignment]
        elif not field.is_required():
            defaults[name] = field.default
    spec = _SPECS[cls] = (defaults, factories, frozenset(cls.model_fields))
    return spec


_E = TypeVar("_E", bound=Event)


def _new(cls: type[_E], values: dict[str, Any]) -> _E:
    """Build a model from already-validated values without a validation pass.

    Missing optional fields get their defaults; the result is indistinguishable from
    ``cls(**values)`` for valid values (the tests hold every builder to that).
    """
    spec = _SPECS.get(cls) or _spec(cls)
    names = spec[2]
    if len(values) != len(names):
        for name, default in spec[0].items():
            if name not in values:
                values[name] = default
        for name, factory in spec[1].items():
            if name not in values:
                values[name] = factory()
    obj = _object_new(cls)
    _set(obj, "__dict__", values)
    _set(obj, "__pydantic_fields_set__", set(names))
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    return obj


_Builder = Callable[[dict[str, Any], "str | None", bool, str], "Event | None"]


class Normalizer:
    """Turns ESL events from one FreeSWITCH node into typed events.

    ``node`` is the configured node name put on every event (with FreeSWITCH's ``Core-UUID``).
    """

    def __init__(self, node: str) -> None:
        self.node = node
        self.raw_counts: Counter[str] = Counter()
        self.bad_fields: Counter[str] = Counter()
        self._builders: dict[str, _Builder] = {
            "CHANNEL_CREATE": self._channel_builder(ChannelCreated),
            "CHANNEL_PROGRESS": self._progress,
            "CHANNEL_PROGRESS_MEDIA": self._progress,
            "CHANNEL_ANSWER": self._channel_builder(ChannelAnswered),
            "CHANNEL_PARK": self._channel_builder(ChannelParked),
            "CHANNEL_UNPARK": self._channel_builder(ChannelUnparked),
            "CHANNEL_BRIDGE": self._channel_builder(ChannelBridged),
            "CHANNEL_UNBRIDGE": self._channel_builder(ChannelUnbridged),
            "CHANNEL_HOLD": self._channel_builder(ChannelHeld),
            "CHANNEL_UNHOLD": self._channel_builder(ChannelUnheld),
            "CHANNEL_EXECUTE_COMPLETE": self._execute_complete,
            "DTMF": self._dtmf,
            "CHANNEL_HANGUP_COMPLETE": self._hangup,
            "BACKGROUND_JOB": self._job,
            "HEARTBEAT": self._heartbeat,
            "SHUTDOWN": self._shutdown,
        }
        self._custom: dict[str, _Builder] = {
            "sofia::register": self._endpoint_builder(EndpointRegistered),
            "sofia::unregister": self._endpoint_builder(EndpointUnregistered),
            "sofia::expire": self._endpoint_builder(EndpointExpired),
            "avmd::beep": self._avmd_beep,
        }

    # -- entry points -----------------------------------------------------------------------

    def from_frame(self, frame: Frame) -> Event | None:
        """An event frame -> typed event; ``None`` for frames that are not events (replies...)."""
        content_type = frame.content_type
        if content_type == "text/event-json":
            return self.from_json(frame.body)
        if content_type == "text/event-plain":
            return self.from_plain(frame.body)
        if content_type == "text/event-xml":
            raise EventDecodeError("text/event-xml is not supported (subscribe with 'event json')", frame.body)
        return None

    def from_json(self, body: bytes) -> Event:
        """A ``text/event-json`` body -> typed event."""
        headers, inner = parse_json(body)
        return self._dispatch(headers, inner, False, None)

    def from_plain(self, body: bytes) -> Event:
        """A ``text/event-plain`` body -> typed event."""
        headers, inner = parse_plain(body)
        return self._dispatch(headers, inner, False, None)

    def from_headers(
        self,
        headers: Mapping[str, Any],
        body: str | None = None,
        *,
        resync: bool = False,
        event_name: str | None = None,
    ) -> Event:
        """Decoded event headers -> typed event.

        ``resync=True`` marks events rebuilt from ``uuid_dump`` / ``show channels`` answers;
        ``event_name`` overrides ``Event-Name`` (a ``uuid_dump`` says ``CHANNEL_DATA``; the resync
        layer decides which event it stands for, e.g. ``CHANNEL_PARK``).
        The mapping is copied where it is kept (``RawEvent.headers``).
        """
        h = dict(headers)
        if not all(key.__class__ is str for key in h):
            raise EventDecodeError("header names must be strings", repr(list(h)[:5]))
        if body is not None and body.__class__ is not str:
            raise EventDecodeError("event body must be a string", repr(body))
        return self._dispatch(h, body, resync, event_name)

    # -- dispatch ---------------------------------------------------------------------------

    def _dispatch(self, h: dict[str, Any], body: str | None, resync: bool, name: str | None) -> Event:
        if name is None:
            name = h.get("Event-Name")
            if name.__class__ is not str or not name:
                raise EventDecodeError("event without Event-Name", repr(name))
        if name == "CUSTOM":
            sub = h.get("Event-Subclass")
            builder = self._custom.get(sub) if sub.__class__ is str else None
            if builder is None and sub.__class__ is str and sub.startswith("amd::"):
                builder = self._amd_custom
        else:
            builder = self._builders.get(name)
        if builder is not None:
            event = builder(h, body, resync, name)
            if event is not None:
                return event
        return self._raw(h, body, resync, name)

    def _base(self, h: dict[str, Any], resync: bool, name: str) -> dict[str, Any]:
        get = h.get
        stamp = get("Event-Date-Timestamp")
        seq = get("Event-Sequence")
        try:
            timestamp = 0.0 if stamp is None else int(stamp) / 1_000_000
            sequence = None if seq is None else int(seq)
        except (TypeError, ValueError, OverflowError):
            raise EventDecodeError(f"{name}: bad Event-Date-Timestamp/Event-Sequence", f"{stamp!r} {seq!r}") from None
        core = get("Core-UUID")
        return {
            "node": self.node,
            "core_uuid": core if core.__class__ is str else _text(core, "Core-UUID"),
            "timestamp": timestamp,
            "sequence": sequence,
            "resync": resync,
        }

    def _variables(self, h: dict[str, Any]) -> dict[str, str]:
        # A C-speed scan of the key names: most events carry a handful of ctilink variables among
        # ~100 headers. A key with an embedded newline could fake a match in the joined text, so
        # every hit is looked up again and only real keys count.
        joined = "\n".join(h)
        idx = joined.find(_CTILINK_VAR)
        if idx < 0:
            return {}
        out: dict[str, str] = {}
        find = joined.find
        while idx >= 0:
            end = find("\n", idx)
            if idx == 0 or joined[idx - 1] == "\n":
                key = joined[idx:end] if end >= 0 else joined[idx:]
                value = h.get(key)
                if value is not None:
                    out[key[9:]] = value if value.__class__ is str else _text(value, key)  # type: ignore[assignment]
            if end < 0:
                break
            idx = find(_CTILINK_VAR, end)
        return out

    def _channel(self, h: dict[str, Any], resync: bool, name: str) -> dict[str, Any]:
        get = h.get
        uuid = get("Unique-ID")
        if uuid.__class__ is not str or not uuid:
            raise EventDecodeError(f"{name} without a Unique-ID", repr(uuid))
        other = get("Other-Leg-Unique-ID")
        if other is None:
            other = get("Bridge-B-Unique-ID")
            if other == uuid:
                other = get("Bridge-A-Unique-ID")
        direction = get("Call-Direction")
        values = self._base(h, resync, name)
        values["uuid"] = uuid
        values["other_uuid"] = _text(other, "Other-Leg-Unique-ID")
        values["direction"] = direction if direction in _DIRECTIONS else None
        values["channel_name"] = _text(get("Channel-Name"), "Channel-Name")
        values["caller_number"] = _text(get("Caller-Caller-ID-Number"), "Caller-Caller-ID-Number")
        values["caller_name"] = _text(get("Caller-Caller-ID-Name"), "Caller-Caller-ID-Name")
        values["callee_number"] = _text(get("Caller-Callee-ID-Number"), "Caller-Callee-ID-Number")
        values["callee_name"] = _text(get("Caller-Callee-ID-Name"), "Caller-Callee-ID-Name")
        values["destination_number"] = _text(get("Caller-Destination-Number"), "Caller-Destination-Number")
        values["channel_state"] = _text(get("Channel-State"), "Channel-State")
        values["answer_state"] = _text(get("Answer-State"), "Answer-State")
        values["variables"] = self._variables(h)
        return values

    def _channel_builder(self, cls: type[ChannelEvent]) -> _Builder:
        def build(h: dict[str, Any], body: str | None, resync: bool, name: str) -> Event:
            return _new(cls, self._channel(h, resync, name))

        return build

    # -- optional numeric details: lenient, counted ------------------------------------------

    def _number(self, h: dict[str, Any], key: str, scale: float = 1.0) -> float | None:
        value = h.get(key)
        if value is None:
            return None
        try:
            return int(value) / scale if scale != 1.0 else float(int(value))
        except (TypeError, ValueError, OverflowError):
            self.bad_fields[key] += 1
            return None

    def _int(self, h: dict[str, Any], key: str) -> int | None:
        value = h.get(key)
        if value is None:
            return None
        try:
            return int(value)
        except (TypeError, ValueError, OverflowError):
            self.bad_fields[key] += 1
            return None

    def _epoch(self, h: dict[str, Any], key: str) -> float | None:
        seconds = self._number(h, key, 1_000_000.0)
        return seconds if seconds else None  # FreeSWITCH says 0 for "never"

    # -- builders ---------------------------------------------------------------------------

    def _progress(self, h: dict[str, Any], body: str | None, resync: bool, name: str) -> Event:
        values = self._channel(h, resync, name)
        values["media"] = name == "CHANNEL_PROGRESS_MEDIA"
        return _new(ChannelProgress, values)

    def _execute_complete(self, h: dict[str, Any], body: str | None, resync: bool, name: str) -> Event:
        application = _text(h.get("Application"), "Application") or ""
        if application == "amd":
            result = self._amd_result(h)
            if result is not None:
                return self._machine(h, resync, name, result, "amd", False)
        values = self._channel(h, resync, name)
        values["application"] = application
        values["application_data"] = _text(h.get("Application-Data"), "Application-Data")
        values["response"] = _text(h.get("Application-Response"), "Application-Response")
        return _new(ExecuteComplete, values)

    def _dtmf(self, h: dict[str, Any], body: str | None, resync: bool, name: str) -> Event:
        digit = h.get("DTMF-Digit")
        if digit.__class__ is not str or not digit:
            raise EventDecodeError("DTMF without a DTMF-Digit", repr(digit))
        values = self._channel(h, resync, name)
        values["digit"] = digit
        # FreeSWITCH counts DTMF duration in 8 kHz samples whatever the codec rate.
        values["duration_ms"] = self._number(h, "DTMF-Duration", 8.0)
        values["source"] = _text(h.get("DTMF-Source"), "DTMF-Source")
        return _new(DtmfReceived, values)

    def _hangup(self, h: dict[str, Any], body: str | None, resync: bool, name: str) -> Event:
        values = self._channel(h, resync, name)
        cause = _text(h.get("Hangup-Cause"), "Hangup-Cause") or _text(
            h.get("variable_hangup_cause"), "variable_hangup_cause"
        )
        values["cause"] = cause or "NORMAL_CLEARING"
        values["sip_code"] = self._sip_code(h)
        values["created_at"] = self._epoch(h, "Caller-Channel-Created-Time")
        values["answered_at"] = self._epoch(h, "Caller-Channel-Answered-Time")
        values["hungup_at"] = self._epoch(h, "Caller-Channel-Hangup-Time")
        billmsec = self._number(h, "variable_billmsec", 1000.0)
        values["billsec"] = billmsec if billmsec is not None else self._number(h, "variable_billsec")
        mduration = self._number(h, "variable_mduration", 1000.0)
        values["duration"] = mduration if mduration is not None else self._number(h, "variable_duration")
        return _new(ChannelHungUp, values)

    def _sip_code(self, h: dict[str, Any]) -> int | None:
        status = h.get("variable_sip_term_status")
        if status.__class__ is str and len(status) == 3 and status.isascii() and status.isdigit():
            return int(status)
        proto = h.get("variable_proto_specific_hangup_cause")
        if proto.__class__ is str and proto.startswith("sip:"):
            code = proto[4:]
            if len(code) == 3 and code.isascii() and code.isdigit():
                return int(code)
        return None

    def _job(self, h: dict[str, Any], body: str | None, resync: bool, name: str) -> Event:
        job_uuid = h.get("Job-UUID")
        if job_uuid.__class__ is not str or not job_uuid:
            raise EventDecodeError("BACKGROUND_JOB without a Job-UUID", repr(job_uuid))
        values = self._base(h, resync, name)
        values["job_uuid"] = job_uuid
        values["command"] = _text(h.get("Job-Command"), "Job-Command")
        values["command_args"] = _text(h.get("Job-Command-Arg"), "Job-Command-Arg")
        values["body"] = body or ""
        return _new(JobCompleted, values)

    def _heartbeat(self, h: dict[str, Any], body: str | None, resync: bool, name: str) -> Event:
        values = self._base(h, resync, name)
        values["up_time_s"] = self._number(h, "Uptime-msec", 1000.0)
        values["session_count"] = self._int(h, "Session-Count")
        values["sessions_peak"] = self._int(h, "Session-Peak-Max")
        return _new(Heartbeat, values)

    def _shutdown(self, h: dict[str, Any], body: str | None, resync: bool, name: str) -> Event:
        return _new(SwitchShutdown, self._base(h, resync, name))

    def _endpoint_builder(self, cls: type[EndpointEvent]) -> _Builder:
        def build(h: dict[str, Any], body: str | None, resync: bool, name: str) -> Event:
            get = h.get
            user = get("username") or get("from-user") or get("user")
            realm = get("realm") or get("from-host") or get("host") or get("domain_name")
            if user.__class__ is not str or realm.__class__ is not str:
                raise EventDecodeError(f"{get('Event-Subclass')} without a user and realm", f"{user!r} {realm!r}")
            values = self._base(h, resync, name)
            values["user"] = user
            values["realm"] = realm
            values["profile"] = _text(get("profile-name"), "profile-name")
            values["contact"] = _text(get("contact"), "contact")
            values["network_ip"] = _text(get("network-ip"), "network-ip")
            values["network_port"] = self._int(h, "network-port")
            values["user_agent"] = _text(get("user-agent"), "user-agent")
            values["expires"] = self._int(h, "expires")
            values["call_id"] = _text(get("call-id"), "call-id")
            return _new(cls, values)

        return build

    def _machine(self, h: dict[str, Any], resync: bool, name: str, result: str, source: str, beep: bool) -> Event:
        uuid = h.get("Unique-ID")
        if uuid.__class__ is not str or not uuid:
            raise EventDecodeError(f"{name} machine detection without a Unique-ID", repr(uuid))
        values = self._base(h, resync, name)
        values["uuid"] = uuid
        values["result"] = result
        values["source"] = source
        values["beep"] = beep
        values["variables"] = self._variables(h)
        return _new(MachineDetected, values)

    def _avmd_beep(self, h: dict[str, Any], body: str | None, resync: bool, name: str) -> Event:
        # mod_avmd fires each event twice (bare, then with channel data): both become
        # MachineDetected with the same Event-Sequence; the engine treats them idempotently.
        detected = h.get("Beep-Status") == "DETECTED"
        return self._machine(h, resync, name, "machine" if detected else "notsure", "avmd", detected)

    def _amd_result(self, h: dict[str, Any]) -> str | None:
        value = h.get("variable_amd_result") or h.get("amd_result") or h.get("AMD-Result")
        if value.__class__ is not str or not value:
            return None
        return _AMD_RESULTS.get(value.lower(), "notsure")

    def _amd_custom(self, h: dict[str, Any], body: str | None, resync: bool, name: str) -> Event | None:
        result = self._amd_result(h)
        if result is None:
            return None
        return self._machine(h, resync, name, result, "amd", False)

    def _raw(self, h: dict[str, Any], body: str | None, resync: bool, name: str) -> Event:
        subclass = h.get("Event-Subclass")
        if subclass.__class__ is not str and subclass is not None:
            subclass = _text(subclass, "Event-Subclass")
        self.raw_counts[subclass if name == "CUSTOM" and subclass else name] += 1
        values = self._base(h, resync, name)
        values["event_name"] = name
        values["subclass"] = subclass
        values["uuid"] = _text(h.get("Unique-ID"), "Unique-ID")
        values["headers"] = h
        values["body"] = body
        return _new(RawEvent, values)
