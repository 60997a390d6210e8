"""ESL framing: bytes off the socket -> whole frames, and frames -> bytes.

Rules:
- A frame is an outer header block (``Name: value`` lines, LF-terminated), one blank line, then
  exactly ``Content-Length`` BYTES of body (no body when there is no ``Content-Length``).
  Nothing else is ever inferred: no readline per header, no guessing from the body.
- :meth:`FrameReader.feed` returns every frame completed by the bytes fed so far and keeps the
  partial tail. It never blocks, never reads a clock and never touches a socket.
- Outer header values are returned exactly as sent (they are not URL-decoded: FreeSWITCH does not
  encode the outer block of event frames; the inner event headers are ``normalize``'s business).
  When a header name repeats, the last value wins (FreeSWITCH's own events repeat names, and
  its JSON serialiser resolves them the same way), except ``Content-Length``: two different
  lengths make the frame's extent ambiguous and that is an error.
- The body is opaque bytes here. Decoding it (UTF-8, JSON, event-plain) belongs to
  ``ctilink.esl.normalize``, which raises its own typed error for a bad body.
- Malformed input raises :class:`FrameError` (a ``ValueError``) *after* the reader has put itself
  back into a sane state, so a caller can count, log and call ``feed`` again. Frames completed
  before the bad bytes in the same call are on the error (``err.frames``); bytes after them stay
  buffered and are parsed by the next ``feed`` (``feed(b"")`` drains without new input).

Theory of operation: the reader holds a list of unparsed chunks that always starts on a frame
boundary. It joins them only when enough bytes have arrived to make progress (a header block is
searched incrementally; once a header block is parsed, the body's size is known and nothing is
joined until all of it is there), so a 16 MiB body arriving in 64 KiB reads costs one join, not
256. Frames that must be dropped but whose extent is known are skipped by counting bytes, never by
buffering them.

Which errors leave the stream usable:

- :class:`FrameSkippedError` (``stream_ok=True``): the bad frame's extent was known (a valid
  ``Content-Length``, or none), and exactly that frame was dropped: stray blank lines between
  frames, a header line without ``": "`` after a valid first line, invalid UTF-8 in the header
  block, a missing ``Content-Type``. The next frame is intact.
- :class:`FrameDesyncError` (``stream_ok=False``): the extent is unknowable, or the bytes show
  that the previous frame's extent was wrong: a header block that does not start the way every
  inbound FreeSWITCH frame does (``Content-Type: `` or ``Content-Length: ``; detected from its
  first bytes, without waiting for a blank line), a missing-digits, negative, non-numeric or
  contradictory ``Content-Length``, a frame larger than ``max_frame_size`` (skipping it by
  counting would trust the very number that is most likely wrong, and blind the session while
  that many bytes go by), or a header block that grows past ``max_header_size`` without a blank
  line. The reader drops the bad header block (or everything up to the next blank line) and
  carries on, but what follows may be the tail of a body: the caller must treat this as
  "reconnect and resync".

The first-line rule holds for inbound event sockets only (mod_event_socket writes every frame
from ``Content-Type: ...`` or, for events, ``Content-Length: ...``); an outbound socket's
``connect`` reply is a serialized event and is not read by this module.

This module must never know about events, the engine, or sockets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

__all__ = [
    "DEFAULT_MAX_FRAME_SIZE",
    "DEFAULT_MAX_HEADER_SIZE",
    "Frame",
    "FrameDesyncError",
    "FrameError",
    "FrameReader",
    "FrameSkippedError",
    "encode_frame",
]

# The largest frame ctilink asks for is the resync's `show channels as json` answer, about
# 1 KiB per channel: 16 MiB is some 16,000 channels, beyond a large node's max-sessions.
# Events are tens of KiB at most (a channel with a big variable set).
DEFAULT_MAX_FRAME_SIZE = 16 * 1024 * 1024
# mod_event_socket builds every inbound outer header block in a fixed buffer of at most 1 KiB
# (event, api/response and reply headers), so 8 KiB is generous; bounding it keeps a stream
# without blank lines from being re-joined and re-scanned forever.
DEFAULT_MAX_HEADER_SIZE = 8 * 1024
# 12 digits is ~1 TB: anything longer cannot be a length FreeSWITCH sent on purpose.
_MAX_LENGTH_DIGITS = 12
_SAMPLE = 80
# How every inbound frame begins; anything else means the previous frame's length lied.
_FRAME_STARTS = (b"Content-Type: ", b"Content-Length: ")
_START_PROBE = max(len(start) for start in _FRAME_STARTS)


class Frame(NamedTuple):
    """One ESL frame: the outer header block and exactly ``Content-Length`` bytes of body.

    Immutable; a named tuple because one is built per frame on the hot path.
    """

    content_type: str
    headers: dict[str, str]
    body: bytes = b""


class FrameError(ValueError):
    """Malformed ESL framing. ``reason`` says what, ``sample`` shows the first bytes involved.

    ``stream_ok`` tells whether the reader is still on a frame boundary (see the module doc);
    ``frames`` holds frames completed before the bad bytes within the same ``feed`` call.
    """

    stream_ok: bool = True

    def __init__(self, reason: str, sample: bytes = b"") -> None:
        super().__init__(f"{reason}: {sample[:_SAMPLE]!r}")
        self.reason = reason
        self.sample = bytes(sample[:_SAMPLE])
        self.frames: list[Frame] = []


class FrameSkippedError(FrameError):
    """The bad frame was dropped whole; the stream is still in sync."""

    stream_ok = True


class FrameDesyncError(FrameError):
    """The frame's extent could not be known; the stream cannot be trusted: reconnect."""

    stream_ok = False


