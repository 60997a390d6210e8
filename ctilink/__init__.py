"""ctilink: CTI middleware for FreeSWITCH call centres.

The pure pieces load with ``import ctilink`` (typed events, the engine, commands, number lists, the
dialer's pacers, the simulated switch); the I/O pieces (the ESL connection, the daemon, callbacks,
screen pops) load on first use, so a library user who only needs the engine never pulls in gevent's
network stack or the HTTP framework.

    >>> import ctilink
    >>> engine = ctilink.Engine(ctilink.EngineConfig(
    ...     queues=[ctilink.QueueConfig(name="support")],
    ...     agents=[ctilink.AgentProfile(id="1001", endpoints=["user/1001"])]))
    >>> _ = engine.handle(ctilink.requests.AgentLogin("1001"), now=0.0)
    >>> _ = engine.handle(ctilink.requests.AgentReady("1001"), now=0.0)
    >>> effects = engine.handle(ctilink.ChannelParked(
    ...     uuid="4b7c7e0e-8e7a-4c55-9d7b-1f2e3a4b5c6d", caller_number="15551230001",
    ...     variables={"ctilink_queue": "support"}), now=1.0)
    >>> [type(c).__name__ for c in effects.commands]
    ['SetVariables', 'Answer', 'Playback', 'Originate']
    >>> ctilink.render(effects.commands[-1]).verb
    'bgapi'
"""

from typing import Any

from ctilink.commands import UnsafeValueError
from ctilink.core import (
    AgentProfile,
    AgentState,
    CallRecord,
    Disposition,
    Effects,
    Engine,
    EngineConfig,
    EngineSnapshot,
    EscalationStep,
    OverflowAction,
    QueueConfig,
    ScreenDecision,
    Strategy,
    notifications,
    requests,
)
from ctilink.events import *  # noqa: F403  (public API: the typed events)
from ctilink.events import __all__ as _event_names
from ctilink.lists import ListMatcher, normalize_number

__version__ = "0.1.0"

# Loaded on first use, so ``import ctilink`` stays light (no sockets, no HTTP stack).
_LAZY = {
    "render": ("ctilink.esl.render", "render"),
    "on": ("ctilink.service.callbacks", "on"),
    "Callbacks": ("ctilink.service.callbacks", "Callbacks"),
    "ScreenPop": ("ctilink.service.screenpop", "ScreenPop"),
    "EslConnection": ("ctilink.esl.connection", "EslConnection"),
    "Daemon": ("ctilink.service.daemon", "Daemon"),
    "Config": ("ctilink.config", "Config"),
    "load_config": ("ctilink.config", "load_config"),
    "SimulatedSwitch": ("ctilink.sim", "SimulatedSwitch"),
    "PredictivePacer": ("ctilink.dialer.pacer", "PredictivePacer"),
    "CampaignConfig": ("ctilink.dialer.campaign", "CampaignConfig"),
    "SqliteStore": ("ctilink.store", "SqliteStore"),
}


def __getattr__(name: str) -> Any:
    """Lazy public names, e.g. ``ctilink.on(ctilink.ScreenPop, fn)``, ``ctilink.EslConnection``."""
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'ctilink' has no attribute {name!r}")


__all__ = [
    "AgentProfile",
    "AgentState",
    "CallRecord",
    "Disposition",
    "Effects",
    "Engine",
    "EngineConfig",
    "EngineSnapshot",
    "EscalationStep",
    "ListMatcher",
    "OverflowAction",
    "QueueConfig",
    "ScreenDecision",
    "Strategy",
    "UnsafeValueError",
    "normalize_number",
    "notifications",
    "requests",
    *_event_names,
    *_LAZY,
]
