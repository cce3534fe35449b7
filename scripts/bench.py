"""Throughput and latency of the HTTP API, with its floor measured in the same run.

    python -m scripts.bench [--seconds 5] [--repeats 3] [--postgres URL] [--store-size 10000]

Targets, each a real uvicorn process pinned to CPU 0 while this load client runs on CPU 1:
- ``floor``: `scripts/bench_floor.py`, the same HTTP surface that parses and stores nothing;
- ``sqlite``: the service on a fresh SQLite file (the default, synchronous=FULL);
- ``postgres``: the service on PostgreSQL, when ``--postgres`` gives a URL (its schema is reset).

Workloads:
- ``append``: one event per request with a tag of its own, and a condition on that tag
  (after = null), so every append checks a condition and succeeds;
- ``read``: ``GET /v1/events?tag=...`` of one tag out of ``store-size / 10`` (ten events each),
  from a store pre-filled with ``store-size`` events.

Figures are medians over the repeats. The load client (`scripts/http_load.py`, keep-alive
connections, pre-built requests) reports its own CPU use: near 100% it is the bottleneck.
Ratios compare each store with the floor measured in this very run. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson

from scripts.http_load import LoadResult, RequestBytes, build_request, run_load
from tests.support.live_server import service_process

SERVER_CPU = 0
CLIENT_CPU = 1


@contextmanager
def server(module: str, env: dict[str, str]) -> Iterator[str]:
    settings = {"EVENTSTORE_LOG_LEVEL": "warning", **env}
    with service_process(module, settings, cpu=SERVER_CPU, startup_seconds=30) as service:
        yield service.base_url


def append_request(base: str, run_id: str) -> RequestBytes:
    host = urlsplit(base).netloc
    unique = itertools.count()  # across every run against this server: no tag is reused

    def append(n: int) -> bytes:
        tag = f"bench:{run_id}-{next(unique)}"
        body = orjson.dumps(
            {
                "events": [{"type": "Benchmarked", "data": {"n": n}, "tags": [tag]}],
                "condition": {"fail_if_events_match": {"items": [{"tags": [tag]}]}},
            }
        )
        return build_request("POST", "/v1/events", host, body)

    return append


def read_request(base: str, tags: int) -> RequestBytes:
    host = urlsplit(base).netloc

    def read(n: int) -> bytes:
        return build_request("GET", f"/v1/events?tag=reader:{n % tags}", host)

    return read


async def fill(base: str, size: int) -> None:
    """``size`` events, ten per ``reader:N`` tag, appended 1,000 at a time."""
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        for start in range(0, size, 1000):
            events = [
                {"type": "Filled", "data": {"n": n}, "tags": [f"reader:{n % (size // 10)}"]}
                for n in range(start, min(size, start + 1000))
            ]
            response = await client.post("/v1/events", json={"events": events})
            response.raise_for_status()


def targets(args: argparse.Namespace, workdir: Path) -> dict[str, tuple[str, dict[str, str]]]:
    found = {
        "floor": ("scripts.bench_floor", {}),
        "sqlite": ("app", {"EVENTSTORE_DATABASE_URL": f"sqlite+aiosqlite:///{workdir}/b.db"}),
    }
    if args.postgres:
        found["postgres"] = ("app", {"EVENTSTORE_DATABASE_URL": args.postgres})
    return found


def reset_postgres(url: str) -> None:
    from sqlalchemy.engine import make_url

    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    subprocess.run(
        ["psql", plain, "-qc", "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;"],
        check=True,
    )


def report(results: dict[tuple[str, str, int], list[LoadResult]]) -> None:
    print(
        f"\n{'target':<10}{'workload':<10}{'conc':>5}{'req/s':>10}{'p50 ms':>9}"
        f"{'p99 ms':>9}{'errors':>8}{'client cpu':>12}{'vs floor':>10}"
    )
    for (target, workload, concurrency), runs in results.items():
        rate = statistics.median(run.rate for run in runs)
        p50 = statistics.median(run.percentile_ms(0.50) for run in runs)
        p99 = statistics.median(run.percentile_ms(0.99) for run in runs)
        cpu = statistics.median(run.client_cpu for run in runs)
        floor = results.get(("floor", workload, concurrency))
        ratio = rate / statistics.median(r.rate for r in floor) if floor else float("nan")
        print(
            f"{target:<10}{workload:<10}{concurrency:>5}{rate:>10.0f}{p50:>9.2f}{p99:>9.2f}"
            f"{sum(r.errors for r in runs):>8}{cpu:>11.0%}{ratio:>10.2f}"
        )


async def bench(args: argparse.Namespace) -> None:
    os.sched_setaffinity(0, {CLIENT_CPU})
    results: dict[tuple[str, str, int], list[LoadResult]] = {}
    with tempfile.TemporaryDirectory() as workdir:
        for target, (module, env) in targets(args, Path(workdir)).items():
            if target == "postgres":
                reset_postgres(args.postgres)
            with server(module, env) as base:
                await fill(base, args.store_size)
                workloads = [
                    ("append", append_request(base, target)),
                    ("read", read_request(base, args.store_size // 10)),
                ]
                for (workload, request), concurrency in itertools.product(
                    workloads, args.concurrency
                ):
                    for repeat in range(args.repeats):
                        run = await run_load(
                            base, request, concurrency=concurrency, seconds=args.seconds
                        )
                        results.setdefault((target, workload, concurrency), []).append(run)
                        print(
                            f"{target} {workload} c={concurrency} #{repeat + 1}: "
                            f"{run.rate:.0f} req/s",
                            file=sys.stderr,
                        )
    report(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--store-size", type=int, default=10_000)
    parser.add_argument("--postgres", help="postgresql+asyncpg:// URL (its schema is reset)")
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
