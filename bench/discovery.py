"""Discovery and schemas: what the endpoints cost on a large store, and what counting and
checking cost an append, each beside its baseline in the same run.

    scripts/bench discovery [--events 1000000] [--requests 300] [--seconds 3] [--repeats 5]
                            [--postgres URL]

1. **Endpoints.** A store of ``--events`` events (20 types; every event carries a tag of 50,000
   ``course:`` tags and one of 200,000 ``student:`` tags) is written through the storage engine
   in this process (SQLite with ``synchronous=NORMAL`` for the fill only), then a real service
   process serves it (pinned to CPU 0, this client on CPU 1 where there are two). Each endpoint
   is asked ``--requests`` times in turn over one keep-alive connection; printed: p50 and p99.
   ``GET /v1/head`` is the baseline: the cheapest read there is.
2. **Counting at append.** The service's write path in this process (the storage engine, group
   commit and all, no HTTP): 16 tasks append one event with two tags of their own each, as
   fast as they are answered, for ``--seconds``; with the counts maintained (the service) and
   with `app.storage.sql.discovery.count_stored` replaced by nothing (the baseline), alternated
   ``--repeats`` times on a fresh store each; printed: the median appends/s of each and their
   ratio.
3. **Schemas at append.** The same engine, 4 tasks appending 100 events of one type, the type
   with a schema (an object of three typed properties, two required) against the same without;
   printed as above.

Not a test: nothing is asserted. Store and servers live in a temporary folder; on PostgreSQL
(``--postgres``, a database of its own) its schema is reset before each store.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from app.config import Settings
from app.domain import EventInput, dump_json
from app.storage.factory import build_engine
from app.storage.protocol import EventStorageEngine
from app.storage.sql import batch, discovery
from bench.stores import fill, pinned_server, progress, store_url
from tests.support.live_server import ServiceProcess
from tests.support.raw_http import HttpConnection

SCHEMA = dump_json(
    {
        "type": "object",
        "properties": {
            "course_id": {"type": "string"},
            "capacity": {"type": "integer", "minimum": 1},
            "note": {"type": "string"},
        },
        "required": ["course_id", "capacity"],
    }
)


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


ENDPOINTS = [
    ("head (baseline)", "/v1/head"),
    ("event-types", "/v1/event-types"),
    ("tags, first page", "/v1/tags?limit=100"),
    ("tags, prefix", "/v1/tags?prefix=student:1999&limit=100"),
    ("tags of a type", "/v1/tags?type=Type07&prefix=course:4&limit=100"),
    ("stats", "/v1/stats"),
]


async def measure_endpoints(server: ServiceProcess, requests: int) -> dict[str, list[float]]:
    connection = await HttpConnection.open(server.port, timeout=60)
    timings: dict[str, list[float]] = {name: [] for name, _ in ENDPOINTS}
    try:
        for _ in range(requests):
            for name, target in ENDPOINTS:
                started = time.perf_counter()
                await connection.request("GET", target)
                timings[name].append((time.perf_counter() - started) * 1000)
    finally:
        await connection.close()
    return {name: sorted(values) for name, values in timings.items()}


async def append_rate(
    engine: EventStorageEngine,
    tasks: int,
    seconds: float,
    make: Callable[[int, int], list[EventInput]],
) -> float:
    """Appends a second by ``tasks`` tasks, each appending ``make(task, n)`` back to back."""
    deadline = time.perf_counter() + seconds
    counts = [0] * tasks

    async def run(task: int) -> None:
        while time.perf_counter() < deadline:
            await engine.append(make(task, counts[task]))
            counts[task] += 1

    started = time.perf_counter()
    await asyncio.gather(*(run(task) for task in range(tasks)))
    return sum(counts) / (time.perf_counter() - started)


async def alternate(
    label_a: str,
    label_b: str,
    run: Callable[[str], Awaitable[float]],
    repeats: int,
) -> tuple[list[float], list[float]]:
    a: list[float] = []
    b: list[float] = []
    for _ in range(repeats):
        a.append(await run(label_a))
        b.append(await run(label_b))
    return a, b


def count_nothing(conn: Connection, event_rows: Any, tag_rows: Any) -> None:
    """The baseline of counting: the batch's `count_stored`, doing nothing."""


