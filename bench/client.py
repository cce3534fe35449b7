"""What the Python client library costs: appends/s and reads/s through ``EventStore`` against
the same server without it (httpx alone), as a ratio.

    scripts/bench client [--database URL] [--seconds 3] [--repeats 5]

One service process (`python -m app`, `bench.stores.pinned_server`: CPU 0 where there are two)
on ``--database``; this process is the client, one connection, one request at a time, pinned
to CPU 1. The default store is a fresh SQLite file in memory-backed ``/dev/shm`` (the system's
temporary folder where there is none): its indexes keep every request's server work constant
as the store grows, and without a disk's fsync in each append the client's share of the time is
as large as a real store allows. (The in-memory engine, the executable specification, scans
every event for a condition or a tag: its requests grow slower as the appends of the run add
up, which drowned the client's cost in a first version of this benchmark.)
Each workload runs ``--repeats`` rounds, each round ``--seconds`` of httpx alone then as long
through the library, alternating so that drift hits both; the figures are medians over rounds.

- ``append``: one event with a tag of its own, an id (made by the library, by ``uuid4`` for
  httpx alone: the service does the same work) and the condition "no event with this tag".
  httpx alone posts the dict and reads the positions from the JSON; the library builds an
  ``Event`` and an ``AppendCondition`` and returns an ``AppendResult``.
- ``read``: the 10 events of one tag (of a store that holds them and others), as one page.
  httpx alone parses the JSON; the library returns a ``ReadResult`` of ``SequencedEvent`` values
  (timestamps parsed).

Beside the rates, the client's CPU time per operation (``time.process_time`` of this process,
the server being another): the library's own cost, and the figure least disturbed by a busy
machine. Nothing is asserted: it prints the figures.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.stores import pinned_server
from eventstore_client import AppendCondition, Event, EventStore, Query

READ_TAG = "bench:read"


@dataclass(frozen=True)
class Figures:
    workload: str
    httpx_per_s: float
    library_per_s: float
    httpx_cpu_us: float
    library_cpu_us: float

    @property
    def ratio(self) -> float:
        return self.library_per_s / self.httpx_per_s


def _rate(operation: Callable[[int], object], seconds: float) -> tuple[float, float]:
    """Operations per second, and this process's CPU microseconds per operation."""
    done = 0
    started, cpu = time.perf_counter(), time.process_time()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        operation(done)
        done += 1
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return done / elapsed, cpu / done * 1e6


def measure(base_url: str, seconds: float, repeats: int) -> list[Figures]:
    run = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=base_url, timeout=30) as client, EventStore(base_url) as store:
        store.append([Event("BenchRead", {"i": i}, [READ_TAG]) for i in range(10)])
        store.append([Event("BenchOther", {"i": i}, ["bench:other"]) for i in range(100)])

        numbers = itertools.count()  # a tag of its own for every append, warm-up included

        def append_httpx(_: int) -> object:
            i = next(numbers)
            tag = f"bench:{run}:{i}"
            body = {
                "events": [
                    {"id": str(uuid.uuid4()), "type": "Bench", "data": {"n": i}, "tags": [tag]}
                ],
                "condition": {"fail_if_events_match": {"items": [{"tags": [tag]}]}, "after": None},
            }
            response = client.post("/v1/events", json=body)
            assert response.status_code == 201, response.text
            return response.json()["positions"]

        def append_library(_: int) -> object:
            i = next(numbers)
            tag = f"bench:{run}:{i}"
            condition = AppendCondition(Query.of(tags=[tag]))
            return store.append(Event("Bench", {"n": i}, [tag]), condition).positions

        read_body = {"query": {"items": [{"tags": [READ_TAG]}]}, "limit": 10}
        read_query = Query.of(tags=[READ_TAG])

        def read_httpx(i: int) -> object:
            response = client.post("/v1/events/query", json=read_body)
            assert response.status_code == 200, response.text
            return response.json()["events"]

        def read_library(i: int) -> object:
            return store.read(read_query, limit=10).events

        figures = []
        for workload, alone, through in (
            ("append", append_httpx, append_library),
            ("read", read_httpx, read_library),
        ):
            alone(0), through(0)  # warm: connections, caches
            rounds = [(_rate(alone, seconds), _rate(through, seconds)) for _ in range(repeats)]
            figures.append(
                Figures(
                    workload,
                    statistics.median(a[0] for a, _ in rounds),
                    statistics.median(t[0] for _, t in rounds),
                    statistics.median(a[1] for a, _ in rounds),
                    statistics.median(t[1] for _, t in rounds),
                )
            )
        return figures


def report(database: str, figures: list[Figures]) -> None:
    print(f"client library against httpx alone, one connection, {database}")
    print(
        f"{'workload':<10}{'httpx/s':>10}{'library/s':>11}{'ratio':>7}"
        f"{'httpx cpu us':>14}{'library cpu us':>16}"
    )
    for row in figures:
        print(
            f"{row.workload:<10}{row.httpx_per_s:>10,.0f}{row.library_per_s:>11,.0f}"
            f"{row.ratio:>7.2f}{row.httpx_cpu_us:>14,.0f}{row.library_cpu_us:>16,.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", help="the store's URL (default: SQLite in /dev/shm)")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as folder:
        database = args.database or f"sqlite:///{folder}/client.db"
        with pinned_server(database) as service:
            figures = measure(service.base_url, args.seconds, args.repeats)
    report(database, figures)


if __name__ == "__main__":
    main()
