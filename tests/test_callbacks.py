"""In-process notification callbacks: isolated, time-limited, counted."""

from __future__ import annotations

import gevent
import gevent.event
from prometheus_client import CollectorRegistry

from ctilink.core import notifications as nt
from ctilink.core.agent import AgentState
from ctilink.service.callbacks import Callbacks


def _note() -> nt.AgentStateChanged:
    return nt.AgentStateChanged(
        agent_id="1001", old=AgentState.LOGGED_OUT, new=AgentState.AVAILABLE, reason=None, duration_s=0.0, at=1.0
    )


def test_raising_and_hanging_callbacks_are_isolated_and_counted() -> None:
    registry = CollectorRegistry()
    callbacks = Callbacks(timeout_s=0.05, registry=registry)
    got: list[object] = []
    never = gevent.event.Event()

    def boom(note: object) -> None:
        raise RuntimeError("CRM down")

    def hang(note: object) -> None:
        never.wait()

    callbacks.on(nt.AgentStateChanged, boom)
    callbacks.on(nt.AgentStateChanged, hang)
    callbacks.on(nt.Notification, got.append)  # a base class receives every subclass
    note = _note()
    greenlets = callbacks.dispatch(note)  # returns at once: nothing ran in the caller's greenlet
    assert got == []
    gevent.joinall(greenlets, timeout=5)
    assert all(g.dead for g in greenlets)
    assert got == [note]
    assert callbacks.failures == 2
    assert registry.get_sample_value("ctilink_callback_failures_total", {"type": "AgentStateChanged"}) == 2


def test_unrelated_types_are_not_called() -> None:
    callbacks = Callbacks()
    got: list[object] = []
    callbacks.on(nt.CallEnded, got.append)
    assert callbacks.dispatch(_note()) == []
    assert got == []
