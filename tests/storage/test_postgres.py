"""What only the PostgreSQL engine has: replicas sharing one database, connections that die."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from app.config import Settings
from app.domain import AppendCondition, EventInput, Query, QueryItem
from app.errors import AppendConditionFailed, StorageUnavailable
from app.storage.factory import build_engine
from app.storage.protocol import EventStorageEngine

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


async def test_replicas_starting_together_share_one_schema(
    replicas: list[EventStorageEngine],
) -> None:
    first, second = replicas
    await first.append([EventInput(type="A")])
    assert await second.head() == 1


async def test_one_boundary_is_guarded_across_replicas(
    replicas: list[EventStorageEngine],
) -> None:
    query = Query((QueryItem(tags=("seat:1",)),))
    condition = AppendCondition(fail_if_events_match=query, after=0)
    claim = [EventInput(type="SeatClaimed", tags=("seat:1",))]
    outcomes = await asyncio.gather(
        *(replica.append(claim, condition) for replica in replicas * 10),
        return_exceptions=True,
    )
    assert sum(not isinstance(outcome, BaseException) for outcome in outcomes) == 1
    assert all(
        isinstance(outcome, AppendConditionFailed)
        for outcome in outcomes
        if isinstance(outcome, BaseException)
    )
    assert (await replicas[0].read(query, limit=10)).head == 1


async def kill_connections(postgres_url: str) -> None:
    """Terminate every other connection to the test database, pooled ones included."""
    admin = await asyncpg.connect(
        make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()


@pytest.fixture
async def pooled_once(postgres_url: str) -> AsyncIterator[EventStorageEngine]:
    """An engine whose pool keeps one connection: killing it hits the next request."""
    engine = build_engine(Settings(database_url=postgres_url, db_pool_size=1))
    await engine.start()
    yield engine
    await engine.close()


async def test_a_killed_connection_is_unavailable_then_recovered(
    postgres_url: str, pooled_once: EventStorageEngine
) -> None:
    engine = pooled_once
    await engine.append([EventInput(type="A")])
    await kill_connections(postgres_url)
    # The pooled connection is dead: this append fails cleanly or succeeds on a new one.
    with contextlib.suppress(StorageUnavailable):
        await engine.append([EventInput(type="B")])
    result = await engine.append([EventInput(type="C")])
    read = await engine.read(Query(), limit=10)
    assert [e.type for e in read.events][-1] == "C"
    assert read.head == result.last_position
    assert [e.position for e in read.events] == list(range(1, read.head + 1))


async def test_a_read_on_a_killed_connection_is_unavailable_then_recovered(
    postgres_url: str, pooled_once: EventStorageEngine
) -> None:
    engine = pooled_once
    await engine.append([EventInput(type="A", tags=("k:1",))])
    query = Query((QueryItem(tags=("k:1",)),))
    await engine.read(query, limit=10)  # the pooled connection has served a read
    await kill_connections(postgres_url)
    # Reads skip SQLAlchemy's execution layer (app/storage/sql/compiled.py): the dead connection
    # must still be reported as unavailable, and dropped from the pool.
    with contextlib.suppress(StorageUnavailable):
        await engine.read(query, limit=10)
    read = await engine.read(query, limit=10)
    assert [event.type for event in read.events] == ["A"]


async def test_connections_the_server_closed_while_idle_are_replaced_without_an_error(
    postgres_url: str, pooled_once: EventStorageEngine
) -> None:
    """After PostgreSQL restarts or an administrator ends the sessions, the first request of
    each kind must not be a 503: the pools hold connections whose end they have already read."""
    engine = pooled_once
    query = Query((QueryItem(tags=("k:1",)),))

    async def every_kind() -> None:
        await engine.append([EventInput(type="A", tags=("k:1",))])
        await engine.read(query, limit=10)
        await engine.head()
        await engine.ping()
        await engine.stats()
        await engine.event_types()
        await engine.get_snapshot("folded", "k:1")

    await every_kind()  # every pool now holds idle connections
    for _ in range(3):
        await kill_connections(postgres_url)
        await asyncio.sleep(0.2)  # the server's goodbye reaches the idle sockets
        await every_kind()
    assert await engine.head() == 4
