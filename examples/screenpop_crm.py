"""Screen pops with a CRM lookup: who is calling, before the agent says hello.

A toy CRM (a local HTTP server answering ``GET /customers?phone=+1555...``) knows some callers.
The daemon runs on the simulated switch with ``crm.url_template`` pointing at it; each pop arrives
through ``ctilink.on(ScreenPop, fn)`` with the customer record, or marked as a new customer with
the fields to fill, or with a clear "lookup failed" status when the CRM errs.

Run: python examples/screenpop_crm.py
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import gevent
import gevent.event
import gevent.pywsgi

import ctilink
from ctilink.config import parse_config
from ctilink.core import Engine
from ctilink.service.callbacks import default_callbacks
from ctilink.service.demo import simulated_daemon
from ctilink.sim import CallerBehaviour, Exponential, LogNormal, SimulatedSwitch

KNOWN = {"+15551240001": {"name": "Kim Example", "tier": "gold", "open_tickets": 2}}


def toy_crm(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    phone = parse_qs(environ.get("QUERY_STRING", "")).get("phone", [""])[0]
    record = KNOWN.get(phone)
    if record is None:
        start_response("404 Not Found", [("Content-Type", "application/json")])
        return [b"{}"]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(record).encode()]


def main(pops_wanted: int = 4, seed: int = 3) -> list[ctilink.ScreenPop]:
    crm = gevent.pywsgi.WSGIServer(("127.0.0.1", 0), toy_crm, log=None)
    crm.start()
    config = parse_config(
        {
            "http": {"enabled": False},
            "metrics": {"enabled": False},
            "crm": {"url_template": f"http://127.0.0.1:{crm.server_port}/customers?phone={{number}}"},
            "queues": [{"name": "support", "wrap_up_s": 5}],
            "agents": [{"id": "1001", "endpoints": ["user/1001"], "skills": {}}],
        }
    )
    sim = SimulatedSwitch(Engine(config.engine_config(), rng=random.Random(seed)), seed=seed)
    sim.add_agents(["1001"])
    caller = CallerBehaviour(patience=Exponential(300), talk=LogNormal(60, 0.3))
    sim.inbound_call("support", caller_number="15551240001", behaviour=caller)  # a known customer
    sim.inbound_call("support", caller_number="15551249999", behaviour=caller, at=1.0)  # a new one

    pops: list[ctilink.ScreenPop] = []
    enough = gevent.event.Event()

    def show(pop: ctilink.ScreenPop) -> None:
        who = pop.customer.get("name") if pop.customer else "new customer: " + ", ".join(pop.fields_to_fill)
        print(f"[{pop.phase}] agent {pop.agent_id}: {pop.customer_number} ({pop.crm_status}) {who}")
        pops.append(pop)
        if len(pops) >= pops_wanted:
            enough.set()

    ctilink.on(ctilink.ScreenPop, show)  # runs in its own greenlet: a slow handler never stalls routing
    daemon = simulated_daemon(config, sim, speed=50.0)
    daemon.start()
    try:
        enough.wait(30)
    finally:
        daemon.stop()
        crm.stop()
        default_callbacks.off(ctilink.ScreenPop, show)
    return pops


if __name__ == "__main__":
    main()
