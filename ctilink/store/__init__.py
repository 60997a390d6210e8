"""Persistence: the :class:`Store` interface, the SQLite and Redis engines and the batching writer."""

from ctilink.store.base import WRITE_METHODS, Store, StoreError
from ctilink.store.factory import open_store
from ctilink.store.records import (
    DEFAULT_STICKY_TTL,
    AgentProfile,
    CallRecord,
    CampaignAttempt,
    CampaignContact,
    OutboxItem,
    StickyRecord,
)
from ctilink.store.redis_store import ConstraintError, RedisStore
from ctilink.store.schema import LATEST_VERSION, SchemaTooNewError
from ctilink.store.sqlite import SqliteStore
from ctilink.store.writer import StoreWriter

__all__ = [
    "DEFAULT_STICKY_TTL",
    "LATEST_VERSION",
    "WRITE_METHODS",
    "AgentProfile",
    "CallRecord",
    "CampaignAttempt",
    "CampaignContact",
    "ConstraintError",
    "OutboxItem",
    "RedisStore",
    "SchemaTooNewError",
    "SqliteStore",
    "StickyRecord",
    "Store",
    "StoreError",
    "StoreWriter",
    "open_store",
]
