"""Writes what the engine announces to the store, through the batching writer.

Rules: the engine never waits on the database. Notifications that must survive a restart (call
records, sticky memory, list changes) become store writes submitted to the
:class:`~ctilink.store.StoreWriter`, which acknowledges them only once committed. A write the
store refuses (a hostile caller number the store's checks reject, say) is logged and counted,
never raised into the engine's greenlet.

Dialer writes are different: they must be durable *before* the switch acts on the commands of
the same Effects. A contact is marked ``dialing`` (and its attempt written) in the very Effects
that carries its ``Originate``; if the Originate went out first and the daemon died before the
commit, the restarted daemon would find the contact ``pending`` and dial it a second time.
:class:`PersistFirst` therefore sits between the engine loop and the engine: it submits the
``ContactUpdated`` / ``AttemptRecorded`` writes of each Effects as the Effects is made (before
the loop dispatches anything), and its :meth:`PersistFirst.dispatch` holds that Effects'
commands (and every later command, so the switch still sees them in the engine's order) until
the writer acknowledges the commit. Only Effects carrying dialer writes wait, for one group
commit; inbound calls queue behind them only while such a commit is in flight. If a dialer
write fails, the Originates it guarded are never sent: each comes back to the engine as a
failed ``BACKGROUND_JOB`` (``-ERR STORE_WRITE_FAILED``), so the attempt ends ``failed`` and is
retried per the campaign's rules instead of dialing a contact whose state could not be saved.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import structlog
from gevent.event import AsyncResult

from ctilink.commands import Command, Originate
from ctilink.core import notifications as nt
from ctilink.core.effects import Effects
from ctilink.core.snapshot import EngineSnapshot
from ctilink.dialer.dialer import AttemptRecorded, CampaignState, CampaignStateChanged, ContactUpdated
from ctilink.events import JobCompleted
from ctilink.service.api.serialize import plain
from ctilink.service.sessions import save_session
from ctilink.store import CallRecord as StoredCallRecord
from ctilink.store import StoreWriter
from ctilink.store.base import Store

log = structlog.get_logger("ctilink.persist")


__all__ = [
    "PersistFirst",
    "Persister",
    "load_run_states",
    "save_run_state",
    "stored_call_record",
    "submit_dialer_note",
    "write_dialer_notes",
]

#: Key of a campaign's run state in its ``campaign`` configuration override (the store's
#: ``config_overrides`` row for the campaign; other keys of that blob are kept as they are).
RUN_STATE_KEY = "run_state"


def save_run_state(store: Store, campaign: str, state: CampaignState, at: float) -> None:
    """Record the campaign's run state (an operator's pause or stop must outlive a restart)."""
    blob = dict(store.get_config("campaign", campaign) or {})
    blob[RUN_STATE_KEY] = state.value
    store.put_config("campaign", campaign, blob, at)


def load_run_states(store: Store) -> dict[str, CampaignState]:
    """The last recorded run state of every campaign that has one (unreadable values are skipped:
    the campaign then starts as its ``autostart`` says)."""
    states = {}
    for name, blob in store.list_configs("campaign").items():
        try:
            states[name] = CampaignState(str(blob.get(RUN_STATE_KEY)))
        except ValueError:
            continue
    return states


def stored_call_record(record: Any) -> StoredCallRecord:
    """The store's row for an engine :class:`~ctilink.core.CallRecord` (indexed columns + JSON)."""
    data = plain(record)
    number = record.caller_number if record.caller_number and record.caller_number.isprintable() else None
    return StoredCallRecord(
        call_id=record.call_id,
        started_at=record.arrived_at,
        queue=record.first_queue or record.queue,
        disposition=str(data["disposition"]),
        customer_number=number if number and len(number) <= 64 and " " not in number else None,
        data=data,
    )


class Persister:
    """Feeds the store writer from engine notifications.

    ``dialer_notes=False`` when a :class:`PersistFirst` already writes the dialer's notifications
    (live mode); the simulated switch has no crash to survive, so there they are written here.
    """

    def __init__(
        self,
        writer: StoreWriter,
        *,
        dialer_notes: bool = True,
        endpoints_of: Callable[[str], Sequence[str] | None] | None = None,
    ) -> None:
        self.writer = writer
        self.dialer_notes = dialer_notes
        self.endpoints_of = endpoints_of  # an agent's endpoints now, kept with their session
        self.failures = 0

    def observe(self, note: object, now: float) -> None:
        try:
            self._observe(note, now)
        except Exception as exc:
            self.failures += 1
            log.error("persist_failed", notification=type(note).__name__, error=str(exc)[:300])

    def _observe(self, note: object, now: float) -> None:
        if isinstance(note, nt.CallEnded):
            self.writer.submit("put_call_record", stored_call_record(note.record), on_done=self._done)
            return
        if isinstance(note, ContactUpdated | AttemptRecorded):
            if self.dialer_notes:
                submit_dialer_note(self.writer, note, self._done)
            return
        if isinstance(note, nt.AgentStateChanged):
            endpoints = self.endpoints_of(note.agent_id) if self.endpoints_of is not None else None
            self.writer.submit(save_session, note, endpoints, on_done=self._done)
            return
        if isinstance(note, CampaignStateChanged):
            # read-modify-write in the writer's transaction: other override keys stay as they were
            self.writer.submit(save_run_state, note.campaign, note.state, note.at, on_done=self._done)
            return
        kind = type(note).__name__
        if kind == "StickyRemembered":
            n: Any = note
            self.writer.submit(
                "sticky_put", n.number, n.queue, n.agent_id, n.at, max(0.0, n.expires_at - n.at), on_done=self._done
            )
        elif kind == "ListChanged":
            n = note
            if n.op == "add":
                self.writer.submit("put_list_entries", [n.entry], on_done=self._done)
            else:
                e = n.entry
                self.writer.submit(
                    "delete_list_entry", e.list_name, e.number, scope=e.scope, kind=e.kind, on_done=self._done
                )

    def _done(self, ok: bool, value: Any) -> None:
        if not ok:
            self.failures += 1
            log.error("store_write_failed", error=str(value)[:300])


