"""The hand-off: callers at R calls/s reaching agents who answer after a delay, through the daemon.

What is measured is what a caller and an agent live through, read from the switch's own events
(their ``Event-Date-Timestamp``) by an observer connection of the bench's own, so the figures
mean the same on the fake switch and on a real FreeSWITCH:

- park -> originate: the caller's CHANNEL_PARK to the CHANNEL_CREATE of the first agent leg
  ctilink originates for it (``variable_ctilink_call_id``), for callers who found an agent free;
- answer -> bridge: the agent leg's CHANNEL_ANSWER to the caller's CHANNEL_BRIDGE with it: the
  silence both hear;
- freed -> offer: an agent leg's CHANNEL_HANGUP_COMPLETE to the agent's next agent leg, for a
  caller that was already waiting;
- answered: callers bridged to an agent leg; dropped: callers the switch hung up
  (``variable_sip_hangup_disposition`` ``send_*``; a caller who leaves is ``recv_*``);
- leaked legs: channels left on the switch (``show channels as json``) once every caller is gone
  and ctilink's grace for bridged partners (2 s) has passed.

Parties: on the fake switch (``ctilink.testing.fake_switch``, in this process, strict about
originate ownership as FreeSWITCH is) the callers are its inbound calls and the agents its
endpoints; with ``--freeswitch host:port:password`` they are SIPp user agents (Debian's
``sip-tester``): callers dialling 7000 on the ``external`` profile (127.0.0.1:5080), agents on
127.0.0.1:5090 answering after the delay. The daemon (``Daemon.live``) runs in a child process.
A caller hangs up ``--talk`` seconds after its bridge (fake) or after FreeSWITCH answers it (SIPp,
which cannot see the bridge: its talk then includes its wait).

Run:  python bench/handoff.py [--calls 300 --cps 20 --agents 20 --answer-delay 0.5 --talk 2]
      python bench/handoff.py --freeswitch 127.0.0.1:8021:ClueCon
Final line: {"calls": N, "cps": R, "answered": A, "dropped": D, "leaked_legs": L,
             "park_to_originate_p50_ms": x, "park_to_originate_p99_ms": y, "freed_to_offer_p50_ms": z,
             "answer_to_bridge_p50_ms": .., "answer_to_bridge_p99_ms": ..}
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PASSWORD = "bench-secret"
SETTLE_S = 3.0  # after the last caller: longer than ctilink's partner_hangup_grace_s (2 s)


def _config(host: str, port: int, password: str, db: str, agents: int, endpoint: str) -> str:
    rows = [
        f'[[agents]]\nid = "a{i:02d}"\nendpoints = ["{endpoint.format(agent=f"a{i:02d}")}"]\n' for i in range(1, agents + 1)
    ]
    return f"""
[[nodes]]
name = "bench"
host = "{host}"
port = {port}
password = "{password}"

[http]
enabled = false

[metrics]
enabled = false

[store]
path = "{db}"

[logging]
level = "warning"
format = "json"

