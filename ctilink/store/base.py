"""The Store interface: what ctilink persists, independent of the engine that keeps it.

Rules:
- No storage detail leaks through this interface: no SQL, no cursors, no Redis keys. Arguments
  and results are plain values and the records of :mod:`ctilink.store.records` /
  :mod:`ctilink.lists.model`, so a Redis engine can implement the same class.
- Every method is synchronous and may block on I/O. The engine never calls a store: the daemon
  loads state at start (``load_list_entries``, ``sticky_load``, ...) and sends writes through a
  :class:`ctilink.store.writer.StoreWriter`, which groups them with :meth:`Store.run_batch`.
- A write method called outside ``run_batch`` is its own atomic, durable unit: when it returns,
  the change has been committed. Inside ``run_batch`` it joins the batch, and the batch is
  committed (or not) as a whole; one failing operation does not undo the others.
- Times are float epoch seconds passed in by the caller; the store never decides what "now" is.

Theory of operation: the methods fall into the areas the daemon needs - list entries, sticky
agent memory, agent profiles and skills, queue/campaign configuration overrides, call records,
campaign contacts and attempts (for the dialer), and the webhook outbox (at-least-once delivery:
enqueue, ``due``, ``mark_delivered``, ``mark_failed`` with the next attempt time or a dead-letter
flag). :data:`WRITE_METHODS` names the methods a StoreWriter may run.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, TypeAlias

from ctilink.dialer.types import Attempt, Contact
from ctilink.lists.model import GLOBAL, Entry, EntryKind, ListName
from ctilink.store.records import (
    DEFAULT_STICKY_TTL,
    AgentProfile,
    CallRecord,
    CampaignAttempt,
    CampaignContact,
    OutboxItem,
    StickyRecord,
)

__all__ = ["WRITE_METHODS", "ConfigKind", "Op", "Outcome", "Store", "StoreError"]

ConfigKind: TypeAlias = Literal["queue", "campaign", "agent_session"]
#: One operation of a batch: called with the store, inside the batch's transaction.
Op: TypeAlias = Callable[["Store"], Any]
#: Result of one batched operation: ``(True, value)`` or ``(False, exception)``.
Outcome: TypeAlias = tuple[bool, Any]

#: Methods a StoreWriter accepts by name (they change state; everything else only reads).
WRITE_METHODS = frozenset(
    {
        "put_list_entries",
        "delete_list_entry",
        "purge_expired_list_entries",
        "sticky_put",
        "sticky_delete",
        "sticky_purge",
        "put_agent",
        "delete_agent",
        "put_config",
        "delete_config",
        "put_call_record",
        "put_contacts",
        "put_attempt",
        "outbox_enqueue",
        "outbox_mark_delivered",
        "outbox_mark_failed",
        "outbox_retry_dead",
    }
)


class StoreError(RuntimeError):
    """The store cannot do what was asked (closed, schema too new, storage failure)."""


class Store(ABC):
    """Persistence for ctilink. See the module rules."""

    # -- batching -----------------------------------------------------------------------------
    @abstractmethod
    def run_batch(self, ops: Sequence[Op]) -> list[Outcome]:
        """Run ``ops`` in one durable commit; each op's outcome is isolated from the others.

        Returns only after the batch is committed. If the commit itself fails, raises and none
        of the ops took effect.
        """

    # -- number lists --------------------------------------------------------------------------
    @abstractmethod
    def put_list_entries(self, entries: Iterable[Entry]) -> int:
        """Insert or replace entries (by key), all or nothing; return how many."""

    @abstractmethod
    def delete_list_entry(
        self, list_name: ListName | str, number: str, *, scope: str = GLOBAL, kind: EntryKind | str = EntryKind.EXACT
    ) -> bool:
        """Delete the entry with this key; False if there was none."""

    @abstractmethod
    def load_list_entries(self, *, now: float | None = None) -> list[Entry]:
        """Every entry (only those live at ``now`` when given)."""

    @abstractmethod
    def purge_expired_list_entries(self, now: float) -> int:
        """Delete entries expired at ``now``; return how many."""

    # -- sticky agent memory -----------------------------------------------------------------
    @abstractmethod
    def sticky_get(self, number: str, queue: str | None, now: float) -> str | None:
        """The agent who last served ``number`` in ``queue`` (None = global), if not expired."""

    @abstractmethod
    def sticky_put(
        self, number: str, queue: str | None, agent_id: str, now: float, ttl: float = DEFAULT_STICKY_TTL
    ) -> None:
        """Remember ``agent_id`` for ``number`` in ``queue`` until ``now + ttl``."""

    @abstractmethod
    def sticky_delete(self, number: str, queue: str | None) -> bool:
        """Forget the sticky agent for ``number`` in ``queue``."""

    @abstractmethod
    def sticky_load(self, now: float) -> list[StickyRecord]:
        """Every sticky record live at ``now`` (for the daemon to load at start)."""

    @abstractmethod
    def sticky_purge(self, now: float) -> int:
        """Delete sticky records expired at ``now``; return how many."""

    # -- agents ------------------------------------------------------------------------------
    @abstractmethod
    def put_agent(self, profile: AgentProfile) -> None:
        """Insert or replace an agent profile and its skills."""

    @abstractmethod
    def get_agent(self, agent_id: str) -> AgentProfile | None: ...

    @abstractmethod
    def list_agents(self) -> list[AgentProfile]: ...

    @abstractmethod
    def delete_agent(self, agent_id: str) -> bool: ...

    @abstractmethod
    def agents_with_skill(self, skill: str, min_level: int = 0) -> list[str]:
        """Ids of agents having ``skill`` at ``min_level`` or above, sorted."""

    # -- configuration overrides ---------------------------------------------------------------
    @abstractmethod
    def put_config(self, kind: ConfigKind, name: str, blob: dict[str, Any], now: float) -> None:
        """Store a queue or campaign configuration override, or an agent's session (a JSON object)."""

    @abstractmethod
    def get_config(self, kind: ConfigKind, name: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def list_configs(self, kind: ConfigKind) -> dict[str, dict[str, Any]]: ...

    @abstractmethod
    def delete_config(self, kind: ConfigKind, name: str) -> bool: ...

    # -- call records ------------------------------------------------------------------------
    @abstractmethod
    def put_call_record(self, record: CallRecord) -> None:
        """Insert or replace the record for ``record.call_id``."""

    @abstractmethod
    def get_call_record(self, call_id: str) -> CallRecord | None: ...

    @abstractmethod
    def find_call_records(
        self,
        *,
        queue: str | None = None,
        customer_number: str | None = None,
        disposition: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 100,
    ) -> list[CallRecord]:
        """Records matching every given filter, newest first; ``since <= started_at < until``."""

    # -- campaigns (for the dialer) ------------------------------------------------------------
    @abstractmethod
    def put_contacts(self, contacts: Iterable[CampaignContact | Contact]) -> int:
        """Insert or replace campaign contacts, all or nothing; return how many. The dialer's
        :class:`~ctilink.dialer.types.Contact` values are converted here, at the store edge
        (:func:`ctilink.store.campaign_records.contact_record`)."""

    @abstractmethod
    def get_contacts(
        self, campaign: str, *, status: str | None = None, due_at: float | None = None, limit: int = 100
    ) -> list[CampaignContact]:
        """Contacts of ``campaign`` (with ``status``; due by ``due_at``), by priority then id."""

    @abstractmethod
    def put_attempt(self, attempt: CampaignAttempt | Attempt) -> None:
        """Insert or replace a dial attempt (its contact must exist); a dialer
        :class:`~ctilink.dialer.types.Attempt` is converted here, at the store edge."""

    @abstractmethod
    def attempts_for(self, campaign: str, contact_id: str) -> list[CampaignAttempt]:
        """Attempts of one contact, oldest first."""

    # -- webhook outbox ----------------------------------------------------------------------
    @abstractmethod
    def outbox_enqueue(self, item: OutboxItem) -> bool:
        """Queue a delivery; False (and no change) if (event_id, endpoint) is already queued."""

    @abstractmethod
    def outbox_due(self, now: float, limit: int = 100) -> list[OutboxItem]:
        """Live deliveries with ``next_attempt_at <= now``, earliest first."""

    @abstractmethod
    def outbox_mark_delivered(self, event_id: str, endpoint: str) -> bool:
        """The delivery succeeded: drop it."""

    @abstractmethod
    def outbox_mark_failed(
        self, event_id: str, endpoint: str, next_at: float, *, error: str | None = None, dead: bool = False
    ) -> bool:
        """Count a failed attempt; retry at ``next_at``, or dead-letter it when ``dead``."""

    @abstractmethod
    def outbox_dead_letters(self, limit: int = 100) -> list[OutboxItem]:
        """Dead-lettered deliveries, oldest first."""

    @abstractmethod
    def outbox_retry_dead(self, event_id: str, endpoint: str, now: float) -> bool:
        """Put a dead letter back in the queue, due at ``now``."""

    # -- lifecycle ---------------------------------------------------------------------------
    @abstractmethod
    def schema_version(self) -> int: ...

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