class _Head:
    """A parsed header block waiting for its body."""

    __slots__ = ("content_type", "head_len", "headers", "total")

    def __init__(self, content_type: str, headers: dict[str, str], head_len: int, total: int) -> None:
        self.content_type = content_type
        self.headers = headers
        self.head_len = head_len
        self.total = total


class FrameReader:
    """Incremental ESL frame parser. Feed it bytes in any chunking; get whole frames back."""

    def __init__(
        self,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        max_header_size: int = DEFAULT_MAX_HEADER_SIZE,
    ) -> None:
        if max_frame_size < 1 or max_header_size < 1:
            raise ValueError("max_frame_size and max_header_size must be positive")
        self.max_frame_size = max_frame_size
        self.max_header_size = min(max_header_size, max_frame_size)
        self.reset()

    def reset(self) -> None:
        """Forget everything buffered (after a reconnect)."""
        self._chunks: list[bytes] = []
        self._have = 0
        # Do not join/parse until this many bytes are buffered: progress is impossible before.
        self._need = 0
        # Offset (from the frame start) where the search for the blank line resumes.
        self._scan = 0
        self._head: _Head | None = None
        # Bytes of a dropped frame still to arrive and be thrown away.
        self._discard = 0
        # After a header overflow: drop everything up to and including the next blank line.
        self._skip_to_blank = False
        self._skip_saw_lf = False

    @property
    def buffered(self) -> int:
        """Bytes held for a frame not yet complete."""
        return self._have

    def feed(self, data: bytes) -> list[Frame]:
        """Add ``data``; return every frame it completes, in order. See the module doc for errors."""
        if data:
            if data.__class__ is not bytes:
                data = bytes(data)
            if self._discard:
                if len(data) <= self._discard:
                    self._discard -= len(data)
                    return []
                data = data[self._discard :]
                self._discard = 0
            if self._skip_to_blank:
                data = self._skip_blank(data)
                if not data:
                    return []
            self._chunks.append(data)
            self._have += len(data)
        if not self._have or self._have < self._need:
            return []
        chunks = self._chunks
        buf = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        frames: list[Frame] = []
        try:
            pos = self._parse(buf, frames)
        except FrameError as err:
            err.frames = frames
            self._head = None
            self._need = 0
            self._keep(buf, self._error_pos)
            raise
        self._keep(buf, pos)
        return frames

    # -- internals -------------------------------------------------------------------------

    def _keep(self, buf: bytes, pos: int) -> None:
        """Keep ``buf[pos:]`` as the unparsed tail (it starts on a frame boundary)."""
        n = len(buf)
        if pos >= n:
            self._chunks = []
            self._have = 0
        else:
            self._chunks = [buf[pos:] if pos else buf]
            self._have = n - pos

    def _skip_blank(self, data: bytes) -> bytes:
        """Drop ``data`` up to and including the next blank line (which may straddle chunks)."""
        if self._skip_saw_lf and data[:1] == b"\n":
            self._skip_to_blank = False
            return data[1:]
        idx = data.find(b"\n\n")
        if idx < 0:
            self._skip_saw_lf = data.endswith(b"\n")
            return b""
        self._skip_to_blank = False
        self._skip_saw_lf = False
        return data[idx + 2 :]

    def _parse(self, buf: bytes, frames: list[Frame]) -> int:
        """Parse complete frames from ``buf``; return the offset of the first unconsumed byte.

        On error, sets ``self._error_pos`` to where parsing must resume and raises.
        """
        pos = 0
        n = len(buf)
        append = frames.append
        while pos < n:
            head = self._head
            if head is None:
                if buf[pos] == 10:
                    end = pos
                    while end < n and buf[end] == 10:
                        end += 1
                    self._error_pos = end
                    self._scan = 0
                    raise FrameSkippedError("blank line between frames", buf[pos:end])
                if not buf.startswith(_FRAME_STARTS, pos) and (
                    n - pos >= _START_PROBE or not _starts_like_a_frame(buf[pos:])
                ):
                    self._skip_past_blank_line(buf, pos)
                    raise FrameDesyncError("frame does not start with Content-Type or Content-Length", buf[pos:])
                end = buf.find(b"\n\n", pos + self._scan)
                if end < 0:
                    if n - pos > self.max_header_size:
                        self._skip_past_blank_line(buf, pos)
                        raise FrameDesyncError(
                            f"header block exceeds {self.max_header_size} bytes without a blank line",
                            buf[pos:],
                        )
                    # Resume the search where it stopped (minus one: the blank line may straddle).
                    self._scan = n - pos - 1
                    self._need = n - pos + 1
                    return pos
                self._scan = 0
                head = self._parse_head(buf, pos, end)
            total = head.total
            if pos + total > n:
                self._head = head
                self._need = total
                return pos
            self._head = None
            append(Frame(head.content_type, head.headers, buf[pos + head.head_len : pos + total]))
            pos += total
        self._need = 0
        return pos

    def _skip_past_blank_line(self, buf: bytes, pos: int) -> None:
        """Resume after the next blank line (now, or once it arrives): the nearest point that
        may be a frame boundary."""
        self._scan = 0
        end = buf.find(b"\n\n", pos)
        if end >= 0:
            self._error_pos = end + 2
            return
        self._skip_to_blank = True
        self._skip_saw_lf = buf.endswith(b"\n")
        self._error_pos = len(buf)

    def _parse_head(self, buf: bytes, pos: int, end: int) -> _Head:
        raw = buf[pos:end]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return self._parse_head_slowly(buf, pos, end)
        headers: dict[str, str] = {}
        # Fast path: well-formed blocks (every line has ": ", no repeated names); anything
        # else is diagnosed by the slow path.
        for line in text.split("\n"):
            name, sep, value = line.partition(": ")
            if not sep or not name or name in headers:
                return self._parse_head_slowly(buf, pos, end)
            headers[name] = value
        length_text = headers.get("Content-Length")
        if length_text is None:
            body_len = 0
        elif length_text.isdigit() and length_text.isascii() and len(length_text) <= _MAX_LENGTH_DIGITS:
            body_len = int(length_text)
        else:
            self._error_pos = end + 2
            raise FrameDesyncError(f"bad Content-Length {length_text[:20]!r}", raw)
        content_type = headers.get("Content-Type")
        head_len = end - pos + 2
        total = head_len + body_len
        if content_type and total <= self.max_frame_size:
            return _Head(content_type, headers, head_len, total)
        return self._parse_head_slowly(buf, pos, end)

    def _parse_head_slowly(self, buf: bytes, pos: int, end: int) -> _Head:
        """Find exactly what is wrong with a header block, and how much to skip."""
        raw = buf[pos:end]
        problem = ""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            problem = "invalid UTF-8 in header block"
            text = raw.decode("utf-8", "surrogateescape")
        headers: dict[str, str] = {}
        length_text: str | None = None
        for line in text.split("\n"):
            name, sep, value = line.partition(": ")
            if not sep or not name:
                problem = problem or "header line without ': '"
                continue
            if name == "Content-Length":
                if length_text is not None and length_text != value:
                    self._error_pos = end + 2
                    raise FrameDesyncError("conflicting Content-Length headers", raw)
                length_text = value
            headers[name] = value
        head_len = end - pos + 2
        body_len = 0
        if length_text is not None:
            if not (length_text.isascii() and length_text.isdigit() and len(length_text) <= _MAX_LENGTH_DIGITS):
                self._error_pos = end + 2
                raise FrameDesyncError(f"bad Content-Length {length_text[:20]!r}", raw)
            body_len = int(length_text)
        total = head_len + body_len
        if total > self.max_frame_size:
            self._error_pos = end + 2
            raise FrameDesyncError(f"frame of {total} bytes exceeds max_frame_size {self.max_frame_size}", raw)
        content_type = headers.get("Content-Type")
        if not problem and not content_type:
            problem = "frame without Content-Type"
        if problem:
            available = len(buf) - pos
            if total <= available:
                self._error_pos = pos + total
            else:
                self._discard = total - available
                self._error_pos = len(buf)
            raise FrameSkippedError(problem, raw)
        return _Head(content_type, headers, head_len, total)  # type: ignore[arg-type]


