"""Request bodies: read to their end (Content-Length or chunked), bounded in size and nesting, parsed.

Rules:
- A body is acted on only once it has been read to its end. A chunked body is read through the
  server's decoding input (gevent's ``pywsgi`` decodes chunks and says so with
  ``wsgi.input_terminated``); a server that cannot decode them gets 411 Length Required, and a
  transfer coding other than ``chunked`` is 501: neither is ever taken for an empty body.
- Sizes are bounded before anything is parsed: :data:`SMALL_BODY_BYTES` (64 KiB) for every route
  but the bulk imports, which have ``[api] max_body_bytes``. Larger is 413, whether the size was
  announced or found while reading.
- JSON is UTF-8 (RFC 8259), at most :data:`MAX_JSON_DEPTH` arrays/objects deep (checked on the
  text before ``json.loads``, whose recursion would otherwise end in a RecursionError and a 500),
  without ``NaN``/``Infinity`` and with numbers Python can parse: anything else is 400 or 422 with
  the reason, never a 500.
- A route that takes no body refuses a non-empty one (anything but ``{}``): a request whose body
  says more than the route will do is not half-done.
- :data:`BODY_READ` in the WSGI environ tells the server (``ctilink.service.http``) that the body
  was read to its end; when it is not set, the server closes the connection instead of reading
  an unbounded remainder to keep it alive.
"""

from __future__ import annotations

import json
import re
from typing import Any, NoReturn

import falcon

from ctilink.service.api.errors import ApiError

SMALL_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32

#: WSGI environ key: set once the request body has been read to its end.
BODY_READ = "ctilink.body_read"

# A JSON string (escapes included), and what is left that is not a bracket once strings are gone.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def declares_body(environ: dict[str, Any]) -> bool:
    """Whether the request announces a body (a transfer coding, or a Content-Length above 0)."""
    if environ.get("HTTP_TRANSFER_ENCODING"):
        return True
    length = str(environ.get("CONTENT_LENGTH") or "0").strip()
    return not length.isdigit() or int(length) > 0


def _too_large(max_bytes: int) -> NoReturn:
    raise ApiError(413, "body-too-large", f"body larger than {max_bytes} bytes")


def read_body(req: falcon.Request, max_bytes: int) -> bytes:
    """The whole body, at most ``max_bytes`` long; raises :class:`ApiError` (400, 411, 413, 501)."""
    coding = req.get_header("Transfer-Encoding")
    if coding is not None:
        if coding.strip().lower() != "chunked":
            raise ApiError(501, "unsupported-transfer-encoding", "only the chunked transfer coding is understood")
        if not req.env.get("wsgi.input_terminated"):
            raise ApiError(411, "length-required", "this server cannot read a chunked body: send Content-Length")
        try:
            # The decoding input stops at the last chunk: a short read is the whole body.
            raw = req.stream.read(max_bytes + 1)
        except (OSError, ValueError):
            raise ApiError(400, "bad-chunked-body", "the chunked body is malformed or was cut off") from None
        if len(raw) > max_bytes:
            _too_large(max_bytes)
    else:
        length = req.content_length or 0
        if length > max_bytes:
            _too_large(max_bytes)
        raw = req.stream.read(length) if length else b""
        if len(raw) < length:
            raise ApiError(400, "body-cut-off", f"the body ended after {len(raw)} of {length} bytes")
    req.env[BODY_READ] = True
    return raw


def too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text nests arrays/objects deeper than ``limit`` (brackets in strings do not count)."""
    depth = 0
    for bracket in _NOT_BRACKET.sub("", _STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _invalid(message: str) -> ApiError:
    return ApiError(
        422, "invalid-json", f"body is not JSON: {message[:200]}", [{"path": "(body)", "message": "not valid JSON"}]
    )


def parse_json(raw: bytes) -> Any:
    """The JSON value of a body (an empty body is ``{}``); raises :class:`ApiError` (400, 422)."""
    if not raw.strip():
        return {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid("not UTF-8") from None
    if too_deep(text):
        raise ApiError(
            400,
            "json-too-deep",
            f"JSON nested deeper than {MAX_JSON_DEPTH} arrays/objects",
            [{"path": "(body)", "message": f"nested deeper than {MAX_JSON_DEPTH} levels"}],
        )
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError:  # not reachable past too_deep(); kept so a parser change cannot bring the 500 back
        raise ApiError(400, "json-too-deep", "JSON nested too deep") from None
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, an integer of more digits than Python parses
        raise _invalid(str(exc)) from None


def refuse_body(req: falcon.Request) -> None:
    """For routes that take no body: read what was sent (bounded) and refuse anything but nothing or ``{}``."""
    if parse_json(read_body(req, SMALL_BODY_BYTES)) != {}:
        raise ApiError(
            422,
            "unexpected-body",
            "this route takes no body",
            [{"path": "(body)", "message": "send no body (or {})"}],
        )


__all__ = [
    "BODY_READ",
    "MAX_JSON_DEPTH",
    "SMALL_BODY_BYTES",
    "declares_body",
    "parse_json",
    "read_body",
    "refuse_body",
    "too_deep",
]
