"""Replies matched to the commands that asked for them; a reply that fits none is a desync.

Rules:
- mod_event_socket answers one connection's commands one at a time, in the order received, so
  the oldest command still waiting owns the next reply: a FIFO is the whole correlation. A
  command whose caller stopped waiting (timeout) keeps its slot, and its late reply still
  consumes it; only the end of the session empties the FIFO.
- Before a reply is handed over it must fit its command, as mod_event_socket.c writes them:
  - ``api``: an ``api/response``; or a ``command/reply`` ``-ERR`` (a ``userauth`` listener
    whose API permissions refuse the command);
  - ``bgapi``: a ``command/reply`` ``+OK Job-UUID: <id>`` whose ``Job-UUID`` is the one we
    chose, or a ``-ERR`` refusal that names no other job;
  - anything else (``auth``, ``event``, ``filter``, ``exit``): a ``command/reply``.
  A reply when nothing is pending, of the wrong kind, or naming another job belongs to nothing:
  handing it to the oldest command would shift every later reply onto the wrong command, so
  :class:`~ctilink.esl.desync.StreamDesync` is raised and nothing is settled.
- Known limit: an ``api/response`` that arrives while an ``api`` is pending cannot be told
  from its real answer (api responses carry nothing that names their command).

Theory of operation: one :class:`ReplyQueue` per session, written by the greenlets that send
(under the session's send lock) and read by the session's reader greenlet; gevent switches only
at I/O, so the deque needs no lock of its own.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

import gevent.event

from ctilink.esl.desync import StreamDesync
from ctilink.esl.framing import Frame

__all__ = ["REPLY_TYPES", "Reply", "ReplyQueue"]

REPLY_TYPES = frozenset({"command/reply", "api/response"})


@dataclass(frozen=True, slots=True)
class Reply:
    """A ``command/reply`` (result in ``Reply-Text``) or ``api/response`` (result in the body)."""

    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        """The answer: an api/response's body, or a command/reply's ``Reply-Text``."""
        if self.headers.get("Content-Type") == "command/reply":
            return self.headers.get("Reply-Text", "")
        return self.body.decode("utf-8", "replace")


class _Kind(enum.Enum):
    API = "api"
    BGAPI = "bgapi"
    COMMAND = "command"


@dataclass(slots=True)
class _Pending:
    kind: _Kind
    job_uuid: str | None
    result: gevent.event.AsyncResult


class ReplyQueue:
    """The commands of one session still waiting for their reply, oldest first."""

    def __init__(self) -> None:
        self._pending: deque[_Pending] = deque()

    def __len__(self) -> int:
        return len(self._pending)

    def expect(self, command: str, job_uuid: str | None = None) -> gevent.event.AsyncResult:
        """Register ``command`` (its text as sent) just before it is written; the result gets
        its :class:`Reply`. ``job_uuid`` is the ``Job-UUID`` a ``bgapi`` was sent with."""
        verb = command.split(" ", 1)[0]
        kind = _Kind.API if verb == "api" else _Kind.BGAPI if verb == "bgapi" else _Kind.COMMAND
        result = gevent.event.AsyncResult()
        self._pending.append(_Pending(kind, job_uuid, result))
        return result

    def settle(self, frame: Frame) -> None:
        """Hand ``frame`` (a reply) to the oldest pending command, or raise StreamDesync."""
        if not self._pending:
            raise StreamDesync("reply", "reply with no command outstanding", _sample(frame))
        problem = _mismatch(self._pending[0], frame)
        if problem:
            raise StreamDesync("reply", problem, _sample(frame))
        self._pending.popleft().result.set(Reply(frame.headers, frame.body))

    def fail_all(self, error: BaseException) -> None:
        """The session ended: every command still waiting gets ``error``."""
        pending, self._pending = self._pending, deque()
        for item in pending:
            if not item.result.ready():
                item.result.set_exception(error)


def _mismatch(pending: _Pending, frame: Frame) -> str | None:
    ctype = frame.content_type
    reply_text = frame.headers.get("Reply-Text", "")
    if pending.kind is _Kind.API:
        if ctype == "api/response" or reply_text.startswith("-ERR"):
            return None
        return f"{ctype} {reply_text[:40]!r} while an api command waits for its api/response"
    if ctype != "command/reply":
        return f"{ctype} while a {pending.kind.value} command waits for a command/reply"
    if pending.kind is _Kind.BGAPI and pending.job_uuid is not None:
        named = frame.headers.get("Job-UUID")
        if named is None and reply_text.startswith("+OK Job-UUID: "):
            named = reply_text[len("+OK Job-UUID: ") :].strip()
        if named is not None and named != pending.job_uuid:
            return f"bgapi reply for job {named[:64]!r}, not for the pending job {pending.job_uuid!r}"
        if named is None and reply_text.startswith("+OK"):
            return "bgapi +OK reply that names no job"
    return None


def _sample(frame: Frame) -> bytes:
    head = "".join(f"{k}: {v}\n" for k, v in frame.headers.items()).encode("utf-8", "replace")
    return head + b"\n" + frame.body[:80]
