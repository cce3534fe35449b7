"""SQLite with several service processes on one store file: appends and cross-process wake-ups.

    scripts/bench sqlite-processes [--baseline REV] [--seconds 5] [--repeats 3] [--wakeups 200]
        [--synchronous FULL|NORMAL]

Method. Each variant is this checkout's code, or ``--baseline REV``'s (``git archive`` of that
revision into a temporary folder, run with the same interpreter), as ``python -m app`` processes
on a fresh SQLite file (WAL, ``--synchronous``, FULL by default), unpinned: the machine's cores
are shared by the servers and the load generator (wrk, one thread per server process), as they
would be by workers.

- **appends**: 16 connections of wrk's `wrk/append.lua` (one conditional one-event append per
  request), either all on one process, or 8 on each of two processes at the same time. The two
  runs' requests are added; their p50s averaged and the worse p99 kept (wrk reports
  percentiles, not histograms). The variants alternate within each repeat; medians of the
  repeats, and each two-process figure over the same variant's one-process figure.
- **wake-ups, engine**: two processes each with the storage engine on one file; A appends one
  event every 20 ms, ``--wakeups`` times, B waits in ``wait_for_new``: the delay from A's append
  returning (committed) to B's engine returning the new head (``time.perf_counter``, one clock
  for every process). p50 and p99.
- **wake-ups, HTTP**: a stream from service process B (``GET /v1/events/stream``), appends
  through service process A one at a time, 20 ms apart: the time from sending the append to the
  event's arrival on B, less half the append's response time; and for reference ("A = B") the
  same with the stream on A, woken in process.
- **data_version poll**, the alternative: a process polling ``PRAGMA data_version`` on its own
  connection every 1 ms or 5 ms, while another commits one row every 20 ms: the delay from
  the commit returning to its detection (p50, p99), and the CPU the poller spends per second
  when nothing is committed.

Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.live_server import HOST, REPO, free_port

WRK_DIR = Path(__file__).resolve().parent / "wrk"
PIN: list[bool] = []
"""Whether each server process is pinned to a CPU of its own (``--pin``)."""
SYNCHRONOUS = ["FULL"]
"""The services' ``EVENTSTORE_SQLITE_SYNCHRONOUS`` (``--synchronous``)."""


@dataclass(frozen=True)
class Service:
    process: subprocess.Popen[bytes]
    base_url: str


