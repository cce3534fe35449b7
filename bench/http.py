"""Throughput and latency of the HTTP API, driven by wrk, with its floor measured in the same run.

    scripts/bench [--seconds 5] [--repeats 3] [--postgres URL] [--processes 1 2]
        [--workloads append append100 read read-large] [--concurrency N ...]
        [--store-size 10000] [--large-store 1000000] [--warmup 1] [--base CHECKOUT]

Method. Each target is a real service (``python -m app``) with ``EVENTSTORE_WORKERS`` worker
processes, for each number given with ``--processes`` (1 and 2 by default). One process is pinned
to CPU 0, and the load generator, wrk (Debian's ``wrk`` 4.1.0, installed by `scripts/ensure_wrk`
when missing), one thread (``-t1``), to CPU 1 with ``taskset``. Several processes get both CPUs
and share them with wrk: this machine has two cores, and none is left for the load generator
alone, so the figures of several processes understate what they give where the load comes from
other machines. wrk opens ``-c`` keep-alive connections, each sending its next request as soon as
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
  before each store is filled, so use a database of its own);
- ``sqlite@base``, ``postgres@base``: with ``--base``, the same served by another checkout (an
  earlier version, with its own ``.venv``), one process, on stores of their own: what this
  version gained or lost against it, in the same run.

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
printed with the results. Each store is then served by each number of processes in turn, a fresh
service each time: first the reads, then the appends (the small store takes them, so it grows
past its size), so that every number of processes reads the same store.

Figures: for each target and workload, a warm-up run (``--warmup`` seconds, discarded), then
for each concurrency ``--repeats`` runs; the table shows the medians over those runs of req/s
(requests / wrk's duration), p50 and p99, of wrk's CPU and the server's (CPU seconds over the
run's wall time, the server's summed over its processes: 100% = one core, so one server process
near 100% is the bottleneck, wrk near 100% would be), the sum of errors over the runs, and the
noise: (fastest - slowest) / median req/s of the runs. events/s = req/s x events per request
(appended, or returned by a read; the floor's reads return none). "vs floor" divides req/s by the
floor's at the same workload (reads: ``read``), concurrency and number of processes, measured
in this run; "vs 1 proc" divides by the same target's with one process; "vs base" by the
``@base`` target's; "vs 10k" (the ``--store-size``) divides a ``read-large`` req/s by the same
target's ``read`` at the same concurrency and number of processes. Then the in-process floors
and the peer (`bench/direct.py`) run on the server's core, and `bench/http_report.py` prints both
tables, the goals with their ratios and, with ``--base``, every measurement slower than the
earlier version's by more than the noise of either. Not a test: nothing is asserted.
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
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson

from bench.direct import measure_direct
from bench.http_report import (
    ALL_CPUS,
    BASE_SUFFIX,
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
from bench.process_tree import tree_cpu_seconds
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
    cpus: Iterable[int] = (CLIENT_CPU,),
) -> Run:
    """One wrk run on ``cpus``; ``headers`` (``"Name: value"``) are sent with every request."""
    command = [
        *("taskset", "--cpu-list", ",".join(map(str, sorted(cpus)))),
        *("wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "10s"),
        *(option for header in headers for option in ("-H", header)),
        *("-s", str(WRK_DIR / script), service.base_url, "--", *args),
    ]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    server, started = tree_cpu_seconds(service.pid), time.perf_counter()
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if finished.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{finished.stdout}{finished.stderr}")
    output = finished.stdout
    server = tree_cpu_seconds(service.pid) - server
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
def server(
    target: str, store: str, processes: int, args: argparse.Namespace
) -> Iterator[ServiceProcess]:
    """A fresh ``target`` process with ``processes`` workers on the store named ``store`` (the
    caller has emptied a PostgreSQL database before its first use: `recreate_schema`): one
    process is pinned to SERVER_CPU; several get every CPU (they inherit this process's)."""
    env = {"EVENTSTORE_LOG_LEVEL": "warning", "EVENTSTORE_WORKERS": str(processes)}
    module, checkout = "app", REPO
    if target == "floor":
        module = "bench.http_floor"
    elif is_base(target):
        checkout = args.base
        env.pop("EVENTSTORE_WORKERS")  # the earlier version may not have the setting
    engine = target.removesuffix(BASE_SUFFIX)
    if engine == "sqlite":
        env["EVENTSTORE_DATABASE_URL"] = f"sqlite:///{args.workdir}/{target}-{store}.db"
    elif engine == "postgres":
        env["EVENTSTORE_DATABASE_URL"] = args.postgres
    cpu = SERVER_CPU if processes == 1 else None
    with (
        on_cpus(ALL_CPUS),
        service_process(
            module,
            env,
            cpu=cpu,
            startup_seconds=30,
            python=str(checkout / ".venv" / "bin" / "python"),
            cwd=checkout,
        ) as service,
    ):
        yield service


@contextmanager
def on_cpus(cpus: Iterable[int]) -> Iterator[None]:
    """Run the block (and the processes it starts) on ``cpus``."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, set(cpus))
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def measure(
    service: ServiceProcess,
    key: tuple[str, int],
    name: str,
    tags: int,
    args: argparse.Namespace,
    results: Results,
) -> None:
    """``--repeats`` wrk runs of workload ``name`` at each concurrency, against ``service``:
    ``key`` is its target and number of processes. With one process wrk has CLIENT_CPU to
    itself; with several it shares every CPU with them."""
    target, processes = key
    workload = WORKLOADS[name]
    label = "read" if target == "floor" and workload.large else name
    cpus = (CLIENT_CPU,) if processes == 1 else ALL_CPUS
    for number, concurrency in enumerate(args.concurrency or workload.concurrency):
        script_args = wrk_args(workload, tags)
        if args.warmup and number == 0:
            run_wrk(service, workload.script, script_args, concurrency, args.warmup, cpus=cpus)
        for repeat in range(args.repeats):
            run = run_wrk(
                service,
                workload.script,
                wrk_args(workload, tags),
                concurrency,
                args.seconds,
                cpus=cpus,
            )
            results.setdefault((target, processes, label, concurrency), []).append(run)
            print(
                f"{target} x{processes} {label} c={concurrency} #{repeat + 1}: "
                f"{run.rate:.0f} req/s, {run.errors} errors, wrk cpu {run.wrk_cpu:.0%}, "
                f"server cpu {run.server_cpu:.0%}",
                file=sys.stderr,
            )


async def bench_target(target: str, args: argparse.Namespace, results: Results) -> list[Fill]:
    """Every chosen workload against ``target`` at each number of processes. A store is filled
    once and then served by each number of processes in turn: first its reads, then its
    appends (which grow it), so that every number of processes reads the same store."""
    chosen: list[str] = args.workloads
    counts: list[int] = [1] if is_base(target) else args.processes
    fills: list[Fill] = []
    if target == "floor":  # no store: its reads stand for both store sizes
        names = [n for n in (*SMALL_STORE_ORDER, "read-large") if n in chosen]
        if "read" in names and "read-large" in names:
            names.remove("read-large")
        for processes in counts:
            with server(target, "floor", processes, args) as service:
                for name in names:
                    measure(service, (target, processes), name, 1, args, results)
        return fills
    small = [name for name in SMALL_STORE_ORDER if name in chosen]
    for store, size, names in [
        ("small", args.store_size, small),
        ("large", args.large_store, ["read-large"] if "read-large" in chosen else []),
    ]:
        if not names:
            continue
        if target.startswith("postgres"):
            await recreate_schema(args.postgres)
        filled = False
        reads = [name for name in names if name.startswith("read")]
        appends = [name for name in names if not name.startswith("read")]
        for phase in (reads, appends):
            for processes in counts if phase else ():
                with server(target, store, processes, args) as service:
                    if reads and not filled:
                        fills.append(await fill(service.base_url, target, size))
                        filled = True
                    for name in phase:
                        tags = size // EVENTS_PER_TAG
                        measure(service, (target, processes), name, tags, args, results)
    return fills


async def bench(args: argparse.Namespace) -> None:
    os.sched_setaffinity(0, {CLIENT_CPU})  # the fill client; wrk is pinned with taskset
    results: Results = {}
    fills: list[Fill] = []
    engines = ["sqlite", *(["postgres"] if args.postgres else [])]
    targets = ["floor", *engines, *([e + BASE_SUFFIX for e in engines] if args.base else [])]
    with tempfile.TemporaryDirectory() as workdir:
        args.workdir = workdir
        for target in targets:
            fills += await bench_target(target, args, results)
    os.sched_setaffinity(0, {SERVER_CPU})  # in process, each floor gets the server's core
    direct = await measure_direct(args.seconds, args.repeats, args.postgres)
    report(results, fills, args)
    report_direct(direct, results)
    report_goals(results, direct, args)


def is_base(target: str) -> bool:
    return target.endswith(BASE_SUFFIX)


def at_least(least: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < least:
            raise argparse.ArgumentTypeError(f"{value} is less than {least}")
        return value

    return parse


def checkout(text: str) -> Path:
    path = Path(text).resolve()
    if not (path / ".venv" / "bin" / "python").exists() or not (path / "app").is_dir():
        raise argparse.ArgumentTypeError(f"{path} is not a checkout with a .venv")
    return path


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
    parser.add_argument(
        "--processes", type=at_least(1), nargs="+", default=[1, 2], help="worker processes"
    )
    parser.add_argument(
        "--base",
        type=checkout,
        help="a checkout of an earlier version (with its .venv): its service is measured too, "
        "as sqlite@base and postgres@base, one process",
    )
    args = parser.parse_args()
    args.wrk_version = ensure_wrk()
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