def _starts_like_a_frame(first: bytes) -> bool:
    """Whether ``first`` (the opening bytes of a header block, maybe fewer than a whole header
    name) can still be the start of a ``Content-Type`` or ``Content-Length`` line."""
    for start in _FRAME_STARTS:
        k = min(len(first), len(start))
        if first[:k] == start[:k]:
            return True
    return False


def encode_frame(headers: Mapping[str, str], body: bytes = b"") -> bytes:
    """Render one frame as FreeSWITCH would send it.

    ``Content-Length`` is appended when there is a body and it is not given; a given one must
    match ``len(body)``. Names and values that could end a line or forge a header are refused
    with ``ValueError``, and so is a frame without ``Content-Type``: this is used by fake
    servers, which must not emit by accident a frame the reader would split or reject
    (deliberately broken bytes are written raw).
    """
    lines: list[str] = []
    has_length = False
    for name, value in headers.items():
        if not name or ": " in name or any(c in name for c in "\r\n:") or "\n" in value or "\r" in value:
            raise ValueError(f"unsafe frame header {name!r}: {value[:40]!r}")
        if name == "Content-Length":
            if value != str(len(body)):
                raise ValueError(f"Content-Length {value!r} does not match a body of {len(body)} bytes")
            has_length = True
        lines.append(f"{name}: {value}\n")
    if body and not has_length:
        lines.append(f"Content-Length: {len(body)}\n")
    if not headers.get("Content-Type"):
        raise ValueError("a frame needs a Content-Type")
    lines.append("\n")
    return "".join(lines).encode("utf-8") + body
