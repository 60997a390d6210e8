"""The agent event stream: Server-Sent Events per agent, with resume by ``Last-Event-ID``.

Rules:
- An agent's stream carries its screen pops, its state changes, and the changes of the calls it
  was offered (offer results, answer, transfer, disconnect, end), in the order the engine made them.
- Every event has an ``id:`` of the form ``<epoch>-<seq>``: ``seq`` grows by one per published
  event across all agents, ``epoch`` is this hub's start. A client that reconnects with
  ``Last-Event-ID`` gets every event of its agent after that id still kept (``window_s`` and
  ``max_events`` per agent), then the live stream: no gap, no duplicate.
- If what the client missed is no longer kept (the window passed, or the daemon restarted: another
  epoch), the stream starts with an ``event: reset`` so the desktop knows to reload its state
  rather than silently miss something.
- Publishing never blocks: it appends to a bounded buffer and puts on each subscriber's queue. A
  subscriber that falls too far behind (``max_events`` queued) is cut off; it resumes by id.

Theory: :class:`EventHub` owns the per-agent buffers and subscriptions; :class:`AgentRouter` knows
which agents a notification concerns (it remembers which agents each live call was offered to).
Neither knows about HTTP: the API's stream responder iterates :meth:`EventHub.stream`.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import gevent.queue
import orjson

from ctilink.core import notifications as nt
from ctilink.service.api.serialize import envelope, note_call_id, note_type

#: Notification types an agent's stream carries about the agent itself.
AGENT_TYPES = frozenset(
    {"AgentStateChanged", "AgentPresenceChanged", "CallOffered", "OfferResult", "CallAnswered", "ScreenPop"}
)
#: Notification types an agent's stream carries about calls it was offered.
CALL_TYPES = frozenset({"CallTransferred", "CallDisconnected", "CallEnded", "OfferResult", "CallAnswered"})


@dataclass(frozen=True, slots=True)
class _Kept:
    seq: int
    mono: float
    frame: bytes


class _Subscriber:
    __slots__ = ("agent_id", "overflowed", "queue")

    def __init__(self, agent_id: str, limit: int) -> None:
        self.agent_id = agent_id
        self.queue: gevent.queue.Queue = gevent.queue.Queue(maxsize=limit)
        self.overflowed = False


class EventHub:
    """Per-agent event buffers and live subscriptions."""

    def __init__(
        self,
        *,
        window_s: float = 300.0,
        max_events: int = 1000,
        keepalive_s: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
        epoch: str | None = None,
    ) -> None:
        self.window_s = window_s
        self.max_events = max_events
        self.keepalive_s = keepalive_s
        self._clock = clock
        self.epoch = epoch if epoch is not None else format(time.time_ns() // 1000, "x")
        self._seq = itertools.count(1)
        self._kept: dict[str, deque[_Kept]] = {}
        self._dropped_upto: dict[str, int] = {}  # highest seq evicted per agent
        self._subs: dict[str, list[_Subscriber]] = {}
        self.published = 0

    # -- publishing (engine greenlet) -----------------------------------------------------------

    def publish(self, agent_ids: Iterable[str], note: object) -> str | None:
        """Publish ``note`` to the streams of ``agent_ids``; returns its event id (None: nobody)."""
        targets = tuple(dict.fromkeys(agent_ids))
        if not targets:
            return None
        seq = next(self._seq)
        event_id = f"{self.epoch}-{seq}"
        body = orjson.dumps(envelope(event_id, note), option=orjson.OPT_NON_STR_KEYS)
        frame = b"id: " + event_id.encode() + b"\nevent: " + note_type(note).encode() + b"\ndata: " + body + b"\n\n"
        now = self._clock()
        for agent_id in targets:
            kept = self._kept.setdefault(agent_id, deque())
            kept.append(_Kept(seq, now, frame))
            self._trim(agent_id, kept, now)
            for sub in self._subs.get(agent_id, ()):
                if sub.overflowed:
                    continue
                try:
                    sub.queue.put_nowait((seq, frame))
                except gevent.queue.Full:
                    sub.overflowed = True  # it resumes by id; we do not grow without bound
        self.published += 1
        return event_id

    def _trim(self, agent_id: str, kept: deque[_Kept], now: float) -> None:
        while kept and (len(kept) > self.max_events or now - kept[0].mono > self.window_s):
            self._dropped_upto[agent_id] = kept.popleft().seq

    # -- subscribing (HTTP greenlets) -----------------------------------------------------------

    def parse_last_id(self, last_event_id: str | None) -> tuple[int | None, bool]:
        """``(seq, same_epoch)`` of a Last-Event-ID header; (None, True) when absent."""
        if not last_event_id:
            return None, True
        epoch, _, seq = last_event_id.strip().rpartition("-")
        if epoch != self.epoch or not seq.isdigit():
            return 0, False
        return int(seq), True

    def stream(self, agent_id: str, last_event_id: str | None = None) -> Iterator[bytes]:
        """The SSE byte stream for one client: backlog after ``last_event_id``, then live events."""
        last, same_epoch = self.parse_last_id(last_event_id)
        sub = _Subscriber(agent_id, self.max_events)
        # Subscribe and copy the backlog in one step (no yield in between): nothing published
        # meanwhile can fall between the two, and the ``seq`` check drops what is in both.
        self._subs.setdefault(agent_id, []).append(sub)
        kept = self._kept.get(agent_id, deque())
        self._trim(agent_id, kept, self._clock())
        backlog = [(k.seq, k.frame) for k in kept if last is not None and k.seq > last]
        lost = last is not None and (not same_epoch or self._dropped_upto.get(agent_id, 0) > last)
        return self._iterate(sub, backlog, lost, last or 0)

    def _iterate(self, sub: _Subscriber, backlog: list[tuple[int, bytes]], lost: bool, last: int) -> Iterator[bytes]:
        try:
            head = b"retry: 2000\n"
            if lost:
                head += b'event: reset\ndata: {"reason":"events missed are no longer kept; reload state"}\n\n'
            yield head + b": connected\n\n"
            for seq, frame in backlog:
                last = seq
                yield frame
            while not sub.overflowed:
                try:
                    seq, frame = sub.queue.get(timeout=self.keepalive_s)
                except gevent.queue.Empty:
                    yield b": keepalive\n\n"
                    continue
                if seq <= last:
                    continue
                last = seq
                yield frame
        finally:
            subs = self._subs.get(sub.agent_id, [])
            if sub in subs:
                subs.remove(sub)

    def subscribers(self, agent_id: str | None = None) -> int:
        if agent_id is not None:
            return len(self._subs.get(agent_id, ()))
        return sum(len(s) for s in self._subs.values())


class AgentRouter:
    """Which agents' streams a notification goes to (remembers the agents offered each call)."""

    def __init__(self) -> None:
        self._call_agents: dict[str, dict[str, None]] = {}

    def agents_for(self, note: object) -> tuple[str, ...]:
        kind = note_type(note)
        out: dict[str, None] = {}
        agent_id = getattr(note, "agent_id", None)
        if kind in AGENT_TYPES and isinstance(agent_id, str):
            out[agent_id] = None
            if isinstance(note, nt.CallOffered):
                self._call_agents.setdefault(note.call_id, {})[note.agent_id] = None
        if kind in CALL_TYPES:
            call_id = note_call_id(note)
            if call_id is not None:
                out.update(self._call_agents.get(call_id, {}))
            if isinstance(note, nt.CallTransferred) and note.from_agent_id:
                out[note.from_agent_id] = None
        if isinstance(note, nt.CallEnded):
            self._call_agents.pop(note.record.call_id, None)
        return tuple(out)


__all__ = ["AGENT_TYPES", "CALL_TYPES", "AgentRouter", "EventHub"]
