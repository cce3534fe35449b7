"""In-process floors and peer for `bench/http.py`: conditional appends without HTTP.

    scripts/bench direct [--seconds 5] [--repeats 3] [--postgres URL]

Each measurement loops appends for ``--seconds`` and reports appends/s, events/s and the p50/p99
latency of one append, medians over ``--repeats``. Every append gives all its events a tag of its
own and the condition "no event with that tag after position 0" (``after = null`` in the HTTP
benchmark), so every condition is checked and holds. Two sizes: 1 event, and 100 in one append
(``workload`` is "append" for both; ``events_per_append`` tells them apart). Each target starts
from an empty store, which then grows over its runs.

- ``sqlite3``: the standard library driver, one connection in one thread, on a fresh file (WAL,
  synchronous=FULL) with the service's schema (its migrations). An append is BEGIN IMMEDIATE; the
  condition (``SELECT 1 FROM event_tags WHERE tag = ? AND position > ? LIMIT 1``); max(position);
  the events rows and the event_tags rows; COMMIT. That is the service's write transaction and
  nothing else: no HTTP, validation, SQLAlchemy nor thread hop. SQLite allows one writer, so with
  one append per transaction (one fsync'd commit each) nothing on this file can append faster:
  the floor of the service on SQLite. Only sharing a commit among appends could pass it; the
  100-event row shows what that buys.
- ``asyncpg`` (with ``--postgres``; that database is created if missing, its public schema reset,
  then migrated by the service): the same transaction on PostgreSQL in raw asyncpg, after the
  service's writer lock (``pg_advisory_xact_lock(WRITER_LOCK)``), at concurrency 1 (one
  connection) and 16 (16 connections, each looping). The lock is held until the commit is
  flushed, so writers and their commits are serialised as in the service: the floor of the
  service on PostgreSQL, at either concurrency.
- ``eventsourcing``: the peer, the `eventsourcing` library's PostgreSQL DCB recorder
  (``eventsourcing.dcb.postgres_tt.PostgresDCBRecorderTT``, psycopg 3 and its pool) in database
  ``bench_peer`` of the same server (created if missing, public schema reset). An append is one
  call of its ``append``: one statement calling its plpgsql function, which locks the events table
  in EXCLUSIVE mode, checks the condition, inserts and NOTIFYs. Concurrency 1 (calling thread)
  and 16 threads over one pool of 16 connections. Skipped, with the pip command, where the
  library is missing.

`measure_direct` is a coroutine, for `bench/http.py`; the blocking parts (sqlite3, the peer)
run in a worker thread. CPU affinity is left to the caller. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
from sqlalchemy import create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from app.storage.sql.migrations import upgrade
from app.storage.sql.postgres import WRITER_LOCK
from tests.support.postgres import recreate_schema

PEER_PIP = "pip install 'eventsourcing[postgres]>=9.5,<9.6' 'psycopg[binary]>=3.2'"
PEER_DATABASE = "bench_peer"
SIZES = (1, 100)
CONCURRENCY = (1, 16)
DATA = '{"n":1}'
CONDITION = "SELECT 1 FROM event_tags WHERE tag = {} AND position > {} LIMIT 1"
INSERT_EVENTS = (
    "INSERT INTO events (position, id, type, data, tags, metadata, recorded_at, append_first)"
    " VALUES ({}, {}, {}, {}, {}, {}, {}, {})"
)
INSERT_TAGS = "INSERT INTO event_tags (tag, position) VALUES ({}, {})"
_unique = itertools.count()  # every append of the process gets a tag of its own


@dataclass(frozen=True)
class DirectResult:
    name: str
    workload: str
    concurrency: int
    events_per_append: int
    appends_per_s: float
    p50_ms: float
    p99_ms: float

    @property
    def events_per_s(self) -> float:
        return self.appends_per_s * self.events_per_append


Run = tuple[float, list[float]]
"""One measurement: the seconds it took and the latency of each append in it."""


def _result(name: str, concurrency: int, size: int, runs: list[Run]) -> DirectResult:
    def percentile(latencies: list[float], fraction: float) -> float:
        ordered = sorted(latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000

    rate = statistics.median(len(run) / elapsed for elapsed, run in runs)
    p50, p99 = (statistics.median(percentile(run, f) for _, run in runs) for f in (0.50, 0.99))
    print(f"{name} x{size} c={concurrency}: {rate:.0f} appends/s", file=sys.stderr)
    return DirectResult(name, "append", concurrency, size, rate, p50, p99)


def _loop(append: Callable[[], None], deadline: float) -> list[float]:
    latencies: list[float] = []
    now = time.perf_counter()
    while now < deadline:
        append()
        latencies.append(time.perf_counter() - now)
        now += latencies[-1]
    return latencies


def _threads(append: Callable[[], None], threads: int, seconds: float) -> Run:
    """``threads`` threads looping ``append`` for ``seconds``; one is the calling thread."""
    start = time.perf_counter()
    if threads == 1:
        runs = [_loop(append, start + seconds)]
    else:
        with ThreadPoolExecutor(threads) as pool:
            runs = list(pool.map(lambda _: _loop(append, start + seconds), range(threads)))
    return time.perf_counter() - start, [latency for run in runs for latency in run]


# --- sqlite3 -------------------------------------------------------------------------------


def _sqlite_append(db: sqlite3.Connection, size: int) -> None:
    tag = f"bench:{next(_unique)}"
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # as SQLAlchemy stores it
    db.execute("BEGIN IMMEDIATE")
    try:
        if db.execute(CONDITION.format("?", "?"), (tag, 0)).fetchone():
            raise RuntimeError(f"condition failed on {tag}")
        first = (db.execute("SELECT max(position) FROM events").fetchone()[0] or 0) + 1
        positions = range(first, first + size)
        rows = [
            (p, uuid4().hex, "Benchmarked", DATA, f'["{tag}"]', "{}", now, first) for p in positions
        ]
        db.executemany(INSERT_EVENTS.format(*"?" * 8), rows)
        db.executemany(INSERT_TAGS.format("?", "?"), [(tag, p) for p in positions])
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def measure_sqlite(seconds: float, repeats: int) -> list[DirectResult]:
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "floor.db"
        engine = create_engine(f"sqlite:///{path}")
        with engine.begin() as conn:
            upgrade(conn)
        engine.dispose()
        db = sqlite3.connect(path, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            results: list[DirectResult] = []
            for size in SIZES:
                runs = [
                    _threads(partial(_sqlite_append, db, size), 1, seconds) for _ in range(repeats)
                ]
                results.append(_result("sqlite3", 1, size, runs))
            return results
        finally:
            db.close()


# --- asyncpg -------------------------------------------------------------------------------


def _dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def _pg_append(conn: Any, size: int) -> None:
    tag = f"bench:{next(_unique)}"
    now = datetime.now(UTC)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", WRITER_LOCK)
        if await conn.fetchval(CONDITION.format("$1", "$2"), tag, 0):
            raise RuntimeError(f"condition failed on {tag}")
        first = (await conn.fetchval("SELECT max(position) FROM events") or 0) + 1
        positions = range(first, first + size)
        rows = [
            (p, uuid4(), "Benchmarked", DATA, f'["{tag}"]', "{}", now, first) for p in positions
        ]
        await conn.executemany(INSERT_EVENTS.format(*(f"${n}" for n in range(1, 9))), rows)
        await conn.executemany(INSERT_TAGS.format("$1", "$2"), [(tag, p) for p in positions])


async def _connections(
    append: Callable[[Any], Awaitable[None]], connections: list[Any], seconds: float
) -> Run:
    """Each connection looping ``append`` for ``seconds``."""
    start = time.perf_counter()
    deadline = start + seconds

    async def loop(conn: Any) -> list[float]:
        latencies: list[float] = []
        now = time.perf_counter()
        while now < deadline:
            await append(conn)
            latencies.append(time.perf_counter() - now)
            now += latencies[-1]
        return latencies

    runs = await asyncio.gather(*(loop(conn) for conn in connections))
    return time.perf_counter() - start, [latency for run in runs for latency in run]


async def measure_asyncpg(postgres: str, seconds: float, repeats: int) -> list[DirectResult]:
    url = make_url(postgres)
    await recreate_schema(postgres)
    engine = create_async_engine(url.set(drivername="postgresql+asyncpg"))
    async with engine.begin() as conn:
        await conn.run_sync(upgrade)
    await engine.dispose()
    results: list[DirectResult] = []
    for size, concurrency in itertools.product(SIZES, CONCURRENCY):
        connections = [await asyncpg.connect(_dsn(url)) for _ in range(concurrency)]
        try:
            append = partial(_pg_append, size=size)
            runs = [await _connections(append, connections, seconds) for _ in range(repeats)]
        finally:
            for conn in connections:
                await conn.close()
        results.append(_result("asyncpg", concurrency, size, runs))
    return results


# --- the peer: eventsourcing's PostgreSQL DCB recorder ------------------------------------


def measure_peer(postgres: str, seconds: float, repeats: int) -> list[DirectResult]:
    # The `bench` extra: imported here only, so that the floors run without it.
    try:
        from eventsourcing.dcb import api  # type: ignore[import-not-found, unused-ignore]
        from eventsourcing.dcb.postgres_tt import PostgresDCBRecorderTT  # type: ignore[import-not-found, unused-ignore]
        from eventsourcing.postgres import PostgresDatastore  # type: ignore[import-not-found, unused-ignore]
    except ImportError as missing:
        print(f"eventsourcing peer skipped ({missing}); install it: {PEER_PIP}", file=sys.stderr)
        return []
    url = make_url(postgres).set(database=PEER_DATABASE)
    asyncio.run(recreate_schema(url.render_as_string(hide_password=False)))
    datastore = PostgresDatastore(
        dbname=PEER_DATABASE,
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password or "",
        pool_size=max(CONCURRENCY),
    )
    try:
        recorder = PostgresDCBRecorderTT(datastore)
        recorder.create_table()  # composite types, tables, indexes, plpgsql functions
        datastore.pool.open(wait=True, timeout=30)  # not filling the pool during the first run

        def append(size: int) -> None:
            tag = f"bench:{next(_unique)}"
            events = [api.DCBEvent("Benchmarked", DATA.encode(), [tag]) for _ in range(size)]
            query = api.DCBQuery(items=[api.DCBQueryItem(tags=[tag])])
            recorder.append(events, api.DCBAppendCondition(fail_if_events_match=query, after=None))

        results: list[DirectResult] = []
        for size, threads in itertools.product(SIZES, CONCURRENCY):
            runs = [_threads(partial(append, size), threads, seconds) for _ in range(repeats)]
            results.append(_result("eventsourcing", threads, size, runs))
        return results
    finally:
        datastore.close()


async def measure_direct(seconds: float, repeats: int, postgres: str | None) -> list[DirectResult]:
    """Every floor, and the peer where ``postgres`` names a server (a postgresql[+asyncpg] URL
    whose database is created if missing and reset; the peer uses ``bench_peer`` beside it)."""
    results = await asyncio.to_thread(measure_sqlite, seconds, repeats)
    if postgres:
        results += await measure_asyncpg(postgres, seconds, repeats)
        results += await asyncio.to_thread(measure_peer, postgres, seconds, repeats)
    return results


def report(results: list[DirectResult]) -> None:
    print(
        f"\n{'name':<15}{'workload':<10}{'conc':>5}{'ev/app':>7}{'appends/s':>11}"
        f"{'events/s':>11}{'p50 ms':>9}{'p99 ms':>9}"
    )
    for r in results:
        print(
            f"{r.name:<15}{r.workload:<10}{r.concurrency:>5}{r.events_per_append:>7}"
            f"{r.appends_per_s:>11.0f}{r.events_per_s:>11.0f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--postgres", help="postgresql[+asyncpg]:// URL (its schema is reset)")
    args = parser.parse_args()
    report(asyncio.run(measure_direct(args.seconds, args.repeats, args.postgres)))


if __name__ == "__main__":
    main()
