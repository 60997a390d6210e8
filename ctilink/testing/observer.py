"""An observer's own event-socket connection to a switch, and the timeline of a call-centre run it keeps.

Tests and benchmarks judge ctilink by what the switch reports, with the switch's timestamps
(``Event-Date-Timestamp``), over a connection of their own: the same reading on the fake switch
and on a real FreeSWITCH. A :class:`Timeline` keeps, per channel, when callers parked, when agent
legs (``variable_ctilink_role=agent``) were created, answered and bridged, and who hung up each
caller (``variable_sip_hangup_disposition``: ``recv_*`` the caller left, ``send_*`` the switch
ended it: a dropped caller).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import gevent
import gevent.queue
import gevent.socket
import orjson

from ctilink.esl.framing import FrameReader

__all__ = ["Observer", "Timeline"]


@dataclass
class Timeline:
    """What the observer connection saw, by channel (switch timestamps, seconds)."""

    parked: dict[str, float] = field(default_factory=dict)  # caller uuid -> CHANNEL_PARK
    call_of: dict[str, str] = field(default_factory=dict)  # ctilink_call_id -> caller uuid
    legs: dict[str, tuple[str, str, float]] = field(default_factory=dict)  # leg -> (call id, agent, created)
    leg_answered: dict[str, float] = field(default_factory=dict)
    bridged: dict[str, tuple[str, float]] = field(default_factory=dict)  # caller -> (leg, CHANNEL_BRIDGE)
    leg_gone: dict[str, float] = field(default_factory=dict)
    caller_gone: dict[str, str] = field(default_factory=dict)  # caller -> sip_hangup_disposition
    executed: dict[str, list[str]] = field(default_factory=dict)  # caller -> applications it ran
    on_bridge: list[Any] = field(default_factory=list)
    roles: dict[str, str] = field(default_factory=dict)  # any channel -> its ctilink_role (CHANNEL_CREATE)
    pairs: list[tuple[str, str]] = field(default_factory=list)  # every CHANNEL_BRIDGE (a, b)
    causes: dict[str, str] = field(default_factory=dict)  # any channel -> Hangup-Cause (HANGUP_COMPLETE)

    def observe(self, ev: dict[str, Any]) -> None:
        name = ev.get("Event-Name")
        uuid = ev.get("Unique-ID", "")
        at = int(ev.get("Event-Date-Timestamp", "0")) / 1e6
        role = ev.get("variable_ctilink_role")
        inbound = ev.get("Call-Direction") == "inbound"
        call_id = ev.get("variable_ctilink_call_id")
        if inbound and call_id and role in (None, "customer"):
            self.call_of.setdefault(call_id, uuid)
        if name == "CHANNEL_CREATE" and role:
            self.roles[uuid] = role
        elif name == "CHANNEL_BRIDGE":
            self.pairs.append((ev.get("Bridge-A-Unique-ID", uuid), ev.get("Bridge-B-Unique-ID", "")))
        elif name == "CHANNEL_HANGUP_COMPLETE":
            self.causes[uuid] = ev.get("Hangup-Cause", "")
        if name == "CHANNEL_PARK" and inbound and ev.get("variable_ctilink_queue"):
            self.parked.setdefault(uuid, at)
        elif name == "CHANNEL_CREATE" and role == "agent":
            self.legs[uuid] = (call_id or "", ev.get("variable_ctilink_agent_id", ""), at)
        elif name == "CHANNEL_ANSWER" and uuid in self.legs:
            self.leg_answered.setdefault(uuid, at)
        elif name == "CHANNEL_BRIDGE":
            a, b = ev.get("Bridge-A-Unique-ID", uuid), ev.get("Bridge-B-Unique-ID") or ev.get("Other-Leg-Unique-ID")
            caller, leg = (a, b) if b in self.legs else (b, a)
            if leg in self.legs and caller and caller not in self.bridged:
                self.bridged[caller] = (leg, at)
                for callback in self.on_bridge:
                    callback(caller)
        elif name == "CHANNEL_EXECUTE" and uuid in self.parked:
            self.executed.setdefault(uuid, []).append(ev.get("Application", ""))
        elif name == "CHANNEL_HANGUP_COMPLETE":
            if uuid in self.legs:
                self.leg_gone[uuid] = at
            elif uuid in self.parked:
                self.caller_gone[uuid] = ev.get("variable_sip_hangup_disposition", "")

    def busy_agents(self, at: float) -> int:
        """Agents with a leg up at ``at`` (ringing or talking)."""
        return len(
            {agent for leg, (_, agent, created) in self.legs.items() if created <= at < self.leg_gone.get(leg, 1e18)}
        )

    def park_to_originate(self, agents: int) -> list[float]:
        """For callers who found an agent free when they arrived: fewer agents busy (a leg up) than
        staffed, after the callers already waiting took theirs. The others wait in the queue, and
        their time is the freed -> offer figure."""
        first: dict[str, float] = {}
        for call_id, _, created in self.legs.values():
            caller = self.call_of.get(call_id)
            if caller in self.parked:
                first[caller] = min(first.get(caller, created), created)
        out = []
        for caller, offered in first.items():
            parked = self.parked[caller]
            waiting = sum(1 for c, t in self.parked.items() if t < parked and first.get(c, 1e18) > parked)
            if self.busy_agents(parked) + waiting < agents:
                out.append(offered - parked)
        return out

    def answer_to_bridge(self) -> list[float]:
        return [at - self.leg_answered[leg] for leg, at in self.bridged.values() if leg in self.leg_answered]

    def freed_to_offer(self) -> list[float]:
        by_agent: dict[str, list[tuple[float, str]]] = {}
        for call_id, agent, created in self.legs.values():
            by_agent.setdefault(agent, []).append((created, call_id))
        out = []
        for leg, gone in self.leg_gone.items():
            if leg not in self.leg_answered:
                continue
            agent = self.legs[leg][1]
            later = sorted(c for c in by_agent.get(agent, []) if c[0] > gone)
            if not later:
                continue
            created, call_id = later[0]
            caller = self.call_of.get(call_id)
            if caller is not None and self.parked.get(caller, gone) < gone:  # it was waiting already
                out.append(created - gone)
        return out


class Observer:
    """The bench's own event-socket connection: events into a Timeline, and api queries."""

    def __init__(self, host: str, port: int, password: str, timeline: Timeline) -> None:
        self.timeline = timeline
        self.address = (host, port)
        self.password = password
        self.replies: gevent.queue.Queue = gevent.queue.Queue()
        self._closing = False
        self._unwanted = 0  # replies owed to send_only(), dropped as they come
        self.connects = 0
        self.sock = self._connect()
        self.greenlet = gevent.spawn(self._read)

    def _connect(self) -> gevent.socket.socket:
        sock = gevent.socket.create_connection(self.address, timeout=10)
        sock.settimeout(None)
        self.reader = FrameReader()
        self.replies = gevent.queue.Queue()  # a new connection owes no replies
        self._unwanted = 0
        self.sock = sock
        self._send(f"auth {self.password}")
        self._send(
            "event json CHANNEL_CREATE CHANNEL_PARK CHANNEL_ANSWER CHANNEL_BRIDGE CHANNEL_EXECUTE CHANNEL_HANGUP_COMPLETE"
        )
        self.connects += 1
        return sock

    def _send(self, line: str) -> None:
        self.sock.sendall(line.encode() + b"\n\n")

    def _read(self) -> None:
        """Read events; when the switch closes the socket (a reload, a restart), connect again:
        what happened meanwhile is lost to the timeline, as it is to any listener."""
        while not self._closing:
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                while not self._closing:
                    try:
                        self._connect()
                        break
                    except OSError:
                        gevent.sleep(0.2)
                continue
            for frame in self.reader.feed(data):
                if frame.content_type == "text/event-json":
                    self.timeline.observe(orjson.loads(frame.body))
                elif frame.content_type in ("api/response", "command/reply") and self._unwanted:
                    self._unwanted -= 1
                elif frame.content_type == "api/response":
                    self.replies.put(frame.body.decode())

    def send_only(self, command: str) -> None:
        """Send a command whose reply does not matter (``bgapi`` of a reload or a restart)."""
        self._unwanted += 1
        self._send(command)

    def api(self, command: str) -> str:
        self._send(f"api {command}")
        reply: str = self.replies.get(timeout=10)
        return reply

    def channel_count(self) -> int:
        body = self.api("show channels as json").strip()
        if not body.startswith("{"):
            raise RuntimeError(f"show channels as json answered {body[:200]!r}")
        return int(json.loads(body).get("row_count", 0))

    def close(self) -> None:
        self._closing = True
        self.greenlet.kill(block=False)
        self.sock.close()
