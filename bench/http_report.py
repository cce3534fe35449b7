"""The tables and the goals of `bench/http.py`: what was measured, against what.

Three parts, printed after every measurement of the run is done:
- the HTTP table (wrk against each target), with "vs floor" (the bare FastAPI floor at the same
  workload and concurrency) and, for the large store, "vs" the small one;
- the in-process table (`bench/direct.py`), with "service / this": the service's HTTP
  events/s over the row's, at the same events per append and concurrency;
- the goals of the benchmark, each with the ratio measured in this run and whether it is met.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bench.direct import DirectResult

SERVER_CPU = 0
CLIENT_CPU = 1
FILL_BATCH = 1000  # events per POST: the service's default limit
FILL_IN_FLIGHT = 2
EVENTS_PER_TAG = 10


@dataclass(frozen=True)
class Workload:
    script: str  # in bench/wrk/
    concurrency: tuple[int, ...]
    events: int  # per request: appended, or returned by a read
    large: bool = False  # read from the --large-store store


WORKLOADS = {
    "append": Workload("append.lua", (1, 16, 64), 1),
    "append100": Workload("append.lua", (16,), 100),
    "read": Workload("read.lua", (1, 16), EVENTS_PER_TAG),
    "read-large": Workload("read.lua", (1, 16), EVENTS_PER_TAG, large=True),
}


@dataclass(frozen=True)
class Run:
    """One wrk run: its JSON line, and the CPU both processes used during it."""

    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    wrk_cpu: float
    server_cpu: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


@dataclass(frozen=True)
class Fill:
    target: str
    events: int
    seconds: float


Key = tuple[str, str, int]  # target, workload, concurrency
Results = dict[Key, list[Run]]


def size_label(size: int) -> str:
    for unit, scale in (("M", 1_000_000), ("k", 1000)):
        if size >= scale and size % scale == 0:
            return f"{size // scale}{unit}"
    return str(size)


def report(results: Results, fills: Sequence[Fill], args: argparse.Namespace) -> None:
    def rate(key: Key) -> float | None:
        runs = results.get(key)
        return statistics.median(run.rate for run in runs) if runs else None

    def ratio(numerator: float, key: Key) -> str:
        denominator = rate(key)
        return f"{numerator / denominator:.2f}" if denominator else "-"

    small = size_label(args.store_size)
    labels = {"read": f"read {small}", "read-large": f"read {size_label(args.large_store)}"}
    print(
        f"\nHTTP: server on CPU {SERVER_CPU}, {args.wrk_version} -t1 on CPU {CLIENT_CPU}; "
        f"medians of {args.repeats} run(s) of {args.seconds} s; errors = sum over the runs; "
        "cpu = CPU seconds per wall second (100% = one core)"
    )
    print(
        f"{'target':<10}{'workload':<11}{'conc':>5}{'req/s':>9}{'events/s':>10}{'p50 ms':>9}"
        f"{'p99 ms':>9}{'errors':>8}{'wrk cpu':>9}{'srv cpu':>9}{'vs floor':>10}"
        f"{'vs ' + small:>10}"
    )
    order = {"floor": 0, "sqlite": 1, "postgres": 2} | {name: i for i, name in enumerate(WORKLOADS)}
    for (target, workload, concurrency), runs in sorted(
        results.items(), key=lambda item: (order[item[0][0]], order[item[0][1]], item[0][2])
    ):
        median = rate((target, workload, concurrency)) or 0.0
        is_read = workload.startswith("read")
        label, events = labels.get(workload, workload), f"{median * WORKLOADS[workload].events:.0f}"
        if target == "floor" and is_read:  # no store, no events returned
            label, events = workload, "-"
        floor_key = ("floor", "read" if is_read else workload, concurrency)
        vs_small = ratio(median, (target, "read", concurrency)) if workload == "read-large" else ""
        print(
            f"{target:<10}{label:<11}{concurrency:>5}{median:>9.0f}{events:>10}"
            f"{statistics.median(r.p50_ms for r in runs):>9.2f}"
            f"{statistics.median(r.p99_ms for r in runs):>9.2f}{sum(r.errors for r in runs):>8}"
            f"{statistics.median(r.wrk_cpu for r in runs):>9.0%}"
            f"{statistics.median(r.server_cpu for r in runs):>9.0%}"
            f"{ratio(median, floor_key):>10}{vs_small:>10}"
        )
    if fills:
        print(f"\nFills over HTTP ({FILL_BATCH:,} events per POST, {FILL_IN_FLIGHT} in flight)")
        for done in fills:
            print(
                f"{done.target:<10}{done.events:>12,} events in {done.seconds:8.1f} s: "
                f"{done.events / done.seconds:>9,.0f} events/s"
            )


DIRECT_TARGETS = {"sqlite3": "sqlite", "asyncpg": "postgres", "eventsourcing": "postgres"}
"""The HTTP target each in-process row is compared with (its floor, or the peer)."""


def report_direct(rows: Sequence[DirectResult], results: Mapping[Key, list[Run]]) -> None:
    """The in-process rows.

    "service / this" divides the service's HTTP events/s (target from DIRECT_TARGETS, the same
    events per append: ``append`` or ``append100``, the same concurrency) by the row's: how much
    of its floor the service reaches, or how it compares with the peer."""
    if not rows:
        return
    print("\nIn process (bench/direct.py), conditional appends without HTTP")
    print(
        f"{'name':<14}{'workload':<11}{'conc':>5}{'ev/append':>10}{'appends/s':>11}"
        f"{'events/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'service / this':>16}"
    )
    for row in rows:
        workload = "append100" if row.events_per_append == 100 else row.workload
        http = results.get((DIRECT_TARGETS.get(row.name, row.name), workload, row.concurrency))
        ratio = (
            f"{statistics.median(r.rate for r in http) / row.appends_per_s:.2f}"
            if http and row.appends_per_s
            else "-"
        )
        print(
            f"{row.name:<14}{workload:<11}{row.concurrency:>5}{row.events_per_append:>10}"
            f"{row.appends_per_s:>11.0f}{row.appends_per_s * row.events_per_append:>10.0f}"
            f"{row.p50_ms:>9.2f}{row.p99_ms:>9.2f}{ratio:>16}"
        )


@dataclass(frozen=True)
class Goal:
    text: str
    measured: float | None  # None: not measured in this run
    least: float | None = None
    most: float | None = None

    @property
    def verdict(self) -> str:
        if self.measured is None:
            return "not run"
        met = (self.least is None or self.measured >= self.least) and (
            self.most is None or self.measured <= self.most
        )
        return "met" if met else "NOT MET"

    @property
    def bound(self) -> str:
        return f">= {self.least:g}" if self.least is not None else f"<= {self.most:g}"


def goals(
    results: Mapping[Key, list[Run]], direct: Sequence[DirectResult], args: argparse.Namespace
) -> list[Goal]:
    """The goals of the benchmark, each measured as a ratio (or a latency) of this run."""

    def http(target: str, workload: str, concurrency: int) -> float | None:
        runs = results.get((target, workload, concurrency))
        return (
            statistics.median(r.rate * WORKLOADS[workload].events for r in runs) if runs else None
        )

    def p50(target: str, workload: str, concurrency: int) -> float | None:
        runs = results.get((target, workload, concurrency))
        return statistics.median(r.p50_ms for r in runs) if runs else None

    def inprocess(name: str, events: int, concurrency: int) -> float | None:
        found = [
            r.events_per_s
            for r in direct
            if (r.name, r.events_per_append, r.concurrency) == (name, events, concurrency)
        ]
        return found[0] if found else None

    def over(numerator: float | None, denominator: float | None) -> float | None:
        return numerator / denominator if numerator and denominator else None

    small, large = size_label(args.store_size), size_label(args.large_store)
    found = [
        Goal(
            "sqlite: 1-event conditional appends, 16 conns / the floor",
            over(http("sqlite", "append", 16), http("floor", "append", 16)),
            least=0.8,
        ),
        Goal(
            "postgres: appends at 16 conns / the peer's single conditional appends",
            over(http("postgres", "append", 16), inprocess("eventsourcing", 1, 1)),
            least=2.0,
        ),
        Goal(
            "sqlite: 100-event appends / plain sqlite3 100-event transactions",
            over(http("sqlite", "append100", 16), inprocess("sqlite3", 100, 1)),
            least=0.5,
        ),
    ]
    for target in ("sqlite", "postgres"):
        found += [
            Goal(
                f"{target}: one-tag reads, 16 conns / the floor",
                over(http(target, "read", 16), http("floor", "read", 16)),
                least=0.6,
            ),
            Goal(f"{target}: one-tag read p50 ms, 1 conn", p50(target, "read", 1), most=2.0),
        ]
        found += [
            Goal(
                f"{target}: reads, {conns} conn(s): {small} store / {large} store",
                over(http(target, "read", conns), http(target, "read-large", conns)),
                most=1.3,
            )
            for conns in (1, 16)
        ]
    return found


def report_goals(
    results: Mapping[Key, list[Run]], direct: Sequence[DirectResult], args: argparse.Namespace
) -> None:
    print("\nGoals (ratios of this run)")
    print(f"{'goal':<68}{'measured':>10}{'goal':>9}  verdict")
    for goal in goals(results, direct, args):
        measured = "-" if goal.measured is None else f"{goal.measured:.3f}"
        print(f"{goal.text:<68}{measured:>10}{goal.bound:>9}  {goal.verdict}")
