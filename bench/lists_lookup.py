"""Benchmark: ListMatcher lookup latency at 1,000 and 1,000,000 entries.

Run: ``.venv/bin/python bench/lists_lookup.py``
Prints progress lines, then a final JSON line:
``{"entries": 1000000, "lookup_us_p99": .., "lookup_us_p99_1k": .., "load_s": .., "rss_mb": ..}``

Workload: ~98% exact blacklist numbers (global), ~1% prefixes of lengths 2-8 digits spread over
global and two queue scopes, ~1% queue-scoped exact entries. Lookups use the scopes
``["did:+442071234567", "queue:support", "global"]``; half probe stored numbers, half random
numbers that miss (the slow path: every prefix length in every scope). ``load_s`` is the time to
build the Entry objects (with validation) and index them; ``rss_mb`` is peak RSS of the process.
"""

from __future__ import annotations

import gc
import json
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ctilink.lists import Entry, EntryKind, ListMatcher, ListName

SCOPES = ["did:+442071234567", "queue:support", "global"]
LOOKUPS = 200_000


def build(n: int, rng: random.Random) -> tuple[ListMatcher, list[str], float]:
    started = time.perf_counter()
    matcher = ListMatcher()
    numbers: list[str] = []
    bl = ListName.BLACKLIST
    n_prefix = max(n // 100, 10)
    n_queue = max(n // 100, 10)
    # Distinct numbers, so the index really holds n entries.
    exact = rng.sample(range(10**9, 10**10), n - n_prefix)
    for i, value in enumerate(exact):
        number = f"+44{value}"
        numbers.append(number)
        scope = "global" if i >= n_queue else "queue:support"
        matcher.add(Entry(list_name=bl, number=number, scope=scope, reason="bench", added_at=0.0))
    added = 0
    while added < n_prefix:
        digits = rng.randrange(2, 9)
        prefix = "+44" + str(rng.randrange(10 ** (digits - 1), 10**digits))
        scope = rng.choice(["global", "queue:support", "queue:sales"])
        old = matcher.add(
            Entry(
                list_name=bl,
                number=prefix,
                kind=EntryKind.PREFIX,
                scope=scope,
                added_at=0.0,
                expires_at=None if added % 3 else 10.0,
            )
        )
        added += old is None
    return matcher, numbers, time.perf_counter() - started


def p99_lookup_us(matcher: ListMatcher, numbers: list[str], rng: random.Random) -> float:
    probes = [rng.choice(numbers) if i % 2 else f"+44{rng.randrange(10**9, 10**10)}" for i in range(LOOKUPS)]
    match = matcher.match
    clock = time.perf_counter_ns
    bl = ListName.BLACKLIST
    for number in probes[:2000]:  # warm up
        match(number, list=bl, scopes=SCOPES, now=100.0)
    samples = []
    gc.disable()
    try:
        for number in probes:
            t0 = clock()
            match(number, list=bl, scopes=SCOPES, now=100.0)
            samples.append(clock() - t0)
    finally:
        gc.enable()
    samples.sort()
    return samples[int(len(samples) * 0.99)] / 1000.0


def main() -> None:
    rng = random.Random(7)
    small, small_numbers, _ = build(1_000, rng)
    p99_1k = p99_lookup_us(small, small_numbers, rng)
    print(f"1k entries: p99 {p99_1k:.2f} us", flush=True)
    big, big_numbers, load_s = build(1_000_000, rng)
    print(f"1M entries: {len(big)} indexed in {load_s:.2f} s", flush=True)
    p99_1m = p99_lookup_us(big, big_numbers, rng)
    print(f"1M entries: p99 {p99_1m:.2f} us", flush=True)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(
        json.dumps(
            {
                "entries": len(big),
                "lookup_us_p99": round(p99_1m, 2),
                "lookup_us_p99_1k": round(p99_1k, 2),
                "load_s": round(load_s, 2),
                "rss_mb": round(rss_mb, 1),
            }
        )
    )


if __name__ == "__main__":
    from bench_lock import one_benchmark_at_a_time

    with one_benchmark_at_a_time():
        main()
