"""Against a real FreeSWITCH: set CTILINK_TEST_ESL=host:port:password to run.

Optional: CTILINK_TEST_DIAL (default ``loopback/9664/default``, music on hold in the stock dialplan), a dial string that answers or
parks, so an originated leg stays up until we kill it.
"""

from __future__ import annotations

import os
import random
import socket
import uuid as uuidlib
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from ctilink.commands import Hangup, Originate
from ctilink.core import AgentProfile, Engine, EngineConfig, QueueConfig
from ctilink.core import requests as rq
from ctilink.core.ids import seeded_ids
from ctilink.esl.backoff import Backoff
from ctilink.esl.connection import EslConnection
from ctilink.events import ChannelCreated, ChannelHungUp, ChannelParked, Heartbeat, JobCompleted, Resynced

SPEC = os.environ.get("CTILINK_TEST_ESL", "")
DIAL = os.environ.get("CTILINK_TEST_DIAL", "loopback/9664/default")
WAIT = 15.0

pytestmark = [
    pytest.mark.freeswitch,
    pytest.mark.skipif(not SPEC, reason="set CTILINK_TEST_ESL=host:port:password to run against FreeSWITCH"),
]


def _until(conn: EslConnection, pred: Any, timeout: float = WAIT) -> Any:
    while True:
        event = conn.get(timeout=timeout)
        assert event is not None, "FreeSWITCH sent nothing matching in time"
        if pred(event):
            return event


@pytest.fixture
def conn() -> Any:
    host, port, password = SPEC.rsplit(":", 2)
    registry = CollectorRegistry()
    c = EslConnection(
        "real",
        host,
        int(port),
        password,
        registry=registry,
        backoff=Backoff(initial=0.2, cap=2.0),
        heartbeat_timeout_s=60.0,
    )
    c.start()
    assert c.wait_connected(WAIT), f"could not connect to {host}:{port}"
    yield c
    c.stop()


def test_status_bgapi_originate_kill_reconnect_and_resync(conn: EslConnection) -> None:
    marker = _until(conn, lambda e: isinstance(e, Resynced))
    assert conn.core_uuid and marker.node == "real"

    status = conn.api("status", timeout=WAIT)
    assert status.ok and "FreeSWITCH" in status.body and "is ready" in status.body

    job = conn.bgapi("status", timeout=WAIT).wait(WAIT)
    assert isinstance(job, JobCompleted) and "FreeSWITCH" in job.body

    leg, call_id = str(uuidlib.uuid4()), str(uuidlib.uuid4())
    handle = conn.bgapi(
        Originate(
            uuid=leg,
            job_uuid=str(uuidlib.uuid4()),
            dial_string=DIAL,
            variables={"ctilink_call_id": call_id, "ctilink_role": "customer"},
        ),
        timeout=WAIT,
    )
    created = _until(conn, lambda e: isinstance(e, ChannelCreated) and e.uuid == leg)
    assert created.variables.get("ctilink_call_id") == call_id and created.core_uuid == conn.core_uuid
    assert handle.wait(WAIT).ok

    # Forced reconnect: the resync must describe the leg that is still up, with its variables.
    conn.reconnect()
    resynced = _until(conn, lambda e: e.resync and isinstance(e, ChannelCreated) and e.uuid == leg)
    assert resynced.variables.get("ctilink_role") == "customer"
    assert leg in _until(conn, lambda e: isinstance(e, Resynced)).uuids

    assert conn.api(Hangup(uuid=leg), timeout=WAIT).ok
    gone = _until(conn, lambda e: isinstance(e, ChannelHungUp) and e.uuid == leg)
    assert not gone.resync
    conn.reconnect()
    assert leg not in _until(conn, lambda e: isinstance(e, Resynced)).uuids


def test_heartbeat_arrives(conn: EslConnection) -> None:
    # FreeSWITCH's default heartbeat interval is 20 s.
    beat = _until(conn, lambda e: isinstance(e, Heartbeat), timeout=45.0)
    assert beat.core_uuid == conn.core_uuid


def test_an_auto_answer_offer_asks_the_phone_to_answer_at_once(conn: EslConnection) -> None:
    # The engine's own offer for an auto_answer queue, sent as the daemon sends it; FreeSWITCH's
    # mod_sofia then sets the INVITE's Call-Info header and intercom parameter on the agent leg.
    _until(conn, lambda e: isinstance(e, Resynced))
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # a phone that never answers
    silent.bind(("127.0.0.1", 0))
    phone = f"sofia/external/aa@127.0.0.1:{silent.getsockname()[1]}"  # the leg waits in its INVITE
    engine = Engine(
        EngineConfig(
            queues=[QueueConfig(name="sales", auto_answer=True)],
            agents=[AgentProfile(id="a1", endpoints=[phone])],
        ),
        id_factory=seeded_ids(random.Random()),
    )
    engine.handle(rq.AgentLogin("a1"), 0.0)
    customer = ChannelParked(uuid=str(uuidlib.uuid4()), variables={"ctilink_queue": "sales"})
    (offer,) = [c for c in engine.handle(customer, 1.0).commands if isinstance(c, Originate)]
    conn.bgapi(offer, timeout=WAIT)
    _until(conn, lambda e: isinstance(e, ChannelCreated) and e.uuid == offer.uuid)
    try:
        call_info = conn.api(f"uuid_getvar {offer.uuid} sip_h_Call-Info", timeout=WAIT)
        params = conn.api(f"uuid_getvar {offer.uuid} sip_invite_params", timeout=WAIT)
        assert call_info.body.strip().endswith(";answer-after=0"), call_info.body
        assert params.body.strip() == "intercom=true", params.body
    finally:
        conn.api(Hangup(uuid=offer.uuid), timeout=WAIT)
        silent.close()
