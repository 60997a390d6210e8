"""The field layout of the KPI rolling windows (:class:`~ctilink.service.kpi_window.RollingWindow`).

Rules: each queue label has one window of :data:`QUEUE_FIELDS` fields, written by the notification
handlers and read back by the snapshot refresh; the occupancy window has one field per state of
:data:`OCC_STATES`, in that order (agent-seconds spent in it). The indices are the contract
between the two sides, so both import them from here.
"""

from __future__ import annotations

from ctilink.core.agent import AgentState

__all__ = [
    "ABN",
    "ABN_SHORT",
    "ANS",
    "ANS_SL",
    "HANDLE_N",
    "HANDLE_SUM",
    "OCC_STATES",
    "OTHER_END",
    "OVF",
    "QUEUE_FIELDS",
    "WAIT_SUM",
]

# Per-queue window fields: stays answered (within the service level), abandoned (short), overflowed,
# otherwise ended; the answered waits' sum; the handled legs' handle-time sum and count.
ANS, ANS_SL, ABN, ABN_SHORT, OVF, OTHER_END, WAIT_SUM, HANDLE_SUM, HANDLE_N = range(9)
QUEUE_FIELDS = 9
# Occupancy window fields: busy states first (on call, wrap-up), then the staffed-but-free ones.
OCC_STATES = (AgentState.ON_CALL, AgentState.WRAP_UP, AgentState.AVAILABLE, AgentState.RESERVED)
