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
from pathlib import Path
from typing import Any

from ctilink.testing.observer import Observer, Timeline

PASSWORD = "bench-secret"
SETTLE_S = 3.0  # after the last caller: longer than ctilink's partner_hangup_grace_s (2 s)


def _config(host: str, port: int, password: str, db: str, agents: int, endpoint: str) -> str:
    rows = [
        f'[[agents]]\nid = "a{i:02d}"\nendpoints = ["{endpoint.format(agent=f"a{i:02d}")}"]\n'
        for i in range(1, agents + 1)
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


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)


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

            parties = SippParties(Path(tmp.name) / "sipp", answer_delay_s=args.answer_delay)
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
