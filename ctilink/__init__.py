"""ctilink: CTI middleware for FreeSWITCH call centres."""

from typing import Any

from ctilink.events import *  # noqa: F401,F403  (public API: the typed events)

__version__ = "0.1.0"

# Loaded on first use, so ``import ctilink`` stays light (no gevent, no HTTP stack).
_LAZY = {
    "on": ("ctilink.service.callbacks", "on"),
    "ScreenPop": ("ctilink.service.screenpop", "ScreenPop"),
    "Callbacks": ("ctilink.service.callbacks", "Callbacks"),
}


def __getattr__(name: str) -> Any:
    """``ctilink.on(ScreenPop, fn)``: register a callback for a notification type."""
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'ctilink' has no attribute {name!r}")
