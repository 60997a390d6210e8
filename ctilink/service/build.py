"""How the daemon builds its engine and dialer from a configuration, and the ids it gives them.

Rules:
- :func:`build_engine` is the one construction: :meth:`Daemon.live <ctilink.service.daemon.Daemon.live>`
  runs with what it returns and ``ctilink check-config`` (:mod:`ctilink.config_checks`) builds the
  same and throws it away, so whatever the engine or the dialer refuses at start (a strategy no
  engine knows) is refused there too. It opens nothing: no store, no socket.
- The daemon outlives restarts and must never reuse an id: both get real uuid4s from
  :func:`new_uuid`, injected here at the edge (the core's and the dialer's defaults are seeded,
  deterministic ids for tests and simulations).
"""

from __future__ import annotations

import uuid

from ctilink.config import Config
from ctilink.core import Engine
from ctilink.dialer.dialer import Dialer

__all__ = ["build_engine", "new_uuid"]


def new_uuid() -> str:
    """A fresh uuid4: the daemon's ids for the engine and the dialer."""
    return str(uuid.uuid4())


def build_engine(config: Config) -> tuple[Engine, Dialer]:
    """The engine and the dialer holding the configured campaigns, as the live daemon starts them."""
    engine = Engine(config.engine_config(), id_factory=new_uuid)
    dialer = Dialer(dnc=getattr(engine, "check_dnc", None), id_factory=new_uuid)
    for campaign in config.campaigns:
        dialer.add_campaign(campaign)
    return engine, dialer
