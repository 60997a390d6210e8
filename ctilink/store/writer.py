"""StoreWriter: the daemon's single path for store writes, batched, acknowledged after commit.

Rules:
- A write's acknowledgement (its :class:`gevent.event.AsyncResult`, and its ``on_done``
  callback) is given only after the batch holding it has committed durably. If the commit
  fails, every write of that batch gets the exception; none is reported as done.
- Writes commit in submission order; a failing write is reported on its own result and does
  not affect the rest of its batch (see :meth:`Store.run_batch`).
- The engine never waits on this: it hands notifications to the daemon, which submits writes
  and moves on. Only the writer greenlet waits, and it waits cooperatively.

Theory of operation: one greenlet takes requests from a gevent queue; it blocks for the first,
then drains whatever else is already queued (up to ``max_batch``) into one batch, and runs
``store.run_batch`` in gevent's native thread pool, so SQLite's fsync does not stall the event
loop. Requests submitted while a batch commits are the next batch: the busier the daemon, the
bigger the batches (group commit), with no timer and no added latency when idle. A bounded
queue (``max_pending``) makes producers wait cooperatively instead of growing memory without
limit.

This module knows nothing about SQL or about what the writes mean.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gevent
from gevent.event import AsyncResult
from gevent.queue import Empty, Queue

from ctilink.store.base import WRITE_METHODS, Op, Store, StoreError

__all__ = ["StoreWriter"]

Done = Callable[[bool, Any], None]


@dataclass(slots=True)
class _Request:
    op: Op
    result: AsyncResult
    on_done: Done | None


_STOP = object()


class StoreWriter:
    """Batches writes to ``store``; call :meth:`start` in the daemon, :meth:`stop` at shutdown."""

    def __init__(
        self,
        store: Store,
        *,
        max_batch: int = 512,
        max_pending: int | None = 10_000,
        use_thread: bool = True,
        on_commit: Callable[..., None] | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._store = store
        self._max_batch = max_batch
        self._queue: Queue = Queue(maxsize=max_pending)
        self._use_thread = use_thread
        self._greenlet: gevent.Greenlet | None = None
        self._stopping = False
        # on_commit(seconds, ok=...) after each batch: the daemon feeds its store-latency metric.
        self._on_commit = on_commit
        #: Batches committed and writes acknowledged so far (for metrics and tests).
        self.batches = 0
        self.writes = 0

    def start(self) -> None:
        if self._greenlet is not None:
            raise StoreError("StoreWriter already started")
        self._greenlet = gevent.spawn(self._run)

    def submit(
        self, op: str | Op | Callable[..., Any], *args: Any, on_done: Done | None = None, **kwargs: Any
    ) -> AsyncResult:
        """Queue a write: a :data:`WRITE_METHODS` name with its arguments, or ``op(store)``.

        Returns an AsyncResult set (after commit) to the op's return value, or to its exception.
        ``on_done(ok, value_or_exception)`` is called at the same moment, in the writer greenlet.
        """
        if self._stopping:
            raise StoreError("StoreWriter is stopped")
        if isinstance(op, str):
            if op not in WRITE_METHODS:
                raise ValueError(f"{op!r:.60} is not a store write method")
            name = op

            def call(store: Store) -> Any:
                return getattr(store, name)(*args, **kwargs)

            fn: Op = call
        elif args or kwargs:
            fn = _bind_store_first(op, args, kwargs)
        else:
            fn = op
        result = AsyncResult()
        self._queue.put(_Request(fn, result, on_done))
        return result

    def flush(self) -> None:
        """Wait (cooperatively) until everything submitted so far is committed."""
        self.submit(lambda store: None).get()

    def pending(self) -> int:
        return int(self._queue.qsize())

    def stop(self, timeout: float | None = None) -> None:
        """Commit what is queued, then end the writer greenlet."""
        if self._stopping:
            return
        self._stopping = True
        if self._greenlet is None:
            return
        self._queue.put(_STOP)
        self._greenlet.join(timeout)

    def _run(self) -> None:
        stop = False
        while not stop:
            batch: list[_Request] = []
            first = self._queue.get()
            if first is _STOP:
                stop = True
            else:
                batch.append(first)
            while not stop and len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except Empty:
                    break
                if item is _STOP:
                    stop = True
                else:
                    batch.append(item)
            if batch:
                self._commit(batch)
        self._fail_leftovers()

    def _commit(self, batch: list[_Request]) -> None:
        ops = [r.op for r in batch]
        started = time.perf_counter()
        try:
            if self._use_thread:
                outcomes = gevent.get_hub().threadpool.apply(self._store.run_batch, (ops,))
            else:
                outcomes = self._store.run_batch(ops)
        except BaseException as exc:  # the commit failed: nothing in this batch happened
            if self._on_commit is not None:
                self._on_commit(time.perf_counter() - started, ok=False)
            for r in batch:
                self._settle(r, False, exc)
            if not isinstance(exc, Exception):
                raise
            return
        self.batches += 1
        if self._on_commit is not None:
            self._on_commit(time.perf_counter() - started, ok=True)
        for r, (ok, value) in zip(batch, outcomes, strict=True):
            self.writes += 1
            self._settle(r, ok, value)

    @staticmethod
    def _settle(r: _Request, ok: bool, value: Any) -> None:
        if ok:
            r.result.set(value)
        else:
            r.result.set_exception(value)
        if r.on_done is not None:
            r.on_done(ok, value)

    def _fail_leftovers(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except Empty:
                return
            if item is not _STOP:
                self._settle(item, False, StoreError("StoreWriter stopped before this write"))


def _bind_store_first(op: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Op:
    def call(store: Store) -> Any:
        return op(store, *args, **kwargs)

    return call