@contextmanager
def service(source: Path, database: str) -> Iterator[Service]:
    """``python -m app`` of the code in ``source`` on ``database``."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("EVENTSTORE_")},
        "EVENTSTORE_DATABASE_URL": database,
        "EVENTSTORE_LOG_LEVEL": "warning",
        "EVENTSTORE_HEARTBEAT_SECONDS": "5",
        "EVENTSTORE_SQLITE_SYNCHRONOUS": SYNCHRONOUS[0],
    }
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "--host", HOST, "--port", str(port)],
            cwd=source,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base_url = f"http://{HOST}:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{source}: the service did not start")
                time.sleep(0.05)
            yield Service(process, base_url)
        finally:
            process.terminate()
            process.wait(timeout=15)
            log.seek(0)
            output = log.read().decode(errors="replace")
            if "Traceback" in output or "ERROR" in output:
                print(f"{source} on port {port}:\n{output[-3000:]}", file=sys.stderr)


@contextmanager
def services(source: Path, count: int) -> Iterator[list[Service]]:
    with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as folder, ExitStack() as stack:
        database = f"sqlite:///{folder}/store.db"
        yield [stack.enter_context(service(source, database)) for _ in range(count)]


def wrk(base_url: str, connections: int, seconds: int) -> subprocess.Popen[str]:
    command = [
        *("wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"),
        *("-s", str(WRK_DIR / "append.lua"), base_url, "--", uuid.uuid4().hex[:12], "1"),
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def figures_of(run: subprocess.Popen[str]) -> dict[str, float]:
    output, errors = run.communicate()
    lines = [line for line in output.splitlines() if line.startswith("{")]
    if run.returncode or not lines:
        raise RuntimeError(f"wrk failed:\n{output}{errors}")
    figures: dict[str, float] = json.loads(lines[-1])
    return figures


def appends(source: Path, processes: int, seconds: int) -> dict[str, float]:
    """req/s, p50 and p99 of 16 connections spread over ``processes`` processes."""
    with services(source, processes) as running:
        if PIN:
            for number, each in enumerate(running):
                os.sched_setaffinity(each.process.pid, {number % (os.cpu_count() or 1)})
        for each in running:  # warm up: the schema, the connections, the first pages
            figures_of(wrk(each.base_url, 2, 1))
        runs = [wrk(each.base_url, 16 // processes, seconds) for each in running]
        results = [figures_of(run) for run in runs]
    if any(result["errors"] for result in results):
        print(f"  errors: {[result['errors'] for result in results]}", file=sys.stderr)
    return {
        "rps": sum(result["requests"] / result["duration_s"] for result in results),
        "p50": statistics.mean(result["p50_ms"] for result in results),
        "p99": max(result["p99_ms"] for result in results),
    }


async def wakeup_latencies(source: Path, count: int, *, across: bool = True) -> list[float]:
    """Milliseconds from commit in process A to delivery by process B's stream (see above); or
    by A's own stream when not ``across`` (the reference: a stream woken in process)."""
    with services(source, 2) as (one, two):
        if not across:
            one = two
        arrived: dict[int, float] = {}
        changed = asyncio.Event()

        async def follow(client: httpx.AsyncClient) -> None:
            url = f"{two.base_url}/v1/events/stream"
            async with client.stream("GET", url, params={"after": "0"}) as response:
                async for line in response.aiter_lines():
                    if line.startswith("id:"):
                        arrived[int(line[3:])] = time.perf_counter()
                        changed.set()

        latencies = []
        async with httpx.AsyncClient(timeout=10) as client:
            reader = asyncio.create_task(follow(client))
            await asyncio.sleep(0.5)
            for _ in range(count):
                await asyncio.sleep(0.02)
                sent = time.perf_counter()
                response = await client.post(
                    f"{one.base_url}/v1/events", json={"events": [{"type": "Ping"}]}
                )
                answered = time.perf_counter()
                position = response.json()["positions"][0]
                while position not in arrived:
                    changed.clear()
                    await asyncio.wait_for(changed.wait(), 5)
                latencies.append((arrived[position] - sent - (answered - sent) / 2) * 1000)
            reader.cancel()
    return latencies


ENGINE_WAKER = """
import asyncio, sys, time
from app.config import Settings
from app.domain import EventInput
from app.storage.sql.engine import build_sql_engine

async def main(url, role, count):
    engine = build_sql_engine(Settings(database_url=url))
    await engine.start()
    print("ready", flush=True)
    sys.stdin.readline()
    if role == "append":
        for _ in range(count):
            await asyncio.sleep(0.02)
            result = await engine.append([EventInput(type="Ping")])
            print(result.last_position, time.perf_counter(), flush=True)
    else:
        head = 0
        while head < count:
            head = await engine.wait_for_new(head, 5)
            print(head, time.perf_counter(), flush=True)
    await engine.close()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


def engine_wakeups(source: Path, count: int) -> list[float]:
    """Milliseconds from an append returning in one process to another's engine seeing it."""
    with tempfile.TemporaryDirectory(prefix="bench-wake-") as folder:
        url = f"sqlite:///{folder}/store.db"
        roles = ("wait", "append")
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", ENGINE_WAKER, url, role, str(count)],
                cwd=source,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for role in roles
        ]
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        outputs = [process.communicate(timeout=120)[0] for process in processes]
    waker, appender = (
        {int(p): float(t) for p, t in map(str.split, o.split("\n")[:-1])} for o in outputs
    )
    delays = []
    for position, committed in appender.items():
        woken = min(t for p, t in waker.items() if p >= position)
        delays.append((woken - committed) * 1000)
    return delays


