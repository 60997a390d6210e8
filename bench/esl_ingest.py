"""Benchmark: ESL event ingest, bare greenswitch vs ctilink's decode path vs a json.loads limit.

Run: ``.venv/bin/python bench/esl_ingest.py [--events 200000]``
Prints progress lines, then a final JSON line:
``{"events": N, "greenswitch_eps": A, "ctilink_eps": B, "ctilink_plain_eps": P, "decode_only_eps": C,
"stdlib_json_eps": S, "limit_decoder": "orjson", "ratio_vs_greenswitch": B/A,
"ratio_plain_vs_greenswitch": P/A, "ratio_vs_limit": B/C, "rss_mb": M}``

Workload: the recorded ``load_burst`` scenario (2,702 real FreeSWITCH 1.10.12 events, 100 calls),
repeated until at least ``--events`` events. A server process (pinned to the second core when
there is one) speaks the real wire format: ``auth/request``, ``command/reply`` to ``auth`` and to
the subscription, then the recorded event frames byte for byte, answering any command that
arrives between frames (``api`` replies are interleaved at frame boundaries, as FreeSWITCH does),
then a ``text/disconnect-notice``. Each client runs in this process, pinned to the first core,
one after the other, on a fresh connection:

- greenswitch: bare ``InboundESL``, ``event plain ALL``, a handler for ``'*'`` that only counts,
  served the ``text/event-plain`` frames of ``load_burst.controller.jsonl``. Timed from connect
  until its ``DISCONNECT`` handler runs (after every event has been handled).
- ctilink: ``EslConnection`` (connect, auth, ``event json ALL``, its resync queries, then live
  events) served the ``text/event-json`` frames of ``load_burst.json.esl``; a consumer greenlet
  takes every typed event (unknown ones as ``RawEvent``) from ``events()``. Timed from ``start()``
  until the consumer has the Nth live event. If the connection fails, the benchmark fails.
- ctilink plain: the same ``EslConnection`` with ``event plain ALL``, served the same
  ``text/event-plain`` frames as greenswitch (like with like).
- decode_only (the reference limit): ``orjson.loads``, the decoder ctilink uses, over the same
  events' JSON bodies (bytes, as they arrive), in a tight loop, no socket, no framing, nothing
  typed; ``stdlib_json_eps`` is the same with the standard library's ``json.loads``.

Also printed on progress lines (not in the final line): the plain socket + FrameReader +
Normalizer loop for both ``event json`` and ``event plain``, which is what docs/esl-decoding.md
uses to compare the two formats. ``rss_mb`` is this process's peak RSS measured right after the
ctilink run (it runs first; other runs' data is loaded afterwards).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import queue
import resource
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ctilink.esl.framing import FrameReader
from ctilink.esl.normalize import Normalizer
from ctilink.testing.recordings import Recordings

SCENARIO = "load_burst"
RECORDINGS = Recordings(Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "esl")
PASSWORD = "ClueCon"
CORE_UUID = "6e3f189d-0920-4734-a335-e58e977985b0"
BATCH = 256 * 1024
AUTH_REQUEST = b"Content-Type: auth/request\n\n"
NOTICE_BODY = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
NOTICE = b"Content-Type: text/disconnect-notice\nContent-Length: %d\n\n" % len(NOTICE_BODY) + NOTICE_BODY


# -- recorded frames ----------------------------------------------------------------------------


def event_frames(kind: str) -> list[bytes]:
    """The scenario's event frames, byte for byte as FreeSWITCH framed them."""
    if kind == "plain":
        return [
            r.data
            for r in RECORDINGS.controller_records(SCENARIO)
            if r.dir == "recv" and b"Content-Type: text/event-plain\n" in r.data[:80]
        ]
    data = RECORDINGS.json_stream(SCENARIO)
    out = []
    for frame in FrameReader().feed(data):
        if frame.content_type == "text/event-json":
            head = "".join(f"{k}: {v}\n" for k, v in frame.headers.items()).encode()
            out.append(head + b"\n" + frame.body)
    return out


def batches(frames: list[bytes]) -> list[bytes]:
    """Whole frames grouped into ~BATCH-byte writes (replies go between writes)."""
    out: list[bytes] = []
    cur: list[bytes] = []
    size = 0
    for f in frames:
        cur.append(f)
        size += len(f)
        if size >= BATCH:
            out.append(b"".join(cur))
            cur, size = [], 0
    if cur:
        out.append(b"".join(cur))
    return out


# -- server process -----------------------------------------------------------------------------


def reply(text: str) -> bytes:
    return f"Content-Type: command/reply\nReply-Text: {text}\n\n".encode()


