"""Structured logging: structlog, key-value, JSON by default and console on a TTY.

Rules: loggers are bound with ``call_id``, ``uuid``, ``agent_id``, ``queue`` where known; phone numbers in
the keys listed in :data:`NUMBER_KEYS` are masked when configured (privacy rules in many call centres forbid
full numbers in logs). Control characters in any value are escaped by the JSON renderer, so a hostile caller
name cannot forge log lines.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal

import structlog

NUMBER_KEYS = frozenset({"number", "caller_number", "callee_number", "destination_number", "customer_number"})


def mask_number(value: str) -> str:
    """Keep the last 4 digits: enough to recognise a caller, not enough to dial them."""
    if len(value) <= 4:
        return "*" * len(value)
    return "*" * (len(value) - 4) + value[-4:]


def _mask_numbers(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key in NUMBER_KEYS.intersection(event_dict):
        value = event_dict[key]
        if isinstance(value, str):
            event_dict[key] = mask_number(value)
    return event_dict


def configure_logging(
    *,
    fmt: Literal["auto", "json", "console"] = "auto",
    level: str = "info",
    mask_numbers: bool = False,
) -> None:
    """Configure structlog for the daemon (libraries embedding ctilink may configure their own)."""
    if fmt == "auto":
        fmt = "console" if sys.stderr.isatty() else "json"
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if mask_numbers:
        processors.append(_mask_numbers)
    processors.append(structlog.processors.format_exc_info)
    if fmt == "json":
        processors.append(structlog.processors.JSONRenderer())
    else:
        processors.append(structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()))
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
