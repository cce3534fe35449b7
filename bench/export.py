"""Export and import of a large store by ``eventstore``: events/s and peak memory.

    scripts/bench export [--events 1000000] [--small 100000] [--postgres URL]

1. A store of ``--events`` events is filled through the storage engine (`bench.stores.fill`),
   and a second of ``--small`` events beside it.
2. ``eventstore export`` (a process of its own, as an operator runs it) writes each to a file,
   plain and gzip'd; then ``eventstore import`` reads the large export into an empty SQLite
   store (and PostgreSQL with ``--postgres``). For each run: the wall time, the events per
   second, and the process's peak resident memory (``wait4``'s ``ru_maxrss``).

Constant memory shows as the same peak for both sizes: the export holds a page of events, never
the store. The figures are in docs/performance.md ("Export and import").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.stores import fill, progress
from tests.support.live_server import REPO
from tests.support.postgres import recreate_schema


@dataclass(frozen=True)
class Run:
    label: str
    events: int
    seconds: float
    peak_mib: float
    size_mib: float | None = None

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def eventstore(label: str, events: int, *arguments: str | Path, output: Path | None = None) -> Run:
    """Run ``python -m app.cli ARGUMENTS``; its time and peak memory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTSTORE_")}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", *map(str, arguments)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        assert process.stderr is not None
        raise SystemExit(f"{label} failed: {process.stderr.read().decode()}")
    size = output.stat().st_size / 2**20 if output is not None else None
    run = Run(label, events, seconds, usage.ru_maxrss / 1024, size)
    progress(f"  {row(run)}")
    return run


HEADING = f"{'run':<44} {'events':>10} {'s':>7} {'events/s':>10} {'peak MiB':>9} {'file MiB':>9}"


def row(run: Run) -> str:
    size = f"{run.size_mib:9.0f}" if run.size_mib is not None else f"{'':>9}"
    return (
        f"{run.label:<44} {run.events:>10,} {run.seconds:7.1f} {run.rate:>10,.0f} "
        f"{run.peak_mib:9.1f} {size}"
    )


def report(runs: list[Run]) -> None:
    print(f"\n{HEADING}")
    for run in runs:
        print(row(run))


async def bench(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-export-") as folder:
        workdir = Path(folder)
        runs: list[Run] = []
        for events, name in [(args.small, "small"), (args.events, "large")]:
            url = f"sqlite:///{workdir / name}.db"
            progress(f"filling {events:,} events")
            await fill(url, events)
            for suffix in ("ndjson", "ndjson.gz"):
                path = workdir / f"{name}.{suffix}"
                progress(f"exporting {path.name}")
                runs.append(
                    eventstore(
                        f"export {events:,} (SQLite) to .{suffix}",
                        events,
                        "export",
                        path,
                        "--database-url",
                        url,
                        output=path,
                    )
                )
        large = workdir / "large.ndjson.gz"
        target = f"sqlite:///{workdir / 'imported.db'}"
        progress("importing into SQLite")
        runs.append(
            eventstore(
                f"import {args.events:,} into SQLite", args.events, "import", large, "-d", target
            )
        )
        if args.postgres:
            await recreate_schema(args.postgres)
            progress("importing into PostgreSQL")
            runs.append(
                eventstore(
                    f"import {args.events:,} into PostgreSQL",
                    args.events,
                    "import",
                    large,
                    "-d",
                    args.postgres,
                )
            )
            path = workdir / "postgres.ndjson"
            progress("exporting from PostgreSQL")
            runs.append(
                eventstore(
                    f"export {args.events:,} (PostgreSQL) to .ndjson",
                    args.events,
                    "export",
                    path,
                    "-d",
                    args.postgres,
                    output=path,
                )
            )
        report(runs)


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/bench export", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument(
        "--postgres", help="also import into and export from this database (emptied first)"
    )
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