def api_response(body: str) -> bytes:
    raw = body.encode()
    return b"Content-Type: api/response\nContent-Length: %d\n\n" % len(raw) + raw


def answer(command: str) -> tuple[bytes, bool]:
    """The reply FreeSWITCH would give (for what the clients here send), and whether to close."""
    if command.startswith("api "):
        what = command[4:].strip()
        if what == "global_getvar core_uuid":
            return api_response(CORE_UUID), False
        if what.startswith("show channels as json") or what.startswith("show calls as json"):
            return api_response('{"row_count": 0}\n'), False
        return api_response(f"-ERR {what.split(' ', 1)[0]} Command not found!\n"), False
    if command == "exit":
        return reply("+OK bye") + NOTICE, True
    return reply("+OK"), False


def read_commands(sock: socket.socket, out: queue.Queue) -> None:
    buf = b""
    while True:
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            out.put(None)
            return
        buf += data
        while b"\n\n" in buf:
            block, buf = buf.split(b"\n\n", 1)
            out.put(block.decode())


def serve(kind: str, reps: int, port_pipe: mp.connection.Connection, cpu: int | None) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    writes = batches(event_frames(kind))
    listener = socket.create_server(("127.0.0.1", 0))
    port_pipe.send(listener.getsockname()[1])
    sock, _ = listener.accept()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    commands: queue.Queue = queue.Queue()
    sock.sendall(AUTH_REQUEST)
    threading.Thread(target=read_commands, args=(sock, commands), daemon=True).start()
    try:
        if commands.get() != f"auth {PASSWORD}":
            sock.sendall(reply("-ERR invalid"))
            return
        sock.sendall(reply("+OK accepted"))
        while True:
            command = commands.get()
            if command is None:
                return
            if command.startswith("event "):
                sock.sendall(reply(f"+OK event listener enabled {command.split()[1]}"))
                break
            data, close = answer(command)
            sock.sendall(data)
            if close:
                return

        def answer_pending() -> bool:
            while True:
                try:
                    command = commands.get_nowait()
                except queue.Empty:
                    return False
                if command is None:
                    return True
                data, close = answer(command)
                sock.sendall(data)
                if close:
                    return True

        for _ in range(reps):
            for chunk in writes:
                sock.sendall(chunk)
                if answer_pending():
                    return
        sock.sendall(NOTICE)
        sock.shutdown(socket.SHUT_WR)
        while commands.get() is not None:
            pass
    except OSError:
        pass
    finally:
        sock.close()
        listener.close()


class Server:
    """One server process for one client connection."""

    def __init__(self, kind: str, reps: int, cpu: int | None) -> None:
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        self.process = ctx.Process(target=serve, args=(kind, reps, child, cpu), daemon=True)
        self.process.start()
        self.port = parent.recv()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.join(30)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)


# -- clients ------------------------------------------------------------------------------------


def run_greenswitch(port: int, expected: int) -> float:
    import gevent.event
    from greenswitch import InboundESL

    count = 0
    done = gevent.event.Event()

    def on_event(event: object) -> None:
        nonlocal count
        count += 1

    def on_disconnect(event: object) -> None:
        done.set()

    esl = InboundESL("127.0.0.1", port, PASSWORD)
    esl.register_handle("*", on_event)
    esl.register_handle("DISCONNECT", on_disconnect)
    start = time.perf_counter()
    esl.connect()
    esl.send("event plain ALL")
    done.wait()
    elapsed = time.perf_counter() - start
    esl.stop()
    if count != expected:
        raise RuntimeError(f"greenswitch handled {count} events, expected {expected}")
    return elapsed


def run_connection(port: int, expected: int, patience_s: float = 10.0, kind: str = "json") -> tuple[float, str]:
    import io

    import structlog
    from prometheus_client import CollectorRegistry

    from ctilink.esl.connection import EslConnection

    log = io.StringIO()
    conn = EslConnection(
        "bench",
        "127.0.0.1",
        port,
        PASSWORD,
        event_format=kind,
        registry=CollectorRegistry(),
        logger=structlog.wrap_logger(structlog.PrintLogger(log)),
    )
    live = 0
    typed = 0
    start = time.perf_counter()
    conn.start()
    while True:
        # A bounded wait: a connection that drops the session (and retries forever against a
        # one-shot server) must fail the run, not hang it.
        event = conn.get(timeout=patience_s)
        if event is None:
            break
        if event.resync:
            continue
        live += 1
        typed += type(event).__name__ != "RawEvent"
        if live == expected:
            break
    elapsed = time.perf_counter() - start
    conn.stop()
    if live != expected or conn.attempts != 1:
        first_lines = " | ".join(log.getvalue().splitlines()[:3])
        raise RuntimeError(f"delivered {live}/{expected} events in {conn.attempts} sessions; log: {first_lines}")
    return elapsed, f"{typed} typed + {live - typed} RawEvent"


