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
ALL_CPUS = (SERVER_CPU, CLIENT_CPU)
"""What several worker processes and wrk share (this machine has two cores)."""
BASE_SUFFIX = "@base"
"""The targets served by the earlier checkout given with ``--base``."""
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


Key = tuple[str, int, str, int]  # target, worker processes, workload, concurrency
Results = dict[Key, list[Run]]


def size_label(size: int) -> str:
    for unit, scale in (("M", 1_000_000), ("k", 1000)):
        if size >= scale and size % scale == 0:
            return f"{size // scale}{unit}"
    return str(size)


def median_rate(results: Mapping[Key, list[Run]], key: Key) -> float | None:
    runs = results.get(key)
    return statistics.median(run.rate for run in runs) if runs else None


def spread(runs: Sequence[Run]) -> float:
    """The run-to-run noise of one measurement: (fastest - slowest) / median req/s."""
    rates = [run.rate for run in runs]
    median = statistics.median(rates)
    return (max(rates) - min(rates)) / median if median else 0.0


def report(results: Results, fills: Sequence[Fill], args: argparse.Namespace) -> None:
    def ratio(numerator: float, key: Key) -> str:
        denominator = median_rate(results, key)
        return f"{numerator / denominator:.2f}" if denominator else "-"

    small = size_label(args.store_size)
    labels = {"read": f"read {small}", "read-large": f"read {size_label(args.large_store)}"}
    print(
        f"\nHTTP: one process on CPU {SERVER_CPU} with {args.wrk_version} -t1 on CPU "
        f"{CLIENT_CPU}; several processes share CPUs {ALL_CPUS} with wrk (this machine has no "
        f"core for the load generator alone). Medians of {args.repeats} run(s) of {args.seconds} s;"
        " errors = sum over the runs; noise = (fastest - slowest) / median; cpu = CPU seconds per"
        " wall second (100% = one core; the server's: all its processes)"
    )
    print(
        f"{'target':<16}{'procs':>5} {'workload':<11}{'conc':>5}{'req/s':>9}{'events/s':>10}"
        f"{'p50 ms':>8}{'p99 ms':>8}{'errors':>7}{'noise':>7}{'wrk cpu':>8}{'srv cpu':>8}"
        f"{'vs floor':>9}{'vs 1 proc':>10}{'vs base':>8}{'vs ' + small:>8}"
    )
    targets = ["floor", "sqlite", "postgres", "sqlite" + BASE_SUFFIX, "postgres" + BASE_SUFFIX]
    order = {name: i for i, name in enumerate(targets)} | {n: i for i, n in enumerate(WORKLOADS)}
    for key, runs in sorted(
        results.items(), key=lambda item: (order[item[0][0]], order[item[0][2]], *item[0][1::2])
    ):
        target, processes, workload, concurrency = key
        median = median_rate(results, key) or 0.0
        is_read = workload.startswith("read")
        label, events = labels.get(workload, workload), f"{median * WORKLOADS[workload].events:.0f}"
        if target == "floor" and is_read:  # no store, no events returned
            label, events = workload, "-"
        floor_key = ("floor", processes, "read" if is_read else workload, concurrency)
        one = ratio(median, (target, 1, workload, concurrency)) if processes > 1 else ""
        base = ""
        if args.base and target != "floor" and not target.endswith(BASE_SUFFIX) and processes == 1:
            base = ratio(median, (target + BASE_SUFFIX, 1, workload, concurrency))
        vs_small = (
            ratio(median, (target, processes, "read", concurrency))
            if workload == "read-large"
            else ""
        )
        print(
            f"{target:<16}{processes:>5} {label:<11}{concurrency:>5}{median:>9.0f}{events:>10}"
            f"{statistics.median(r.p50_ms for r in runs):>8.2f}"
            f"{statistics.median(r.p99_ms for r in runs):>8.2f}{sum(r.errors for r in runs):>7}"
            f"{spread(runs):>7.0%}"
            f"{statistics.median(r.wrk_cpu for r in runs):>8.0%}"
            f"{statistics.median(r.server_cpu for r in runs):>8.0%}"
            f"{ratio(median, floor_key):>9}{one:>10}{base:>8}{vs_small:>8}"
        )
    if fills:
        print(f"\nFills over HTTP ({FILL_BATCH:,} events per POST, {FILL_IN_FLIGHT} in flight)")
        for done in fills:
            print(
                f"{done.target:<16}{done.events:>12,} events in {done.seconds:8.1f} s: "
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
        http = results.get((DIRECT_TARGETS.get(row.name, row.name), 1, workload, row.concurrency))
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

    def runs(target: str, workload: str, concurrency: int, processes: int = 1) -> list[Run]:
        return results.get((target, processes, workload, concurrency), [])

    def http(target: str, workload: str, concurrency: int, processes: int = 1) -> float | None:
        found = runs(target, workload, concurrency, processes)
        events = WORKLOADS[workload].events
        return statistics.median(r.rate * events for r in found) if found else None

    def p50(target: str, workload: str, concurrency: int) -> float | None:
        found = runs(target, workload, concurrency)
        return statistics.median(r.p50_ms for r in found) if found else None

    def p99(target: str, workload: str, concurrency: int, processes: int) -> float | None:
        found = runs(target, workload, concurrency, processes)
        return statistics.median(r.p99_ms for r in found) if found else None

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
    sqlite_appends = over(http("sqlite", "append", 16), http("floor", "append", 16))
    found = [
        Goal("sqlite: 1-event conditional appends, 16 conns / the floor", sqlite_appends, 0.5),
        Goal("sqlite: the same, the long-term goal", sqlite_appends, least=0.8),
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
    for target, read_floor, read_p50 in (("sqlite", 0.5, 2.0), ("postgres", 0.4, 1.5)):
        found += [
            Goal(
                f"{target}: one-tag reads, 16 conns / the floor",
                over(http(target, "read", 16), http("floor", "read", 16)),
                least=read_floor,
            ),
            Goal(f"{target}: one-tag read p50 ms, 1 conn", p50(target, "read", 1), most=read_p50),
        ]
        found += [
            Goal(
                f"{target}: reads, {conns} conn(s): {small} store / {large} store",
                over(http(target, "read", conns), http(target, "read-large", conns)),
                most=1.3,
            )
            for conns in (1, 16)
        ]
        found += [
            Goal(
                f"{target}: reads at 16 conns, 2 processes / 1",
                over(http(target, "read", 16, 2), http(target, "read", 16)),
                least=1.5,
            ),
            Goal(
                f"{target}: appends at 16 conns, 2 processes / 1",
                over(http(target, "append", 16, 2), http(target, "append", 16)),
                least=1.2,
            ),
            Goal(
                f"{target}: append p99 at 16 conns, 2 processes / 1",
                over(p99(target, "append", 16, 2), p99(target, "append", 16, 1)),
                most=2.0,
            ),
        ]
    return found


def slower_than_base(results: Mapping[Key, list[Run]]) -> list[str]:
    """Each measurement of this version slower than the earlier one (``--base``) by more than
    the run-to-run noise of either: the larger ``spread`` of their runs."""
    found = []
    for (target, processes, workload, concurrency), runs in sorted(results.items()):
        base = results.get((target + BASE_SUFFIX, processes, workload, concurrency))
        if not base or target.endswith(BASE_SUFFIX):
            continue
        now, then = (statistics.median(r.rate for r in each) for each in (runs, base))
        noise = max(spread(runs), spread(base))
        if now < then * (1 - noise):
            found.append(
                f"{target} {workload} c={concurrency}: {now / then:.2f} of {target}{BASE_SUFFIX}"
                f" (noise {noise:.0%})"
            )
    return found


def report_goals(
    results: Mapping[Key, list[Run]], direct: Sequence[DirectResult], args: argparse.Namespace
) -> None:
    print("\nGoals (ratios of this run)")
    print(f"{'goal':<68}{'measured':>10}{'goal':>9}  verdict")
    for goal in goals(results, direct, args):
        measured = "-" if goal.measured is None else f"{goal.measured:.3f}"
        print(f"{goal.text:<68}{measured:>10}{goal.bound:>9}  {goal.verdict}")
    if args.base:
        slower = slower_than_base(results)
        print(f"\nSlower than {args.base} by more than the noise: {len(slower) or 'none'}")
        for line in slower:
            print(f"  {line}")
