"""Conditional appends racing from connections spread over two worker processes: exactly one
wins (each process group-commits its own appends; only the database orders the two). On
PostgreSQL with 200 racers; on SQLite, lighter (it is correct with several processes, slow under
contention)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.engines import SQL_ENGINES, database_url
from tests.support.live_server import ServiceProcess, service_process
from tests.support.raw_http import build_request, read_response
from tests.support.workers import HOST, owners, serving_workers, worker_pids
from tests.workers.conftest import WRITER, workers_env

RACERS = {"sqlite": 40, "postgres": 200}


def decision(racer: int) -> bytes:
    """An append that holds only if nothing was decided about ``race:1`` yet."""
    query = {"items": [{"types": ["Decided"], "tags": ["race:1"]}]}
    return json.dumps(
        {
            "events": [{"type": "Decided", "data": {"racer": racer}, "tags": ["race:1"]}],
            "condition": {"fail_if_events_match": query, "after": None},
        }
    ).encode()


async def race(service: ServiceProcess, racers: int) -> tuple[Counter[int], Counter[int | None]]:
    """Every racer's status, and how many racers each worker served."""
    pids = worker_pids(service.pid)
    connections = [await asyncio.open_connection(HOST, service.port) for _ in range(racers)]
    host = f"{HOST}:{service.port}"

    async def ask(racer: int, target: str, body: bytes | None) -> int:
        reader, writer = connections[racer]
        request = build_request("POST" if body else "GET", target, host, body)
        request = request.replace(
            b"\r\n\r\n", f"\r\nAuthorization: Bearer {WRITER}\r\n\r\n".encode(), 1
        )
        writer.write(request)
        status, _ = await read_response(reader)
        return status

    try:
        await asyncio.gather(*(ask(racer, "/healthz", None) for racer in range(racers)))
        statuses = await asyncio.gather(
            *(ask(racer, "/v1/events", decision(racer)) for racer in range(racers))
        )
        ports = [writer.get_extra_info("sockname")[1] for _, writer in connections]
        served = Counter(owners(service.port, ports, pids))
    finally:
        for _, writer in connections:
            writer.close()
    return Counter(statuses), served


@pytest.fixture(params=SQL_ENGINES)
def racing(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ServiceProcess, int]]:
    """Two workers without an append rate, and how many racers for their engine."""
    engine = str(request.param)
    database = asyncio.run(database_url(engine, tmp_path))
    env = workers_env(database, append_rate_per_token="")
    del env["EVENTSTORE_APPEND_RATE_PER_TOKEN"]
    with service_process("app", env, inherit_settings=False) as service:
        serving_workers(service.pid, service.port, 2)
        yield service, RACERS[engine]


def test_one_of_the_racing_conditional_appends_wins(racing: tuple[ServiceProcess, int]) -> None:
    service, racers = racing
    statuses, served = asyncio.run(race(service, racers))
    assert set(served) == set(worker_pids(service.pid)), served
    assert statuses == {201: 1, 409: racers - 1}, statuses
