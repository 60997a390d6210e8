"""One benchmark at a time: each script in bench/ holds an exclusive lock while it measures.

Two benchmarks running at once measure each other. A script started while another holds the lock
says so on stderr and waits for it to finish. The lock is a file in the system's temporary
directory, taken with ``fcntl.flock`` (released by the kernel if the process dies).
"""

from __future__ import annotations

import contextlib
import fcntl
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

LOCK_PATH = Path(tempfile.gettempdir()) / "ctilink-bench.lock"


@contextlib.contextmanager
def one_benchmark_at_a_time() -> Iterator[None]:
    with open(LOCK_PATH, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"another benchmark is running; waiting for it ({LOCK_PATH})", file=sys.stderr, flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
