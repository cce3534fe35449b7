"""What the HTTP edge costs appends and reads: the same service and floor under three protocols.

    scripts/bench edge [--seconds 3] [--repeats 3] [--store-size 10000] [--workloads read append]

Targets (`bench/edge_server.py`), each a real process pinned to CPU 0 as in `bench/http.py`:
``edge`` (`app.server`, what ``python -m app`` runs), ``httptools`` (uvicorn's own protocol, no
limits) and ``h11`` (uvicorn's h11 protocol with its head limit), each serving the service on
a fresh SQLite store of ``--store-size`` events and the floor (`bench/http_floor.py`: the same
HTTP surface, no store), which shows the protocol's cost undiluted. The workloads are
`bench/http.py`'s ``read`` and ``append`` (wrk, one thread on CPU 1) at 1 and 16 connections.

Every server runs for the whole benchmark and the runs are interleaved: each repeat runs every
workload on every target in turn, so that a shared, noisy machine's drift falls on all of them
alike. The table shows medians over the repeats, and each target's req/s over ``httptools``'s
at the same workload (1.00: the edge costs nothing measurable). Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from bench.edge_server import PROTOCOLS
from bench.http import at_least, ensure_wrk, fill, run_wrk, wrk_args
from bench.http_report import CLIENT_CPU, EVENTS_PER_TAG, SERVER_CPU, WORKLOADS, Run
from tests.support.live_server import ServiceProcess, service_process

BASELINE = "httptools"
CONCURRENCY = (1, 16)
Key = tuple[str, str, str, int]  # store (floor or sqlite), protocol, workload, concurrency


@contextmanager
def target(protocol: str, store: str, workdir: str, *, floor: bool) -> Iterator[ServiceProcess]:
    env = {
        "EVENTSTORE_LOG_LEVEL": "warning",
        "EVENTSTORE_DATABASE_URL": f"sqlite:///{workdir}/{store}.db",
    }
    options = ["--protocol", protocol, *(["--floor"] if floor else [])]
    with service_process(
        "bench.edge_server", env, options=options, cpu=SERVER_CPU, startup_seconds=30
    ) as service:
        yield service


async def bench(args: argparse.Namespace) -> dict[Key, list[Run]]:
    os.sched_setaffinity(0, {CLIENT_CPU})
    results: dict[Key, list[Run]] = {}
    tags = args.store_size // EVENTS_PER_TAG
    with tempfile.TemporaryDirectory() as workdir, ExitStack() as servers:
        targets: dict[tuple[str, str], ServiceProcess] = {}
        for protocol in PROTOCOLS:
            for store in ("floor", "sqlite"):
                service = servers.enter_context(
                    target(protocol, protocol, workdir, floor=store == "floor")
                )
                if store == "sqlite":
                    await fill(service.base_url, f"sqlite/{protocol}", args.store_size)
                targets[(store, protocol)] = service
        for repeat in range(args.repeats):
            for workload in args.workloads:
                for concurrency in CONCURRENCY:
                    for (store, protocol), service in targets.items():
                        script = WORKLOADS[workload].script
                        if repeat == 0 and args.warmup:  # a run id of its own: fresh tags
                            warmup_args = wrk_args(WORKLOADS[workload], tags)
                            run_wrk(service, script, warmup_args, concurrency, args.warmup)
                        script_args = wrk_args(WORKLOADS[workload], tags)
                        run = run_wrk(service, script, script_args, concurrency, args.seconds)
                        results.setdefault((store, protocol, workload, concurrency), []).append(run)
                        print(
                            f"#{repeat + 1} {store} {protocol} {workload} c={concurrency}: "
                            f"{run.rate:.0f} req/s, {run.errors} errors",
                            flush=True,
                        )
    return results


def report(results: dict[Key, list[Run]], args: argparse.Namespace) -> None:
    print(
        f"\nThe HTTP edge: medians of {args.repeats} interleaved run(s) of {args.seconds} s; "
        f"server on CPU {SERVER_CPU}, {args.wrk_version} -t1 on CPU {CLIENT_CPU}"
    )
    print(
        f"{'store':<8}{'protocol':<11}{'workload':<9}{'conc':>5}{'req/s':>9}{'p50 ms':>9}"
        f"{'p99 ms':>9}{'errors':>8}{'srv cpu':>9}{'vs ' + BASELINE:>14}"
    )
    for (store, protocol, workload, concurrency), runs in sorted(results.items()):
        rate = statistics.median(run.rate for run in runs)
        baseline = results[(store, BASELINE, workload, concurrency)]
        ratio = rate / statistics.median(run.rate for run in baseline)
        print(
            f"{store:<8}{protocol:<11}{workload:<9}{concurrency:>5}{rate:>9.0f}"
            f"{statistics.median(r.p50_ms for r in runs):>9.2f}"
            f"{statistics.median(r.p99_ms for r in runs):>9.2f}"
            f"{sum(r.errors for r in runs):>8}"
            f"{statistics.median(r.server_cpu for r in runs):>9.0%}{ratio:>14.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=at_least(1), default=3, help="per run (whole seconds)")
    parser.add_argument("--repeats", type=at_least(1), default=3)
    parser.add_argument("--warmup", type=at_least(0), default=1, help="seconds, 0 for none")
    parser.add_argument("--store-size", type=at_least(EVENTS_PER_TAG), default=10_000)
    parser.add_argument(
        "--workloads", nargs="+", choices=("read", "append"), default=["read", "append"]
    )
    args = parser.parse_args()
    args.wrk_version = ensure_wrk()
    report(asyncio.run(bench(args)), args)


if __name__ == "__main__":
    main()
