"""Opening the store the configuration names: SQLite (the default) or Redis.

Rules:
- This is the one place that turns ``[store]`` into an engine, so the daemon and every reader it
  opens get the same one. A Redis URL's password never reaches a log line from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ctilink.store.base import Store

if TYPE_CHECKING:
    from ctilink.config import StoreConfig

__all__ = ["open_store"]


def open_store(config: StoreConfig) -> Store:
    """A new store on ``config``'s engine (the caller closes it)."""
    if config.engine == "sqlite":
        from ctilink.store.sqlite import SqliteStore

        return SqliteStore(config.path, synchronous=config.synchronous)
    from ctilink.store.redis_store import RedisStore

    if config.sentinels:
        from urllib.parse import urlsplit

        assert config.service_name is not None  # StoreConfig holds them together
        url = urlsplit(config.url.get_secret_value())
        db = int(url.path.strip("/") or 0)
        return RedisStore.from_sentinel(
            config.sentinel_addresses(), config.service_name, prefix=config.prefix, password=url.password, db=db
        )
    return RedisStore.from_url(config.url.get_secret_value(), prefix=config.prefix)