def submit_dialer_note(
    writer: StoreWriter, note: ContactUpdated | AttemptRecorded, on_done: Callable[[bool, Any], None] | None = None
) -> AsyncResult:
    if isinstance(note, ContactUpdated):
        return writer.submit("put_contacts", [note.contact], on_done=on_done)
    return writer.submit("put_attempt", note.attempt, on_done=on_done)


def write_dialer_notes(store: Store, notes: Iterable[object]) -> int:
    """Write the dialer's notifications synchronously (at start, before the writer runs)."""
    written = 0
    for note in notes:
        if isinstance(note, ContactUpdated):
            store.put_contacts([note.contact])
        elif isinstance(note, AttemptRecorded):
            store.put_attempt(note.attempt)
        else:
            continue
        written += 1
    return written


class _Runtime(Protocol):
    def handle(self, item: object, now: float) -> Effects: ...

    def tick(self, now: float) -> Effects: ...

    def next_deadline(self) -> float | None: ...

    def snapshot(self, now: float) -> EngineSnapshot: ...


class PersistFirst:
    """The engine as the loop sees it, with dialer writes committed before their commands go out.

    Give the :class:`~ctilink.service.loop.EngineLoop` this object as its engine and
    :meth:`dispatch` as its dispatcher. ``send`` puts commands on the wire; ``refuse`` receives
    the synthetic failed job of an Originate whose state could not be saved (post it to the loop).
    """

    def __init__(
        self,
        runtime: _Runtime,
        writer: StoreWriter,
        send: Callable[[Sequence[Command]], None],
        refuse: Callable[[JobCompleted], None],
    ) -> None:
        self.runtime = runtime
        self.writer = writer
        self._send = send
        self._refuse = refuse
        self._barrier: list[AsyncResult] | None = None  # the writes guarding the Effects just made
        self._backlog: deque[tuple[Sequence[Command], list[AsyncResult] | None]] = deque()
        self.held_back = 0  # Originates never sent because their writes failed
        self.waited = 0  # command batches that waited for a commit

    # -- the engine interface the loop drives -------------------------------------------------------

    def handle(self, item: object, now: float) -> Effects:
        return self._persist(self.runtime.handle(item, now))

    def tick(self, now: float) -> Effects:
        return self._persist(self.runtime.tick(now))

    def next_deadline(self) -> float | None:
        return self.runtime.next_deadline()

    def snapshot(self, now: float) -> EngineSnapshot:
        return self.runtime.snapshot(now)

    def _persist(self, effects: Effects) -> Effects:
        results = [
            submit_dialer_note(self.writer, n)
            for n in effects.notifications
            if isinstance(n, ContactUpdated | AttemptRecorded)
        ]
        if results:
            # the writer commits in submission order: the last write settling means all have
            results[-1].rawlink(lambda _r: self._release())
        # the loop dispatches this Effects' commands next, on this greenlet, before anything else
        self._barrier = results if results and effects.commands else None
        return effects

    # -- the dispatcher -----------------------------------------------------------------------------

    def dispatch(self, commands: Sequence[Command]) -> None:
        barrier, self._barrier = self._barrier, None
        if barrier is None and not self._backlog:
            self._send(commands)
            return
        self.waited += 1
        self._backlog.append((list(commands), barrier))
        self._release()

    def pending(self) -> int:
        return len(self._backlog)

    def _release(self) -> None:
        while self._backlog:
            commands, barrier = self._backlog[0]
            if barrier is not None and not all(r.ready() for r in barrier):
                return
            self._backlog.popleft()
            if barrier is not None and not all(r.successful() for r in barrier):
                kept = []
                for command in commands:
                    if isinstance(command, Originate):
                        self.held_back += 1
                        log.error("dial_held_back", reason="store write failed", job_uuid=command.job_uuid)
                        self._refuse(
                            JobCompleted(
                                job_uuid=command.job_uuid, command="originate", body="-ERR STORE_WRITE_FAILED\n"
                            )
                        )
                    else:
                        kept.append(command)
                commands = kept
            if commands:
                self._send(commands)
