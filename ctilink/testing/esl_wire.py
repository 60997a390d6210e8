"""ESL wire format as FreeSWITCH writes it: frames, event-plain and event-json bodies.

Rules:
- Byte-exact with FreeSWITCH 1.10: ``Content-Length`` counts bytes; event-plain header values are
  URL-encoded with ``switch_url_encode``'s unsafe set; an event body follows a last
  ``Content-Length`` header; event-json carries the body as ``_body`` plus a string
  ``Content-Length`` member.
- Pure functions plus one tiny blocking reader; no server logic, no channel model.
"""

from __future__ import annotations

import json
import socket

_URL_UNSAFE = set('\r\n "#%&+:;<=>?@[\\]^`{|}')


def url_encode(value: str) -> str:
    """``switch_url_encode``: percent-encode unsafe ASCII and every non-ASCII byte."""
    out = []
    for b in value.encode("utf-8"):
        ch = chr(b)
        if b < 0x20 or b > 0x7E or ch in _URL_UNSAFE:
            out.append(f"%{b:02X}")
        else:
            out.append(ch)
    return "".join(out)


def frame(headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    """One outer frame: header lines, blank line, body (with ``Content-Length`` if non-empty)."""
    lines = [f"{k}: {v}\n" for k, v in headers]
    return ("".join(lines) + "\n").encode() + body


def event_plain_body(headers: dict[str, str], body: str | None) -> bytes:
    text = "".join(f"{k}: {url_encode(v)}\n" for k, v in headers.items())
    if body:
        raw = body.encode("utf-8")
        return (text + f"Content-Length: {len(raw)}\n\n").encode() + raw
    return (text + "\n").encode()


def event_json_body(headers: dict[str, str], body: str | None) -> bytes:
    obj: dict[str, str] = dict(headers)
    if body:
        obj["Content-Length"] = str(len(body.encode("utf-8")))
        obj["_body"] = body
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def event_frame(fmt: str, headers: dict[str, str], body: str | None = None) -> bytes:
    """A ``text/event-plain`` or ``text/event-json`` frame, outer headers in FreeSWITCH's order."""
    payload = event_json_body(headers, body) if fmt == "json" else event_plain_body(headers, body)
    return frame([("Content-Length", str(len(payload))), ("Content-Type", f"text/event-{fmt}")], payload)


def command_reply(text: str, extra: list[tuple[str, str]] | None = None) -> bytes:
    return frame([("Content-Type", "command/reply"), ("Reply-Text", text), *(extra or [])])


def api_response(body: str) -> bytes:
    raw = body.encode("utf-8")
    return frame([("Content-Type", "api/response"), ("Content-Length", str(len(raw)))], raw)


def disconnect_notice(body: str = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n") -> bytes:
    raw = body.encode("utf-8")
    return frame([("Content-Type", "text/disconnect-notice"), ("Content-Length", str(len(raw)))], raw)


def split_frames(data: bytes) -> list[tuple[dict[str, str], bytes]]:
    """Cut a byte string made of whole frames into (outer headers, body) pairs."""
    out = []
    i = 0
    while i < len(data):
        j = data.index(b"\n\n", i)
        headers = dict(line.split(": ", 1) for line in data[i:j].decode("utf-8").split("\n"))
        i = j + 2
        n = int(headers.get("Content-Length", "0"))
        out.append((headers, data[i : i + n]))
        i += n
    return out


class FrameReader:
    """Read whole ESL frames from a blocking (or gevent-patched) socket; for test clients."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("peer closed")
        self.buf += chunk

    def read(self) -> tuple[dict[str, str], bytes]:
        while b"\n\n" not in self.buf:
            self._fill()
        j = self.buf.index(b"\n\n")
        headers = dict(line.split(": ", 1) for line in self.buf[:j].decode("utf-8").split("\n"))
        n = int(headers.get("Content-Length", "0"))
        while len(self.buf) < j + 2 + n:
            self._fill()
        body = self.buf[j + 2 : j + 2 + n]
        self.buf = self.buf[j + 2 + n :]
        return headers, body


def parse_event(headers: dict[str, str], body: bytes) -> dict[str, str]:
    """Decode a text/event-json or text/event-plain frame body into a header dict (``_body`` too)."""
    from urllib.parse import unquote

    if headers.get("Content-Type") == "text/event-json":
        parsed: dict[str, str] = json.loads(body)
        return parsed
    head, _, rest = body.partition(b"\n\n")
    out: dict[str, str] = {}
    for line in head.decode("utf-8").split("\n"):
        if line:
            k, _, v = line.partition(": ")
            out[k] = unquote(v)
    if "Content-Length" in out:
        out["_body"] = rest.decode("utf-8")
    return out