def run_socket_loop(port: int, expected: int, kind: str) -> float:
    """A plain blocking socket + FrameReader + Normalizer, the decode path without the connection."""
    reader = FrameReader()
    norm = Normalizer("bench")
    events = 0
    start = time.perf_counter()
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    stage = 0
    done = False
    while not done:
        data = sock.recv(256 * 1024)
        if not data:
            break
        for frame in reader.feed(data):
            ctype = frame.content_type
            if ctype == "auth/request":
                sock.sendall(f"auth {PASSWORD}\n\n".encode())
            elif ctype == "command/reply" and stage == 0:
                stage = 1
                sock.sendall(f"event {kind} ALL\n\n".encode())
            elif ctype == "text/disconnect-notice":
                done = True
            elif norm.from_frame(frame) is not None:
                events += 1
    elapsed = time.perf_counter() - start
    sock.close()
    if events != expected:
        raise RuntimeError(f"socket loop decoded {events} events, expected {expected}")
    return elapsed


def run_decode_only(reps: int, loads: Callable[[bytes], object]) -> tuple[float, int]:
    bodies = [f.split(b"\n\n", 1)[1] for f in event_frames("json")]
    start = time.perf_counter()
    for _ in range(reps):
        for body in bodies:
            loads(body)
    return time.perf_counter() - start, len(bodies) * reps


# -- main ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=200_000, help="at least this many events per client")
    args = parser.parse_args()

    per_burst = len(event_frames("json"))
    reps = math.ceil(args.events / per_burst)
    n = per_burst * reps
    cpus = sorted(os.sched_getaffinity(0))
    client_cpu, server_cpu = (cpus[0], cpus[1]) if len(cpus) > 1 else (cpus[0], None)
    os.sched_setaffinity(0, {client_cpu})
    print(f"{n} events per client ({per_burst} x {reps}); client on cpu {client_cpu}, server on cpu {server_cpu}")

    # EslConnection is what is measured: if it cannot carry the run, the benchmark fails (it
    # never measures another path in its place).
    with Server("json", reps, server_cpu) as server:
        ctilink_s, detail = run_connection(server.port, n, kind="json")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ctilink_eps = n / ctilink_s
    print(f"ctilink EslConnection, event json ({detail}): {ctilink_eps:,.0f} events/s, peak rss {rss_mb:.0f} MB")
    with Server("plain", reps, server_cpu) as server:
        plain_s, detail = run_connection(server.port, n, kind="plain")
    ctilink_plain_eps = n / plain_s
    print(f"ctilink EslConnection, event plain ({detail}): {ctilink_plain_eps:,.0f} events/s")

    with Server("json", reps, server_cpu) as server:
        loop_json = n / run_socket_loop(server.port, n, "json")
    with Server("plain", reps, server_cpu) as server:
        loop_plain = n / run_socket_loop(server.port, n, "plain")
    print(
        f"socket + FrameReader + Normalizer: event json {loop_json:,.0f} events/s, event plain {loop_plain:,.0f} events/s"
    )

    with Server("plain", reps, server_cpu) as server:
        gs_eps = n / run_greenswitch(server.port, n)
    print(f"greenswitch InboundESL, event plain: {gs_eps:,.0f} events/s")

    # The limit is the decoder ctilink itself uses for event json bodies (orjson); the standard
    # library's json.loads is reported beside it.
    decode_s, decoded = run_decode_only(reps, orjson.loads)
    decode_eps = decoded / decode_s
    print(f"orjson.loads only (the limit): {decode_eps:,.0f} events/s")
    stdlib_s, decoded = run_decode_only(reps, json.loads)
    stdlib_eps = decoded / stdlib_s
    print(f"stdlib json.loads only: {stdlib_eps:,.0f} events/s")

    print(
        json.dumps(
            {
                "events": n,
                "greenswitch_eps": round(gs_eps),
                "ctilink_eps": round(ctilink_eps),
                "ctilink_plain_eps": round(ctilink_plain_eps),
                "decode_only_eps": round(decode_eps),
                "stdlib_json_eps": round(stdlib_eps),
                "limit_decoder": "orjson",
                "ratio_vs_greenswitch": round(ctilink_eps / gs_eps, 2),
                "ratio_plain_vs_greenswitch": round(ctilink_plain_eps / gs_eps, 2),
                "ratio_vs_limit": round(ctilink_eps / decode_eps, 2),
                "rss_mb": round(rss_mb),
            }
        )
    )


if __name__ == "__main__":
    from bench_lock import one_benchmark_at_a_time

    with one_benchmark_at_a_time():
        main()