[[queues]]
name = "support"
wrap_up_s = 0
ring_timeout_s = 30
""" + "\n".join(rows)


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
    on_bridge: list[Any] = field(default_factory=list)

    def observe(self, ev: dict[str, Any]) -> None:
        name = ev.get("Event-Name")
        uuid = ev.get("Unique-ID", "")
        at = int(ev.get("Event-Date-Timestamp", "0")) / 1e6
        role = ev.get("variable_ctilink_role")
        inbound = ev.get("Call-Direction") == "inbound"
        call_id = ev.get("variable_ctilink_call_id")
        if inbound and call_id and role in (None, "customer"):
            self.call_of.setdefault(call_id, uuid)
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
        """For callers who found an agent free when they arrived (the others wait in the queue:
        their time is the freed -> offer figure)."""
        first: dict[str, float] = {}
        for call_id, _, created in self.legs.values():
            caller = self.call_of.get(call_id)
            if caller in self.parked:
                first[caller] = min(first.get(caller, created), created)
        return [t - self.parked[c] for c, t in first.items() if self.busy_agents(self.parked[c]) < agents]

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


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)


class Observer:
    """The bench's own event-socket connection: events into a Timeline, and api queries."""

    def __init__(self, host: str, port: int, password: str, timeline: Timeline) -> None:
        import gevent.queue
        import gevent.socket

        from ctilink.esl.framing import FrameReader

        self.timeline = timeline
        self.sock = gevent.socket.create_connection((host, port), timeout=10)
        self.sock.settimeout(None)
        self.reader = FrameReader()
        self.replies: gevent.queue.Queue = gevent.queue.Queue()
        self._send(f"auth {password}")
        self._send("event json CHANNEL_CREATE CHANNEL_PARK CHANNEL_ANSWER CHANNEL_BRIDGE CHANNEL_HANGUP_COMPLETE")
        import gevent

        self.greenlet = gevent.spawn(self._read)

    def _send(self, line: str) -> None:
        self.sock.sendall(line.encode() + b"\n\n")

    def _read(self) -> None:
        import orjson

        while True:
            data = self.sock.recv(65536)
            if not data:
                return
            for frame in self.reader.feed(data):
                if frame.content_type == "text/event-json":
                    self.timeline.observe(orjson.loads(frame.body))
                elif frame.content_type == "api/response":
                    self.replies.put(frame.body.decode())

    def api(self, command: str) -> str:
        self._send(f"api {command}")
        reply: str = self.replies.get(timeout=10)
        return reply

    def channel_count(self) -> int:
        body = self.api("show channels as json").strip()
        return int(json.loads(body).get("row_count", 0)) if body.startswith("{") else -1

    def close(self) -> None:
        self.greenlet.kill(block=False)
        self.sock.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    import gevent

    from ctilink.testing.fake_switch import Endpoint, FakeSwitch

    timeline = Timeline()
    tmp = tempfile.TemporaryDirectory(prefix="ctilink-bench-")
    switch: FakeSwitch | None = None
    parties: Any = None
    if args.freeswitch:
        host, port_text, password = args.freeswitch.split(":", 2)
        port = int(port_text)
        endpoint = "sofia/external/{agent}@127.0.0.1:5090"
    else:
        switch = FakeSwitch(password=PASSWORD, heartbeat_interval=20.0, time_scale=1.0)
        switch.set_endpoint("user/", Endpoint("answer", delay_s=args.answer_delay))
        switch.start()
        host, port, password, endpoint = switch.host, switch.port, PASSWORD, "user/{agent}"
    config_path = Path(tmp.name) / "ctilink.toml"
    config_path.write_text(_config(host, port, password, str(Path(tmp.name) / "ctilink.db"), args.agents, endpoint))
    observer = Observer(host, port, password, timeline)
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("daemon_load.py")), "--daemon", str(config_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    gevent.get_hub().threadpool.spawn(child.stdout.readline).get(timeout=120)
    try:
        if switch is not None:
            fake = switch
            timeline.on_bridge.append(lambda caller: gevent.spawn_later(args.talk, fake.hangup, caller))
            for i in range(args.calls):
                fake.inbound_call(f"1555010{i:04d}", f"caller{i}", "7000", {"ctilink_queue": "support"})
                gevent.sleep(1.0 / args.cps)
        else:
            from ctilink.testing.sipp import SippParties

            parties = SippParties(tmp.name, agents=args.agents, answer_delay_s=args.answer_delay)
            parties.start_agents()
            parties.call(calls=args.calls, cps=args.cps, talk_s=args.talk)
        deadline = time.monotonic() + args.calls / args.cps + 120
        while len(timeline.caller_gone) < args.calls and time.monotonic() < deadline:
            gevent.sleep(0.2)
        gevent.sleep(SETTLE_S)
        leaked = observer.channel_count()
    finally:
        child.terminate()
        child.wait(30)
        observer.close()
        if parties is not None:
            parties.stop()
        if switch is not None:
            switch.stop()
        tmp.cleanup()
    p2o = timeline.park_to_originate(args.agents)
    print(json.dumps({"callers_finding_a_free_agent": len(p2o)}), file=sys.stderr)
    a2b = timeline.answer_to_bridge()
    return {
        "calls": args.calls,
        "cps": args.cps,
        "answered": len(timeline.bridged),
        "dropped": sum(1 for d in timeline.caller_gone.values() if d.startswith("send_")),
        "leaked_legs": leaked,
        "park_to_originate_p50_ms": _pct(p2o, 0.5),
        "park_to_originate_p99_ms": _pct(p2o, 0.99),
        "freed_to_offer_p50_ms": _pct(timeline.freed_to_offer(), 0.5),
        "answer_to_bridge_p50_ms": _pct(a2b, 0.5),
        "answer_to_bridge_p99_ms": _pct(a2b, 0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--cps", type=float, default=20.0)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--answer-delay", type=float, default=0.5, help="seconds an agent's phone rings")
    parser.add_argument("--talk", type=float, default=2.0, help="seconds a caller talks")
    parser.add_argument("--freeswitch", help="host:port:password of a real FreeSWITCH (SIPp parties)")
    args = parser.parse_args()
    from bench_lock import one_benchmark_at_a_time

    with one_benchmark_at_a_time():
        result = run(args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
