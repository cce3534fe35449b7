"""What the metrics middleware and the limits cost one request, in instructions (callgrind).

    .venv/bin/python -m bench.per_request [--requests 20000]

Method. Each case runs in a process of its own under ``valgrind --tool=callgrind``, twice: with
no request and with ``--requests`` requests; the difference of the instructions counted, divided
by the number of requests, is the cost of one (start-up and imports cancel out). Instructions do
not depend on the load of the machine, so the figures repeat where timings would not. Cases:

- ``metrics: none``: a bare ASGI app answering 200, called directly (the baseline);
- ``metrics: one process``: the same behind `MetricsMiddleware` (request counter and latency
  histogram, as for a read);
- ``metrics: several workers``: the same with prometheus_client's multiprocess mode
  (`app.api.metrics.use_multiprocess_files`), as a worker among several;
- ``append rate: one process`` / ``several workers``: `AppendRate.take` /
  `SharedAppendRate.take` (the lock, the row, the bucket) for one token;
- ``stream slot: one process`` / ``several workers``: acquiring and releasing a stream slot.

Printed: instructions per request of each case. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.access.limits import AppendRate, StreamSlots
from app.access.shared_limits import SharedAppendRate, SharedLimitsTable, SharedStreamSlots
from app.access.tokens import Principal, Scope
from app.api.metrics import ApiMetrics, MetricsMiddleware, use_multiprocess_files
from bench.callgrind import run_counted, total

CASES = (
    "metrics: none",
    "metrics: one process",
    "metrics: several workers",
    "append rate: one process",
    "append rate: several workers",
    "stream slot: one process",
    "stream slot: several workers",
)
PRINCIPAL = Principal("writer", frozenset({Scope.READ, Scope.APPEND}))


class _Route:
    path = "/v1/events"


async def _bare(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def _receive() -> Any:
    return {"type": "http.request", "body": b""}


async def _send(message: Any) -> None:
    return None


def _asgi(app: Any) -> Callable[[], None]:
    def one() -> None:
        scope = {"type": "http", "method": "GET", "path": "/v1/events", "route": _Route()}
        try:  # noqa: SIM105 (suppress() would add its own cost to every case)
            app(scope, _receive, _send).send(None)
        except StopIteration:
            pass

    return one


def _work(case: str, directory: Path) -> Callable[[], None]:
    if case == "metrics: none":
        return _asgi(_bare)
    if case == "metrics: several workers":
        use_multiprocess_files(directory)
        return _asgi(MetricsMiddleware(_bare, metrics=ApiMetrics(multiprocess_directory=directory)))
    if case == "metrics: one process":
        return _asgi(MetricsMiddleware(_bare, metrics=ApiMetrics()))
    rate_shared = case.startswith("append rate") and case.endswith("workers")
    table = SharedLimitsTable(2)
    if case.startswith("append rate"):
        rate: Any = (
            SharedAppendRate(table, rate=1e9, burst=10**9)
            if rate_shared
            else AppendRate(rate=1e9, burst=10**9)
        )
        return lambda: rate.take(PRINCIPAL)
    slots: Any = (
        SharedStreamSlots(table, 0, total=10, per_token=10)
        if case.endswith("workers")
        else StreamSlots(total=10, per_token=10)
    )
    return lambda: slots.acquire(PRINCIPAL).release()


def inner(case: str, requests: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        one = _work(case, Path(directory))
        one()  # the first request makes what later ones reuse
        for _ in range(requests):
            one()


def instructions(case: str, requests: int) -> int:
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory) / "callgrind.out"
        run_counted(["-m", "bench.per_request", "--inner", case, "--requests", str(requests)], out)
        return total(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--inner", choices=CASES)
    args = parser.parse_args()
    if args.inner:
        inner(args.inner, args.requests)
        return
    for case in CASES:
        each = (instructions(case, args.requests) - instructions(case, 0)) / args.requests
        print(f"{case:32} {each:10,.0f} instructions a request", flush=True)


if __name__ == "__main__":
    main()
