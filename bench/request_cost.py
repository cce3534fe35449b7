"""What one request costs the service's own Python: requests driven straight into the ASGI app.

    python -m bench.request_cost --workload read --requests 2000
    scripts/bench request_cost --callgrind    # instructions per request, both workloads
    python -m bench.request_cost --workload read --profile   # where the time goes (cProfile)

Method. The app (`app.main.create_app`, log level ``warning``) runs its lifespan in this process
on a fresh SQLite file (the defaults: WAL, ``synchronous=FULL``) filled with 1,000 events, ten
per tag ``reader:N``. Each request is one ASGI call with the scope uvicorn would build, sent one
after the other (one connection): no sockets, no HTTP parsing, so the figures are the app's
work alone, middleware included, and the storage engine's transaction with its thread hop.

- ``read``: ``GET /v1/events?tag=reader:N``, N cycling over the 100 tags (ten events each);
- ``append``: ``POST /v1/events``, one event with a tag never used before and the condition
  "no event with that tag", as `bench/wrk/append.lua` sends.

With ``--callgrind`` each workload runs under ``valgrind --tool=callgrind``; after the warm-up
the process zeroes callgrind's counters and dumps them after ``--requests`` requests
(``callgrind_control``), and the instructions of that dump are divided by ``--requests``:
instructions per request, repeatable to about a percent whatever else the machine is doing,
unlike timings on a shared machine. The thread hop to SQLite's reader or writer thread is
counted like the rest.
Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import os
import pstats
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from app.config import Settings
from app.main import create_app
from bench.callgrind import run_counted, total

FILL = 1000
TAGS = 100
WARMUP = 200


def _scope(
    method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]]
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": method,
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": [(b"host", b"127.0.0.1:8000"), *headers],
    }


class Driver:
    """Sends requests into the app one at a time, as one keep-alive connection would."""

    def __init__(self, app: Any, state: dict[str, Any]) -> None:
        self.app = app
        self.state = state
        self.counter = 0

    async def call(self, scope: dict[str, Any], body: bytes = b"") -> int:
        scope["state"] = self.state.copy()
        sent = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await self.app(scope, receive, send)
        return status

    async def read(self) -> None:
        tag = f"reader:{self.counter % TAGS}".encode()
        self.counter += 1
        status = await self.call(_scope("GET", "/v1/events", b"tag=" + tag, []))
        assert status == 200, status

    async def append(self) -> None:
        tag = f"w:{uuid.uuid4().hex}"
        body = orjson.dumps(
            {
                "events": [{"type": "Bench", "data": {"n": self.counter}, "tags": [tag]}],
                "condition": {"fail_if_events_match": {"items": [{"tags": [tag]}]}, "after": None},
            }
        )
        self.counter += 1
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        status = await self.call(_scope("POST", "/v1/events", b"", headers), body)
        assert status == 201, status


async def fill(driver: Driver) -> None:
    for first in range(0, FILL, 100):
        body = orjson.dumps(
            {
                "events": [
                    {"type": "Filled", "data": {"n": n}, "tags": [f"reader:{n % TAGS}"]}
                    for n in range(first, first + 100)
                ]
            }
        )
        headers = [(b"content-type", b"application/json")]
        status = await driver.call(_scope("POST", "/v1/events", b"", headers), body)
        assert status == 201, status


async def run(
    workload: str, requests: int, profile: bool, under_callgrind: bool, directory: Path
) -> None:
    settings = Settings(database_url=f"sqlite:///{directory / 'store.db'}", log_level="warning")
    app = create_app(settings)
    async with app.router.lifespan_context(app) as state:
        assert state is not None
        driver = Driver(app, dict(state))
        await fill(driver)
        one: Callable[[], Any] = driver.read if workload == "read" else driver.append
        for _ in range(WARMUP):
            await one()
        profiler = cProfile.Profile() if profile else None
        if profiler is not None:
            profiler.enable()
        if under_callgrind:
            _callgrind_control("--zero")
        started = time.process_time()
        for _ in range(requests):
            await one()
        elapsed = time.process_time() - started
        if under_callgrind:
            _callgrind_control("--dump=measured")
        elif requests:
            per = elapsed / requests * 1e6
            print(f"{workload:8} {per:8.0f} µs of CPU per request ({requests} requests)")
        if profiler is not None:
            profiler.disable()
            stats = pstats.Stats(profiler)
            stats.sort_stats("cumulative").print_stats(60)
            stats.sort_stats("tottime").print_stats(40)


def _callgrind_control(*arguments: str) -> None:
    """Run ``callgrind_control`` on this process (when it runs under callgrind), waiting for it
    with short sleeps: the request is served only while this process keeps running."""
    control = subprocess.Popen(["callgrind_control", *arguments, str(os.getpid())])
    while control.poll() is None:
        time.sleep(0.01)


def _instructions(workload: str, requests: int, directory: Path) -> int:
    out = directory / f"callgrind.{workload}"
    argv = ["-m", "bench.request_cost", "--workload", workload, "--requests", str(requests)]
    run_counted([*argv, "--under-callgrind"], out)
    return total(directory / f"callgrind.{workload}.1")  # the dump named "measured"


def callgrind(workloads: list[str], requests: int) -> None:
    with tempfile.TemporaryDirectory() as work:
        for workload in workloads:
            per = _instructions(workload, requests, Path(work)) / requests
            print(f"{workload:8} {per:12,.0f} instructions per request ({requests} requests)")


def main() -> None:
    parser = argparse.ArgumentParser(description="The app's cost per request, in process.")
    parser.add_argument("--workload", choices=["read", "append"], default="read")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the run")
    parser.add_argument(
        "--callgrind", action="store_true", help="instructions per request, both workloads"
    )
    parser.add_argument("--under-callgrind", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--only", action="store_true", help="with --callgrind: --workload only")
    args = parser.parse_args()
    if args.callgrind:
        callgrind([args.workload] if args.only else ["read", "append"], args.requests)
        return
    logging.basicConfig(level=logging.WARNING)
    try:
        import uvloop

        runner: Callable[[Any], Any] = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    with tempfile.TemporaryDirectory() as work:
        runner(run(args.workload, args.requests, args.profile, args.under_callgrind, Path(work)))


if __name__ == "__main__":
    main()
