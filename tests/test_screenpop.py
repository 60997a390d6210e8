"""Screen pops through the simulated switch and the real engine: payload, CRM outcomes, order, callbacks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gevent
import pytest

from ctilink.config import CrmConfig, ScreenPopConfig
from ctilink.core import AgentProfile, Engine, EngineConfig, QueueConfig
from ctilink.service.callbacks import Callbacks
from ctilink.service.crm import CrmLookup
from ctilink.service.screenpop import ScreenPop, ScreenPopper
from ctilink.sim import SimulatedSwitch
from ctilink.sim.models import Route

KNOWN = "+15551230001"


def _world(
    lookup: Any, *, timeout_s: float = 2.0, agents: int = 1
) -> tuple[SimulatedSwitch, ScreenPopper, list[ScreenPop]]:
    engine = Engine(
        EngineConfig(
            queues=[QueueConfig(name="support", required_skills={"support": 1}, wrap_up_s=0)],
            agents=[
                AgentProfile(id=f"10{i:02d}", endpoints=[f"user/10{i:02d}"], skills={"support": 5})
                for i in range(1, agents + 1)
            ],
        )
    )
    sim = SimulatedSwitch(engine, seed=3)
    pops: list[ScreenPop] = []
    crm = CrmLookup(CrmConfig(timeout_s=timeout_s, cache_ttl_s=60), lookup=lookup)
    popper = ScreenPopper(pops.append, config=ScreenPopConfig(variables=["ctilink_ivr_*", "ctilink_account"]), crm=crm)
    sim.on_event.append(popper.observe_event)
    sim.on_notification.append(lambda note: popper.observe(note, sim.now))
    sim.route(
        "7000",
        Route(
            {
                "ctilink_queue": "support",
                "ctilink_ivr_choice": "2",
                "ctilink_account": "A-77",
                "ctilink_secret_pin": "1234",
            }
        ),
    )
    sim.add_agents([f"10{i:02d}" for i in range(1, agents + 1)])
    return sim, popper, pops


def _settle(popper: ScreenPopper, count: int) -> None:
    # Pops waiting on the CRM finish in their own greenlets; wait for them, not for a clock.
    for _ in range(2000):
        if popper.pops >= count:
            return
        gevent.sleep(0.001)
    raise AssertionError(f"only {popper.pops} of {count} pops were emitted")


def test_offer_and_answer_pop_with_crm_record_ivr_allowlist_and_history() -> None:
    records = {KNOWN: {"id": "C-1", "name": "Alice Example", "tier": "gold"}}
    sim, popper, pops = _world(lambda number: records.get(number))
    sim.inbound_call(destination="7000", caller_number="5551230001", caller_name="ALICE")
    sim.run_for(60)
    _settle(popper, 2)
    assert [p.phase for p in pops] == ["offered", "answered"]
    offered, answered = pops
    assert offered.customer_number == KNOWN and offered.customer_number_raw == "5551230001"
    assert offered.customer_name == "ALICE" and offered.dialed_number == "7000"
    assert offered.direction == "inbound" and offered.queue == "support" and offered.agent_id == "1001"
    assert dict(offered.ivr) == {"ctilink_ivr_choice": "2", "ctilink_account": "A-77"}  # the PIN is not allowed
    assert offered.crm_status == "found" and offered.customer == records[KNOWN]
    assert not offered.new_customer and offered.fields_to_fill == ()
    assert answered.uuid == offered.uuid and answered.call_id == offered.call_id
    assert answered.agent_uuid == offered.agent_uuid != offered.uuid
    assert answered.wait_s >= offered.wait_s >= 0
    # The second pop of the call used the cached record: the CRM was asked once.
    assert popper.crm.calls == 1


def test_unknown_number_pops_as_new_customer_with_fields_to_fill() -> None:
    sim, popper, pops = _world(lambda number: None)
    sim.inbound_call(destination="7000", caller_number="+442071838750")
    sim.run_for(60)
    _settle(popper, 2)
    assert pops[0].customer_number == "+442071838750"
    assert pops[0].crm_status == "new" and pops[0].new_customer
    assert pops[0].fields_to_fill == ("name", "email", "company", "notes")


def test_failing_crm_pops_with_failed_marker() -> None:
    def broken(number: str) -> Mapping[str, Any] | None:
        raise ConnectionError("crm down")

    sim, popper, pops = _world(broken)
    sim.inbound_call(destination="7000", caller_number="5551230002")
    sim.run_for(60)
    _settle(popper, 2)
    assert [p.crm_status for p in pops] == ["failed", "failed"]
    assert "crm down" in (pops[0].crm_error or "")
    assert popper.crm.calls == 1  # one lookup per call, shared by its pops
    # Failures are not cached: the next lookup of the same number asks the CRM again.
    assert popper.crm.lookup("+15551230002").status == "failed"
    assert popper.crm.calls == 2


def test_hanging_crm_pops_with_timeout_marker_and_keeps_order() -> None:
    def hangs(number: str) -> Mapping[str, Any] | None:
        gevent.sleep(30)
        return {"never": True}

    sim, popper, pops = _world(hangs, timeout_s=0.05)
    sim.inbound_call(destination="7000", caller_number="5551230003")
    sim.run_for(60)  # the engine ran the whole call while the CRM hung: nothing waited on it
    assert sim.engine.snapshot(sim.now).agent("1001").calls_answered == 1
    _settle(popper, 2)
    assert [(p.phase, p.crm_status) for p in pops] == [("offered", "timeout"), ("answered", "timeout")]


def test_withheld_and_garbage_caller_ids_still_pop() -> None:
    sim, popper, pops = _world(lambda number: None)
    sim.inbound_call(destination="7000", caller_number="not\x00a number")
    sim.run_for(60)
    _settle(popper, 2)
    assert pops[0].customer_number is None
    assert pops[0].customer_number_raw is not None and "\x00" not in pops[0].customer_number_raw


def test_preview_pop_is_outbound_for_the_dialer() -> None:
    pops: list[ScreenPop] = []
    popper = ScreenPopper(pops.append, crm=CrmLookup(lookup=lambda n: {"id": "C-9"} if n == KNOWN else None))
    popper.preview(agent_id="1001", number=KNOWN, now=5.0, campaign="renewals", name="Bob")
    _settle(popper, 1)
    assert pops[0].phase == "preview" and pops[0].direction == "outbound"
    assert pops[0].campaign == "renewals" and pops[0].customer == {"id": "C-9"}


def test_callbacks_on_screen_pop_survive_a_raising_and_a_hanging_callback() -> None:
    callbacks = Callbacks(timeout_s=0.05)
    got: list[ScreenPop] = []

    def boom(pop: ScreenPop) -> None:
        raise RuntimeError("user bug")

    def hang(pop: ScreenPop) -> None:
        gevent.sleep(30)

    callbacks.on(ScreenPop, boom)
    callbacks.on(ScreenPop, hang)
    callbacks.on(ScreenPop, got.append)
    sim, popper, _pops = _world(lambda number: None, agents=2)
    running: list[gevent.Greenlet] = []
    popper._emit = lambda pop: running.extend(callbacks.dispatch(pop))  # type: ignore[method-assign]
    sim.inbound_call(destination="7000", caller_number="5551230004")
    sim.inbound_call(destination="7000", caller_number="5551230005")
    sim.run_for(60)
    _settle(popper, 4)
    gevent.joinall(running)
    assert len(running) == 12
    assert len(got) == 4
    assert callbacks.failures == 8


@pytest.mark.parametrize("bad", ["../x", "a\r\nb", "1; DROP TABLE"])
def test_hostile_number_is_percent_encoded_into_the_crm_url(bad: str) -> None:
    seen: list[str] = []
    crm = CrmLookup(CrmConfig(url_template="http://127.0.0.1:9/c?phone={number}", timeout_s=0.2))
    import ctilink.service.crm as crm_module

    original = crm_module.http_request
    crm_module.http_request = lambda method, url, **kw: seen.append(url) or (_ for _ in ()).throw(OSError("no"))
    try:
        result = crm.lookup(bad)
    finally:
        crm_module.http_request = original
    assert result.status == "failed"
    assert seen and "?phone=" in seen[0]
    tail = seen[0].split("?phone=", 1)[1]
    assert all(ch not in tail for ch in "/\r\n; &?")
