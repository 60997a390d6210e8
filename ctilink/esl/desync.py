"""Evidence that an ESL byte stream has lost its frame boundaries.

Rules:
- ESL frames carry their own length and nothing else marks where one ends: once a
  ``Content-Length`` lies, every later frame is read from the wrong offset, and a reader that
  merely skips what it cannot parse stays connected but blind. So the session is ended (and
  resynced) on the first sign of a slip, never patched up:
  - framing signs, found by :mod:`ctilink.esl.framing` (``FrameDesyncError``): a header block
    that does not start with ``Content-Type:`` / ``Content-Length:``, an unusable or oversized
    ``Content-Length``, a header block without end;
  - an event body whose shape contradicts its ``Content-Type`` (:func:`event_body_problem`): a
    body cut short, or one that swallowed the next frame's headers, never has the shape
    FreeSWITCH serialises;
  - a reply that belongs to no pending command (:mod:`ctilink.esl.replies`).
- A frame that is wrong but whose extent is certain (a bad header line after a valid first
  line, an event the normalizer refuses although its body has the right shape) is not a desync:
  it is skipped and counted.
- Pure functions on bytes: no sockets, no events, no clock.

Theory of operation: :func:`event_body_problem` is only asked about bodies the normalizer has
already refused (a body it decoded has the right shape by construction), so it costs nothing
on the hot path. It checks shape only, never values: URL-encoding and UTF-8 inside values are
the normalizer's business.
"""

from __future__ import annotations

import orjson

__all__ = ["StreamDesync", "event_body_problem"]

_SAMPLE = 120


class StreamDesync(Exception):
    """The stream cannot be trusted any more: end the session, reconnect, resync.

    ``what`` is the kind of input (``frame``, ``event``, ``reply``), ``reason`` what is wrong,
    ``sample`` the first bytes involved.
    """

    def __init__(self, what: str, reason: str, sample: bytes = b"") -> None:
        super().__init__(f"{what}: {reason}")
        self.what = what
        self.reason = reason
        self.sample = bytes(sample[:_SAMPLE])


def event_body_problem(content_type: str, body: bytes) -> str | None:
    """Why ``body`` cannot be a ``text/event-json`` / ``text/event-plain`` body as FreeSWITCH
    writes it, or None if its shape is right (or the type is not one of those two)."""
    if content_type == "text/event-json":
        return _json_problem(body)
    if content_type == "text/event-plain":
        return _plain_problem(body)
    return None


def _json_problem(body: bytes) -> str | None:
    # switch_event_serialize_json writes one object; a short body is cut JSON, a long one has
    # the next frame after the closing brace: both fail to parse.
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return f"text/event-json body of {len(body)} bytes is not JSON"
    if not isinstance(value, dict):
        return "text/event-json body is not a JSON object"
    return None


def _plain_problem(body: bytes) -> str | None:
    # switch_event_serialize: "Name: value\n" lines, then either "\n", or an inner
    # "Content-Length: n\n\n" and exactly n bytes of event body.
    head, sep, rest = body.partition(b"\n\n")
    if not sep:
        return f"text/event-plain body of {len(body)} bytes has no blank line after its headers"
    inner: bytes | None = None
    for line in head.split(b"\n"):
        name, colon, value = line.partition(b": ")
        if not colon or not name:
            return "text/event-plain body has a line that is not a header"
        if name == b"Content-Length":
            inner = value
    if inner is None:
        if rest:
            return f"{len(rest)} bytes after a text/event-plain body without an inner Content-Length"
        return None
    if not (inner.isdigit() and len(inner) <= 12 and int(inner) == len(rest)):
        return f"inner Content-Length {inner[:20]!r} but {len(rest)} bytes of event body"
    return None
