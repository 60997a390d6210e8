"""What the KPI state gauges read from an engine snapshot, and the derived KPIs of the rolling windows.

Rules:
- The snapshot is the truth for state: agents per state and per not-ready reason, calls waiting
  and ringing per queue, the oldest wait. These counts replace whatever the notifications implied
  (they cannot know the state from before a restart).
- Waiting calls are counted from the snapshot's calls, not from ``QueueView.waiting``: ringing
  calls count too, and the wait shown is the caller's (across overflows), the wait the service
  level is judged on.
- The derived KPIs divide rolling-window sums (fields of :mod:`ctilink.service.kpi_fields`); a
  ratio with nothing to divide by is NaN, never 0 (no calls is not a perfect service level).
  Exact definitions are in ``docs/metrics.md``:
  service level = answered within threshold / (answered + abandoned after the short threshold);
  abandon rate = abandoned (not short) / stays ended (short abandons excluded);
  ASA = wait sum / answered; AHT = handle sum / handled legs;
  occupancy = (on-call + wrap-up) / (on-call + wrap-up + available + reserved) agent-seconds.

This module only computes: the label functions are passed in, and nothing here touches Prometheus.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

from ctilink.core.agent import AgentState
from ctilink.core.call import CallState
from ctilink.core.snapshot import EngineSnapshot
from ctilink.service.kpi_fields import ABN, ANS, ANS_SL, HANDLE_N, HANDLE_SUM, OTHER_END, OVF, WAIT_SUM
from ctilink.service.metric_labels import NO_CODE

__all__ = ["QueueCalls", "count_agents", "count_queue_calls", "occupancy_ratio", "queue_ratios"]

#: Calls per queue label: waiting (not yet ringing an agent), ringing an agent, the oldest wait.
QueueCalls = tuple[dict[str, int], dict[str, int], dict[str, float]]


def count_agents(
    snapshot: EngineSnapshot, reason_label: Callable[[object], str], known_reasons: Iterable[str]
) -> tuple[dict[AgentState, int], dict[str, int]]:
    """Agents per state, and not-ready agents per reason label (every known reason present, maybe 0)."""
    counts = {s: 0 for s in AgentState}
    not_ready: dict[str, int] = {r: 0 for r in known_reasons}
    for view in snapshot.agents:
        counts[view.state] += 1
        if view.state is AgentState.NOT_READY:
            reason = reason_label(view.reason) if view.reason else NO_CODE
            not_ready[reason] = not_ready.get(reason, 0) + 1
    return counts, not_ready


def count_queue_calls(snapshot: EngineSnapshot, queue_label: Callable[[str | None], str]) -> QueueCalls:
    """Calls waiting and ringing per queue label, and the longest current wait among them."""
    waiting: dict[str, int] = {}
    offering: dict[str, int] = {}
    oldest: dict[str, float] = {}
    for call in snapshot.calls:
        if call.state is CallState.QUEUED:
            counts_by_queue = waiting
        elif call.state is CallState.OFFERING:
            counts_by_queue = offering
        else:
            continue
        label = queue_label(call.queue)
        counts_by_queue[label] = counts_by_queue.get(label, 0) + 1
        if call.wait_s > oldest.get(label, 0.0):
            oldest[label] = call.wait_s
    return waiting, offering, oldest


def queue_ratios(t: Sequence[float]) -> tuple[float, float, float, float]:
    """Service level, abandon rate, ASA and AHT from one queue's window totals (NaN: nothing to divide)."""
    handled = t[ANS] + t[ABN]
    ended = handled + t[OVF] + t[OTHER_END]
    return (
        t[ANS_SL] / handled if handled else math.nan,
        t[ABN] / ended if ended else math.nan,
        t[WAIT_SUM] / t[ANS] if t[ANS] else math.nan,
        t[HANDLE_SUM] / t[HANDLE_N] if t[HANDLE_N] else math.nan,
    )


def occupancy_ratio(occ: Sequence[float]) -> float:
    """Busy over staffed agent-seconds from the occupancy window's totals (NaN: nobody staffed)."""
    busy = occ[0] + occ[1]
    staffed = busy + occ[2] + occ[3]
    return busy / staffed if staffed else math.nan
