"""Ids for the pure core: uuid-shaped, and the same for the same seed.

Rule: the engine and the dialer promise that the same inputs give the same outputs, so their
default ids come from an injected (or seeded) ``random.Random``, never from ``uuid4``. They are
shaped like version-4 uuids because FreeSWITCH takes them as channel and job uuids. A process
that lives across restarts (the daemon) injects real ``uuid4`` ids at its edge, so a restarted
daemon cannot hand out an id it already used.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable


def seeded_ids(rng: random.Random) -> Callable[[], str]:
    """A factory of uuid-shaped ids drawn from ``rng`` (deterministic for a seeded ``rng``)."""

    def new_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    return new_id


__all__ = ["seeded_ids"]
