"""What the HTTP API needs from the daemon: one :class:`ApiContext` every route and scope rule reads.

Rules: the API holds no state of its own. It reads the engine snapshot and the dialer's live
statistics through this context and sends every change as a request to the engine's single
writer (``submit``); the daemon builds the context at start and swaps ``config`` on a reload.
Its own module so the routes (:mod:`ctilink.service.api.routes`) and the scope rules
(:mod:`ctilink.service.api.scopes`) both import it without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ctilink.config import Config
from ctilink.core import EngineSnapshot
from ctilink.service.api.activity import Activity

__all__ = ["ApiContext"]


@dataclass
class ApiContext:
    """What the routes need from the daemon; every field but ``snapshot`` and ``submit`` is optional."""

    snapshot: Callable[[], EngineSnapshot | None]
    submit: Callable[[object], Any]  # request -> AsyncResult of Effects
    health: Callable[[], dict[str, Any]] = lambda: {"ok": True}
    config: Config = field(default_factory=Config)
    activity: Activity = field(default_factory=Activity)
    hub: Any = None  # EventHub
    webhooks: Any = None  # WebhookService
    query_list: Callable[..., list[Any]] | None = None
    submit_timeout_s: float = 10.0
    campaigns: Callable[[], list[Any]] | None = None  # -> [CampaignStats]
    submit_campaign: Callable[[object], Any] | None = None  # dialer request -> Effects, or the DialerError
    # Waits until every store write submitted so far has committed: list changes are durable
    # before the API acknowledges them.
    durable: Callable[[], None] | None = None
    reload: Callable[[], dict[str, Any]] | None = None  # re-reads the configuration file
