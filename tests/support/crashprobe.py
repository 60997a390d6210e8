"""Crash probe: a burst of acknowledged writes, for the kill-mid-burst test (acknowledgements
follow commits; this says nothing about power loss, which SQLite's ``synchronous=FULL`` covers).

Usage: ``python tests/support/crashprobe.py <db> [--count N]`` (N = 0, the default, runs until
killed). Rules: a line ``ack list <number>`` or ``ack call <call_id>`` is written to stdout, and
flushed, only from the write's StoreWriter acknowledgement, i.e. after its batch committed. So
every line a reader saw names a write that must survive a SIGKILL at any later moment.

Theory of operation: the main greenlet alternates blacklist entries and call records and submits
them to a StoreWriter with a small bounded queue, so it is always mid-burst, with batches of
varying size committing in the writer's thread while the next ones queue up.
"""

from __future__ import annotations

import argparse
import sys

from ctilink.lists.model import Entry, ListName
from ctilink.store.records import CallRecord
from ctilink.store.sqlite import SqliteStore
from ctilink.store.writer import StoreWriter

__all__ = ["main", "probe_call_id", "probe_number"]


def probe_number(i: int) -> str:
    return f"+4420{i:08d}"


def probe_call_id(i: int) -> str:
    return f"probe-call-{i}"


def _printer(kind: str, ident: str):  # type: ignore[no-untyped-def]
    def done(ok: bool, value: object) -> None:
        if ok:
            sys.stdout.write(f"ack {kind} {ident}\n")
            sys.stdout.flush()
        else:
            sys.stdout.write(f"err {kind} {ident} {type(value).__name__}\n")
            sys.stdout.flush()

    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crashprobe.py")
    parser.add_argument("db")
    parser.add_argument("--count", type=int, default=0, help="writes to make (0: until killed)")
    opts = parser.parse_args(argv)
    store = SqliteStore(opts.db)
    writer = StoreWriter(store, max_batch=64, max_pending=128)
    writer.start()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    i = 0
    while opts.count == 0 or i < opts.count:
        if i % 2 == 0:
            number = probe_number(i)
            entry = Entry(list_name=ListName.BLACKLIST, number=number, added_at=float(i), reason=f"probe {i}")
            writer.submit("put_list_entries", [entry], on_done=_printer("list", number))
        else:
            call_id = probe_call_id(i)
            record = CallRecord(
                call_id=call_id,
                started_at=float(i),
                queue="probe",
                disposition="answered",
                customer_number=probe_number(i),
                data={"i": i, "note": "crash probe"},
            )
            writer.submit("put_call_record", record, on_done=_printer("call", call_id))
        i += 1
    writer.stop()
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