def data_version_poll(period: float, commits: int) -> tuple[list[float], float]:
    """Detection delays (ms) of a ``PRAGMA data_version`` poller, and its idle CPU (s/s)."""
    with tempfile.TemporaryDirectory(prefix="bench-dv-") as folder:
        path = f"{folder}/store.db"
        writer = sqlite3.connect(path, isolation_level=None)
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("CREATE TABLE t (n INTEGER)")
        committed: dict[int, float] = {}
        delays: list[float] = []
        stop = threading.Event()
        cpu: list[float] = []

        def poll() -> None:
            reader = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            last = reader.execute("PRAGMA data_version").fetchone()[0]
            seen = 0
            while not stop.is_set():
                version = reader.execute("PRAGMA data_version").fetchone()[0]
                if version != last:
                    last = version
                    now = time.perf_counter()
                    seen += 1
                    if seen in committed:
                        delays.append((now - committed[seen]) * 1000)
                time.sleep(period)
            reader.close()

        def idle_cpu() -> None:
            reader = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            started, wall = time.thread_time(), time.perf_counter()
            while time.perf_counter() - wall < 2:
                reader.execute("PRAGMA data_version").fetchone()
                time.sleep(period)
            cpu.append((time.thread_time() - started) / (time.perf_counter() - wall))
            reader.close()

        poller = threading.Thread(target=poll)
        poller.start()
        time.sleep(0.1)
        for n in range(1, commits + 1):
            time.sleep(0.02)
            writer.execute("INSERT INTO t VALUES (?)", (n,))
            committed[n] = time.perf_counter()
        time.sleep(0.1)
        stop.set()
        poller.join()
        idle = threading.Thread(target=idle_cpu)
        idle.start()
        idle.join()
        writer.close()
    return delays, cpu[0]


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@contextmanager
def baseline_source(revision: str | None) -> Iterator[Path | None]:
    if revision is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as folder:
        archive = subprocess.run(
            ["git", "archive", revision], cwd=REPO, capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
        yield Path(folder)


def print_appends(
    variants: dict[str, Path], results: dict[tuple[str, int], list[dict[str, float]]]
) -> None:
    print("appends, 16 connections (medians of the repeats)")
    print(
        f"{'code':<14}{'procs':>6}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'req/s vs 1':>12}{'p99 vs 1':>10}"
    )
    for name in variants:
        one = medians(results[(name, 1)])
        for processes in (1, 2):
            med = medians(results[(name, processes)])
            print(
                f"{name:<14}{processes:>6}{med['rps']:>9.0f}{med['p50']:>9.1f}"
                f"{med['p99']:>9.1f}{med['rps'] / one['rps']:>12.2f}"
                f"{med['p99'] / one['p99']:>10.2f}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench sqlite-processes", description=__doc__)
    parser.add_argument("--baseline", metavar="REV", help="a git revision to compare with")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--wakeups", type=int, default=200)
    parser.add_argument("--synchronous", choices=["FULL", "NORMAL"], default="FULL")
    parser.add_argument("--pin", action="store_true", help="server n on CPU n mod cores")
    args = parser.parse_args(argv)
    SYNCHRONOUS[0] = args.synchronous
    if args.pin:
        PIN.append(True)
    with baseline_source(args.baseline) as baseline:
        variants = {"this": REPO} | ({f"{args.baseline}": baseline} if baseline else {})
        results: dict[tuple[str, int], list[dict[str, float]]] = {}
        for repeat in range(args.repeats):
            for name, source in variants.items():
                for processes in (1, 2):
                    result = appends(source, processes, args.seconds)
                    results.setdefault((name, processes), []).append(result)
                    print(f"repeat {repeat} {name} x{processes}: {result}", file=sys.stderr)
        if args.repeats:
            print_appends(variants, results)
        print("\ncommit in process A -> woken in process B")
        for name, source in variants.items():
            kinds = [
                ("engine", engine_wakeups(source, args.wakeups)),
                ("HTTP stream", asyncio.run(wakeup_latencies(source, args.wakeups))),
            ]
            if name == "this":
                in_process = asyncio.run(wakeup_latencies(source, args.wakeups, across=False))
                kinds.append(("HTTP stream, A = B", in_process))
            for kind, latencies in kinds:
                print(
                    f"{name:<14}{kind:<20} p50 {percentile(latencies, 0.5):7.2f} ms   "
                    f"p99 {percentile(latencies, 0.99):7.2f} ms"
                )
    print("\nPRAGMA data_version polled in another process's stead (same machine)")
    for period in (0.001, 0.005):
        delays, idle = data_version_poll(period, args.wakeups)
        print(
            f"every {period * 1000:.0f} ms: p50 {percentile(delays, 0.5):5.2f} ms, "
            f"p99 {percentile(delays, 0.99):5.2f} ms, idle CPU {idle * 100:.1f}% of a core"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
