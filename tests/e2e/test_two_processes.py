"""Two service processes on one store: a stream opened on one instance delivers every event
appended through the other, exactly once, in position order, promptly (on SQLite woken through
the datagram sockets beside the store file, on PostgreSQL by LISTEN/NOTIFY), and on PostgreSQL
still does when the LISTEN connections are killed in the middle of a burst of appends.

Real processes over real sockets (`tests.support.live_server`): an SSE stream never ends, and the
point is two processes that share nothing but the database. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from app.storage.sql.postgres_notify import APPLICATION_NAME
from tests.support.engines import SQL_ENGINES, database_url
from tests.support.live_server import live_server

pytestmark = pytest.mark.anyio

BURST_SIZES = [1, 2, 3, 4] * 20
"""80 appends, 200 events."""
WRITERS = 8
"""Appends in flight at once."""


@pytest.fixture(params=SQL_ENGINES)
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return await database_url(request.param, tmp_path)


@pytest.fixture
def instances(url: str) -> Iterator[tuple[str, str]]:
    env = {
        "EVENTSTORE_DATABASE_URL": url,
        "EVENTSTORE_HEARTBEAT_SECONDS": "0.2",
        "EVENTSTORE_LOG_LEVEL": "warning",
    }
    with live_server(env) as one, live_server(env) as two:
        yield one, two


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@dataclass
class Received:
    """The messages of one stream as they arrive: ``(id, event)`` and the loop time of each."""

    messages: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    arrived_at: list[float] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def reached(self, count: int) -> Callable[[], bool]:
        return lambda: len(self.messages) >= count

    async def until(self, done: Callable[[], bool], seconds: float) -> None:
        with anyio.fail_after(seconds):
            while not done():
                self.changed.clear()
                await self.changed.wait()


async def _read(client: httpx.AsyncClient, base_url: str, into: Received) -> None:
    loop = asyncio.get_running_loop()
    params = {"after": "0"}
    async with client.stream("GET", f"{base_url}/v1/events/stream", params=params) as response:
        assert response.status_code == 200
        event_id: int | None = None
        async for line in response.aiter_lines():
            if line.startswith("id:"):
                event_id = int(line.removeprefix("id:").strip())
            elif line.startswith("data:"):
                assert event_id is not None, "a message without an id"
                into.messages.append((event_id, json.loads(line.removeprefix("data:"))))
                into.arrived_at.append(loop.time())
                into.changed.set()
            elif not line:
                event_id = None


@asynccontextmanager
async def stream(client: httpx.AsyncClient, base_url: str) -> AsyncIterator[Received]:
    """A stream from position 0 on ``base_url``, read in the background."""
    received = Received()
    reader = asyncio.create_task(_read(client, base_url, received))
    try:
        await asyncio.sleep(0.2)  # connected and following the tail by then
        assert not reader.done(), reader.exception()
        yield received
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


async def append(client: httpx.AsyncClient, base_url: str, events: list[dict[str, Any]]) -> None:
    response = await client.post(f"{base_url}/v1/events", json={"events": events})
    assert response.status_code == 201, response.text


async def kill_listeners(url: str) -> int:
    """Terminate every LISTEN connection of the services; return how many there were."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncpg.connect(dsn, timeout=5)
    try:
        killed: int = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = $1",
            APPLICATION_NAME,
        )
        return killed
    finally:
        await admin.close()


async def burst(
    client: httpx.AsyncClient, base_url: str, *, halfway: Callable[[], Any] | None = None
) -> list[dict[str, Any]]:
    """Append ``BURST_SIZES`` events through ``base_url``, ``WRITERS`` appends at a time; await
    ``halfway()`` once (appends paused) when half the appends are done. Returns what was sent."""
    numbers = itertools.count(1)
    batches = [
        [{"type": "Burst", "data": {"n": next(numbers)}, "tags": [f"batch:{b}"]} for _ in range(n)]
        for b, n in enumerate(BURST_SIZES)
    ]
    queue = list(reversed(batches))
    done = 0
    paused = asyncio.Lock()

    async def writer() -> None:
        nonlocal done
        while queue:
            batch = queue.pop()
            async with paused:
                pass
            await append(client, base_url, batch)
            done += 1
            if halfway is not None and done == len(batches) // 2:
                async with paused:
                    await halfway()

    async with asyncio.TaskGroup() as writers:
        for _ in range(WRITERS):
            writers.create_task(writer())
    return [event for batch in batches for event in batch]


def check_exactly_once_in_order(received: Received, sent: list[dict[str, Any]]) -> None:
    positions = [position for position, _ in received.messages]
    assert positions == list(range(1, len(sent) + 1))
    assert all(event["position"] == position for position, event in received.messages)
    # Every event sent arrived, with its content: no event lost or duplicated.
    numbers = sorted(event["data"]["n"] for _, event in received.messages)
    assert numbers == sorted(event["data"]["n"] for event in sent)


async def test_a_stream_delivers_a_burst_appended_through_another_instance(
    instances: tuple[str, str], client: httpx.AsyncClient
) -> None:
    one, two = instances
    async with stream(client, one) as received:
        with anyio.fail_after(60):
            sent = await burst(client, two)
        await received.until(received.reached(len(sent)), seconds=10)
        await asyncio.sleep(0.5)  # anything more would be a duplicate
    check_exactly_once_in_order(received, sent)


@pytest.mark.parametrize(
    "url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_a_stream_delivers_everything_when_the_listeners_are_killed_mid_burst(
    url: str, instances: tuple[str, str], client: httpx.AsyncClient
) -> None:
    one, two = instances
    killed: list[int] = []

    async def kill() -> None:
        killed.append(await kill_listeners(url))

    async with stream(client, one) as received:
        with anyio.fail_after(60):
            sent = await burst(client, two, halfway=kill)
        await received.until(received.reached(len(sent)), seconds=10)
        await asyncio.sleep(0.5)
    assert killed == [2]  # one LISTEN connection per instance
    check_exactly_once_in_order(received, sent)


async def test_an_append_on_one_instance_reaches_a_stream_on_the_other_at_once(
    instances: tuple[str, str], client: httpx.AsyncClient
) -> None:
    # The tail reader of each instance also polls once a second: ten deliveries all well under
    # half a second are the wake-ups at work (by polling alone, about one in a thousand).
    one, two = instances
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    async with stream(client, one) as received:
        for count in range(1, 11):
            await asyncio.sleep(0.05)
            started = loop.time()
            await append(client, two, [{"type": "Ping"}])
            await received.until(received.reached(count), seconds=5)
            latencies.append(received.arrived_at[-1] - started)
    assert [position for position, _ in received.messages] == list(range(1, 11))
    assert max(latencies) < 0.5, latencies