async def counting_cost(args: argparse.Namespace, workdir: Path) -> tuple[list[float], list[float]]:
    def one_event(task: int, n: int) -> list[EventInput]:
        return [EventInput(type="Counted", tags=(f"a:{task}:{n}", f"b:{task}:{n}"))]

    async def run(label: str) -> float:
        url = await store_url(workdir, f"count-{label}-{time.time_ns()}", args.postgres)
        engine = build_engine(Settings(database_url=url))
        await engine.start()
        if label == "without":
            setattr(batch, "count_stored", count_nothing)  # noqa: B010 - the measured baseline
        try:
            return await append_rate(engine, 16, args.seconds, one_event)
        finally:
            setattr(batch, "count_stored", discovery.count_stored)  # noqa: B010
            await engine.close()

    return await alternate("with", "without", run, args.repeats)


async def schema_cost(args: argparse.Namespace, workdir: Path) -> tuple[list[float], list[float]]:
    def hundred(task: int, n: int) -> list[EventInput]:
        return [
            EventInput(
                type="CourseDefined",
                data=dump_json({"course_id": f"c{task}-{n}-{k}", "capacity": k + 1, "note": "x"}),
                tags=(f"course:{task}-{n}-{k}",),
            )
            for k in range(100)
        ]

    async def run(label: str) -> float:
        url = await store_url(workdir, f"schema-{label}-{time.time_ns()}", args.postgres)
        engine = build_engine(Settings(database_url=url))
        await engine.start()
        try:
            if label == "with":
                await engine.put_schema("CourseDefined", SCHEMA)
            return await append_rate(engine, 4, args.seconds, hundred) * 100
        finally:
            await engine.close()

    return await alternate("with", "without", run, args.repeats)


def report_ratio(
    title: str, unit: str, a: list[float], b: list[float], a_name: str, b_name: str
) -> None:
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"\n{title}")
    print(f"  {a_name:<28}{ma:>12,.0f} {unit}  (runs: {', '.join(f'{v:,.0f}' for v in a)})")
    print(f"  {b_name:<28}{mb:>12,.0f} {unit}  (runs: {', '.join(f'{v:,.0f}' for v in b)})")
    print(f"  ratio {a_name} / {b_name}: {ma / mb:.2f}")


async def bench(args: argparse.Namespace) -> None:
    store = "PostgreSQL" if args.postgres else "SQLite (defaults: WAL, synchronous=FULL)"
    with tempfile.TemporaryDirectory(prefix="bench-discovery-") as folder:
        workdir = Path(folder)
        if args.events:
            url = await store_url(workdir, "large", args.postgres)
            progress(f"filling {args.events:,} events")
            seconds = await fill(url, args.events)
            with pinned_server(url) as server:
                await measure_endpoints(server, 20)  # warm-up
                timings = await measure_endpoints(server, args.requests)
            print(
                f"\nDiscovery on a store of {args.events:,} events ({store}; filled in "
                f"{seconds:.0f} s), {args.requests} requests each, one connection"
            )
            print(f"  {'endpoint':<22}{'p50 ms':>9}{'p99 ms':>9}")
            for name, values in timings.items():
                print(
                    f"  {name:<22}{percentile(values, 0.5):>9.2f}{percentile(values, 0.99):>9.2f}"
                )
        progress("counting at append")
        counted = await counting_cost(args, workdir)
        report_ratio(
            f"Counting at append ({store}, in process): 16 tasks, one event with two new tags each",
            "appends/s",
            *counted,
            "with the counts",
            "without (baseline)",
        )
        progress("schemas at append")
        checked = await schema_cost(args, workdir)
        report_ratio(
            f"Schemas at append ({store}, in process): 4 tasks, 100 events of one type each",
            "events/s",
            *checked,
            "with a schema",
            "without (baseline)",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="0: skip the endpoints")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL database of its own")
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
