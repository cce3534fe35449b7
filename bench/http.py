"""Throughput and latency of the HTTP API, driven by wrk, with its floor measured in the same run.

    scripts/bench [--seconds 5] [--repeats 3] [--postgres URL]
        [--workloads append append100 read read-large] [--concurrency N ...]
        [--store-size 10000] [--large-store 1000000] [--warmup 1]

Method. Each target is a real uvicorn process pinned to CPU 0; the load generator is wrk (Debian's
``wrk`` 4.1.0, installed by `scripts/ensure_wrk` when missing), one thread (``-t1``) pinned to
CPU 1 with ``taskset``, ``-c`` keep-alive connections each sending its next request as soon as
the previous one is answered, for ``--seconds`` (whole seconds), ``--timeout 10s``. This script
(and so the fill client) also runs on CPU 1. The Lua scripts in `bench/wrk/` build every
request (no tag is ever reused, across runs too: each wrk run gets a run id of its own), count
the non-2xx responses and print one JSON line at the end: requests, duration, errors (non-2xx
plus socket errors and timeouts) and wrk's latency percentiles, from the first byte of a request
written to the last byte of its response read.

Targets:
- ``floor``: `bench/http_floor.py`, the same HTTP surface that parses the same bodies and
  stores nothing (it is never filled; its ``read`` answers every read of either store size);
- ``sqlite``: the service on a fresh SQLite file (the defaults: WAL, synchronous=FULL);
- ``postgres``: the service on PostgreSQL, when ``--postgres`` gives a URL (its schema is reset
  before each store is filled, so use a database of its own).

Workloads (``--workloads``, all by default; ``--concurrency`` replaces every default list):
- ``append`` (1, 16, 64 connections): `wrk/append.lua`, one event per request with a tag of its
  own and the condition fail_if_events_match on that tag, after null: every append checks a
  condition and succeeds (201);
- ``append100`` (16 connections): the same script, 100 events per request, each with a tag of
  its own, the condition on the first one's;
- ``read`` (1, 16 connections): `wrk/read.lua`, ``GET /v1/events?tag=reader:N`` with N cycling
  over the ``store-size / 10`` tags of a store filled with ``--store-size`` events (ten per tag,
  spread over the whole store: event n has tag ``reader:{n % tags}``), before any append;
- ``read-large`` (1, 16 connections): the same over a fresh store of ``--large-store`` events.
Stores are filled over HTTP, 1,000 events per POST, two POSTs in flight; the fill rate is
printed with the results. The small store then takes the appends (so it grows past its size).

Figures: for each target and workload, a warm-up run (``--warmup`` seconds, discarded), then
for each concurrency ``--repeats`` runs; the table shows the medians over those runs of req/s
(requests / wrk's duration), p50 and p99, of wrk's CPU and the server's (CPU seconds of each
process over the run's wall time: 100% = one core, so a server near 100% is the bottleneck, wrk
near 100% would be), and the sum of errors over the runs. events/s = req/s x events per request
(appended, or returned by a read; the floor's reads return none). "vs floor" divides req/s by the
floor's at the same workload (reads: ``read``) and concurrency, measured in this run; "vs 10k"
(the ``--store-size``) divides a ``read-large`` req/s by the same target's ``read`` at the same
concurrency. Then the in-process floors and the peer (`bench/direct.py`) run on the
server's core, and `bench/http_report.py` prints both tables and the goals with their ratios.
Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson

from bench.direct import measure_direct
from bench.http_report import (
    CLIENT_CPU,
    EVENTS_PER_TAG,
    FILL_BATCH,
    FILL_IN_FLIGHT,
    SERVER_CPU,
    WORKLOADS,
    Fill,
    Results,
    Run,
    Workload,
    report,
    report_direct,
    report_goals,
)
from tests.support.live_server import REPO, ServiceProcess, service_process
from tests.support.postgres import recreate_schema

WRK_DIR = Path(__file__).resolve().parent / "wrk"
SMALL_STORE_ORDER = ("read", "append", "append100")  # reads before the appends grow the store


def ensure_wrk() -> str:
    """Install wrk if needed; its version line."""
    subprocess.run([REPO / "scripts" / "ensure_wrk"], check=True)
    version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    return (version.stdout + version.stderr).splitlines()[0].split(" Copyright")[0]


def run_wrk(
    service: ServiceProcess,
    script: str,
    args: Sequence[str],
    concurrency: int,
    seconds: int,
    headers: Sequence[str] = (),
) -> Run:
    """One wrk run; ``headers`` (``"Name: value"``) are sent with every request."""
    command = [
        *("taskset", "--cpu-list", str(CLIENT_CPU)),
        *("wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "10s"),
        *(option for header in headers for option in ("-H", header)),
        *("-s", str(WRK_DIR / script), service.base_url, "--", *args),
    ]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    server, started = service.cpu_seconds(), time.perf_counter()
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if finished.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{finished.stdout}{finished.stderr}")
    output = finished.stdout
    server = service.cpu_seconds() - server
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = after.ru_utime - children.ru_utime + after.ru_stime - children.ru_stime
    lines = [line for line in output.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"no JSON line from wrk:\n{output}")
    figures = json.loads(lines[-1])
    return Run(
        requests=figures["requests"],
        seconds=figures["duration_s"],
        errors=figures["errors"],
        p50_ms=figures["p50_ms"],
        p99_ms=figures["p99_ms"],
        wrk_cpu=wrk_cpu / wall,
        server_cpu=server / wall,
    )


def wrk_args(workload: Workload, tags: int) -> list[str]:
    """The script's arguments: a fresh run id for appends, the number of tags for reads."""
    if workload.script == "read.lua":
        return [str(tags)]
    return [uuid.uuid4().hex[:12], str(workload.events)]


