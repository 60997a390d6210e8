"""The core: pure, deterministic state machines and skills-based ACD (no I/O).

Entry point: :class:`Engine` (``handle(input, now) -> Effects``, ``tick(now)``,
``next_deadline()``, ``snapshot()``, ``queue_position(call_id)``; number lists and sticky memory:
``load_lists``, ``load_sticky``, ``check_dnc``, ``ensure_dialable``, ``query_list``,
``match_list``, ``sticky_agent``). See docs/engine.md.
"""

from ctilink.core import notifications, requests
from ctilink.core.agent import AgentEvent, AgentState
from ctilink.core.call import CallRecord, CallState, Disposition, OfferOutcome, OfferRecord, TransferRecord
from ctilink.core.config import (
    AgentProfile,
    Announcement,
    EmptyPolicy,
    EngineConfig,
    EscalationStep,
    ListsConfig,
    OverflowAction,
    QueueConfig,
    StickyConfig,
    Strategy,
)
from ctilink.core.effects import Effects
from ctilink.core.engine import Engine
from ctilink.core.errors import CtilinkError, DoNotCallError, IllegalTransition, InputError
from ctilink.core.screening import CallInfo, CandidateAgent, CustomStrategy, ScreenDecision, ScreenHook
from ctilink.core.snapshot import AgentView, CallView, EngineSnapshot, QueueView, WaitingCallView

__all__ = [
    "AgentEvent",
    "AgentProfile",
    "AgentState",
    "AgentView",
    "Announcement",
    "CallInfo",
    "CallRecord",
    "CallState",
    "CallView",
    "CandidateAgent",
    "CtilinkError",
    "CustomStrategy",
    "Disposition",
    "DoNotCallError",
    "Effects",
    "EmptyPolicy",
    "Engine",
    "EngineConfig",
    "EngineSnapshot",
    "EscalationStep",
    "IllegalTransition",
    "InputError",
    "ListsConfig",
    "OfferOutcome",
    "OfferRecord",
    "OverflowAction",
    "QueueConfig",
    "QueueView",
    "ScreenDecision",
    "ScreenHook",
    "StickyConfig",
    "Strategy",
    "TransferRecord",
    "WaitingCallView",
    "notifications",
    "requests",
]
