"""The stores and servers the benchmarks share: a large store of varied events written through
the storage engine in process, and a service process pinned beside its client."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.config import Settings
from app.domain import EventInput, dump_json
from app.storage.factory import build_engine
from tests.support.live_server import ServiceProcess, service_process
from tests.support.postgres import recreate_schema

SERVER_CPU, CLIENT_CPU = 0, 1
TYPES = 20
COURSES = 50_000
STUDENTS = 200_000
FILL_BATCH = 1000


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def store_url(workdir: Path, name: str, postgres: str | None) -> str:
    if postgres:
        await recreate_schema(postgres)
        return postgres
    return f"sqlite:///{workdir / name}.db"


async def fill(url: str, events: int) -> float:
    """``events`` events (`TYPES` types; each carries one of `COURSES` ``course:`` tags and one
    of `STUDENTS` ``student:`` tags), through the storage engine in this process (SQLite with
    ``synchronous=NORMAL`` for the fill only). Returns the seconds it took."""
    engine = build_engine(Settings(database_url=url, sqlite_synchronous="NORMAL"))
    started = time.perf_counter()
    await engine.start()
    try:
        for first in range(0, events, FILL_BATCH):
            await engine.append(
                [
                    EventInput(
                        type=f"Type{n % TYPES:02d}",
                        data=dump_json({"n": n}),
                        tags=(f"course:{n % COURSES}", f"student:{n % STUDENTS}"),
                    )
                    for n in range(first, min(events, first + FILL_BATCH))
                ]
            )
            if (first // FILL_BATCH) % 100 == 99:
                progress(f"  filled {first + FILL_BATCH:,} events")
    finally:
        await engine.close()
    return time.perf_counter() - started


@contextmanager
def pinned_server(url: str, **settings: str) -> Iterator[ServiceProcess]:
    """A service process on ``url`` pinned to `SERVER_CPU`, this process to `CLIENT_CPU`
    (where there are two)."""
    cpus = os.sched_getaffinity(0)
    two = {SERVER_CPU, CLIENT_CPU} <= cpus
    env = {"EVENTSTORE_DATABASE_URL": url, "EVENTSTORE_LOG_LEVEL": "warning"}
    env |= {f"EVENTSTORE_{name.upper()}": value for name, value in settings.items()}
    with service_process("app", env, inherit_settings=False, cpu=SERVER_CPU if two else None) as s:
        if two:
            os.sched_setaffinity(0, {CLIENT_CPU})
        try:
            yield s
        finally:
            os.sched_setaffinity(0, cpus)