async def fill(base: str, target: str, size: int) -> Fill:
    """``size`` events, ten per ``reader:N`` tag, over HTTP; progress on stderr."""
    tags = size // EVENTS_PER_TAG
    starts = iter(range(0, size, FILL_BATCH))  # shared by the workers
    stored = 0
    started = last_report = time.perf_counter()

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal stored, last_report
        for start in starts:
            events = [
                {"type": "Filled", "data": {"n": n}, "tags": [f"reader:{n % tags}"]}
                for n in range(start, min(size, start + FILL_BATCH))
            ]
            response = await client.post(
                "/v1/events",
                content=orjson.dumps({"events": events}),
                headers={"Content-Type": "application/json"},
            )
            response.raise_for_status()
            stored += len(events)
            now = time.perf_counter()
            if now - last_report >= 10 or stored == size:
                last_report = now
                print(
                    f"fill {target}: {stored:,}/{size:,} events, "
                    f"{stored / (now - started):,.0f} events/s",
                    file=sys.stderr,
                )

    async with httpx.AsyncClient(base_url=base, timeout=300) as client:
        await asyncio.gather(*(worker(client) for _ in range(FILL_IN_FLIGHT)))
    return Fill(target, size, time.perf_counter() - started)


@contextmanager
def server(target: str, store: str, args: argparse.Namespace) -> Iterator[ServiceProcess]:
    """A fresh ``target`` process (and a fresh store named ``store``), pinned to SERVER_CPU."""
    env = {"EVENTSTORE_LOG_LEVEL": "warning"}
    module = "app"
    if target == "floor":
        module = "bench.http_floor"
    elif target == "sqlite":
        env["EVENTSTORE_DATABASE_URL"] = f"sqlite:///{args.workdir}/{store}.db"
    else:  # the caller has emptied the database (`recreate_schema`)
        env["EVENTSTORE_DATABASE_URL"] = args.postgres
    with service_process(module, env, cpu=SERVER_CPU, startup_seconds=30) as service:
        yield service


def measure(
    service: ServiceProcess,
    target: str,
    name: str,
    tags: int,
    args: argparse.Namespace,
    results: Results,
) -> None:
    workload = WORKLOADS[name]
    label = "read" if target == "floor" and workload.large else name
    for number, concurrency in enumerate(args.concurrency or workload.concurrency):
        if args.warmup and number == 0:
            run_wrk(service, workload.script, wrk_args(workload, tags), concurrency, args.warmup)
        for repeat in range(args.repeats):
            run = run_wrk(
                service, workload.script, wrk_args(workload, tags), concurrency, args.seconds
            )
            results.setdefault((target, label, concurrency), []).append(run)
            print(
                f"{target} {label} c={concurrency} #{repeat + 1}: {run.rate:.0f} req/s, "
                f"{run.errors} errors, wrk cpu {run.wrk_cpu:.0%}, server cpu {run.server_cpu:.0%}",
                file=sys.stderr,
            )


async def bench_target(target: str, args: argparse.Namespace, results: Results) -> list[Fill]:
    chosen: list[str] = args.workloads
    fills: list[Fill] = []
    if target == "floor":  # no store: one process, and its reads stand for both store sizes
        names = [n for n in (*SMALL_STORE_ORDER, "read-large") if n in chosen]
        if "read" in names and "read-large" in names:
            names.remove("read-large")
        with server(target, "floor", args) as service:
            for name in names:
                measure(service, target, name, 1, args, results)
        return fills
    small = [name for name in SMALL_STORE_ORDER if name in chosen]
    for store, size, names in [
        ("small", args.store_size, small),
        ("large", args.large_store, ["read-large"] if "read-large" in chosen else []),
    ]:
        if not names:
            continue
        if target == "postgres":
            await recreate_schema(args.postgres)
        with server(target, store, args) as service:
            if any(name.startswith("read") for name in names):
                fills.append(await fill(service.base_url, target, size))
            for name in names:
                measure(service, target, name, size // EVENTS_PER_TAG, args, results)
    return fills


async def bench(args: argparse.Namespace) -> None:
    os.sched_setaffinity(0, {CLIENT_CPU})  # the fill client; wrk is pinned there with taskset
    results: Results = {}
    fills: list[Fill] = []
    targets = ["floor", "sqlite", *(["postgres"] if args.postgres else [])]
    with tempfile.TemporaryDirectory() as workdir:
        args.workdir = workdir
        for target in targets:
            fills += await bench_target(target, args, results)
    os.sched_setaffinity(0, {SERVER_CPU})  # in process, each floor gets the server's core
    direct = await measure_direct(args.seconds, args.repeats, args.postgres)
    report(results, fills, args)
    report_direct(direct, results)
    report_goals(results, direct, args)


def at_least(least: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < least:
            raise argparse.ArgumentTypeError(f"{value} is less than {least}")
        return value

    return parse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=at_least(1), default=5, help="per run (whole seconds)")
    parser.add_argument("--repeats", type=at_least(1), default=3)
    parser.add_argument("--warmup", type=at_least(0), default=1, help="seconds, 0 for none")
    parser.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    parser.add_argument("--concurrency", type=at_least(1), nargs="+", help="for every workload")
    parser.add_argument("--store-size", type=at_least(EVENTS_PER_TAG), default=10_000)
    parser.add_argument("--large-store", type=at_least(EVENTS_PER_TAG), default=1_000_000)
    parser.add_argument("--postgres", help="postgresql+asyncpg:// URL (its schema is reset)")
    args = parser.parse_args()
    args.wrk_version = ensure_wrk()
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
