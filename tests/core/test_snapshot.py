"""The read-only views: what the supervisor's control panel shows."""

from __future__ import annotations

from core_switch import make_switch


def test_wait_counts_from_time_zero() -> None:
    # A call that entered the queue at t=0.0 has waited 12 s at t=12 (0.0 is a time, not "unknown").
    sw = make_switch()
    sw.park("00000000-0000-4000-8000-000000000001", at=0.0)
    waiting = sw.engine.snapshot(12.0).queue("support").waiting
    assert [round(c.wait_s, 3) for c in waiting] == [12.0]
    call = next(c for c in sw.engine.snapshot(12.0).calls)
    assert round(call.wait_s, 3) == 12.0
