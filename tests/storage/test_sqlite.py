"""What only the SQLite engine has: a file that outlives the process, WAL, the writer lock."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.config import Settings
from app.domain import EventInput, Query
from app.errors import StorageUnavailable
from app.storage.factory import build_engine
from app.storage.protocol import EventStorageEngine
from tests.support.locks import sqlite_lock_file_held

pytestmark = pytest.mark.anyio


def settings_for(path: Path, **overrides: object) -> Settings:
    return Settings(database_url=f"sqlite:///{path}", **overrides)  # type: ignore[arg-type]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
async def engine(db_path: Path) -> AsyncIterator[EventStorageEngine]:
    store = build_engine(settings_for(db_path))
    await store.start()
    yield store
    await store.close()


async def test_events_and_their_ids_survive_a_restart(db_path: Path) -> None:
    event = EventInput(type="Registered", tags=("user:1",), id=uuid.uuid4())
    first = build_engine(settings_for(db_path))
    await first.start()
    appended = await first.append([event])
    await first.close()

    second = build_engine(settings_for(db_path))
    await second.start()
    try:
        read = await second.read(Query(), limit=10)
        retried = await second.append([event])
    finally:
        await second.close()
    assert [e.id for e in read.events] == [event.id]
    assert retried.replayed
    assert retried.positions == appended.positions


async def test_the_database_is_in_wal_mode(engine: EventStorageEngine, db_path: Path) -> None:
    with sqlite3.connect(db_path) as probe:
        assert probe.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_the_schema_is_migrated_once_and_start_is_repeatable(db_path: Path) -> None:
    for _ in range(2):
        store = build_engine(settings_for(db_path))
        await store.start()
        await store.close()
    with sqlite3.connect(db_path) as probe:
        (version,) = probe.execute("SELECT version_num FROM alembic_version").fetchone()
    assert version == "0003"


async def test_reads_go_on_while_another_process_holds_the_write_lock(
    engine: EventStorageEngine, db_path: Path
) -> None:
    await engine.append([EventInput(type="A")])
    other = sqlite3.connect(db_path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute(
            "INSERT INTO snapshots VALUES ('n', 'k', 0, 'null', '{}', '2026-01-01 00:00:00')"
        )
        started = time.monotonic()
        read = await engine.read(Query(), limit=10)
        assert time.monotonic() - started < 1.0
        assert [e.position for e in read.events] == [1]
    finally:
        other.execute("ROLLBACK")
        other.close()


async def test_an_append_blocked_by_another_process_gives_up_as_unavailable(
    db_path: Path,
) -> None:
    store = build_engine(settings_for(db_path, sqlite_busy_timeout_ms=200))
    await store.start()
    other = sqlite3.connect(db_path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StorageUnavailable):
            await store.append([EventInput(type="A")])
        other.execute("ROLLBACK")
        assert (await store.append([EventInput(type="A")])).positions == (1,)
    finally:
        other.close()
        await store.close()


async def test_an_append_waiting_for_another_service_process_gives_up_as_unavailable(
    db_path: Path,
) -> None:
    store = build_engine(settings_for(db_path, sqlite_busy_timeout_ms=200))
    await store.start()
    try:
        with sqlite_lock_file_held(db_path):
            started = time.monotonic()
            with pytest.raises(StorageUnavailable):
                await store.append([EventInput(type="A")])
            assert time.monotonic() - started < 5
        assert (await store.append([EventInput(type="A")])).positions == (1,)
    finally:
        await store.close()


async def test_an_append_waiting_for_another_process_is_abandoned_at_shutdown_and_never_stored(
    db_path: Path,
) -> None:
    # The busy timeout is long: only the drain can end the wait, which flock cannot be asked to.
    store = build_engine(settings_for(db_path, sqlite_busy_timeout_ms=60_000))
    await store.start()
    loop = asyncio.get_running_loop()
    try:
        with sqlite_lock_file_held(db_path):
            waiting = asyncio.create_task(store.append([EventInput(type="Waiting")]))
            await asyncio.sleep(0.3)
            assert not waiting.done()
            store.drain(loop.time() + 0.2)
            with pytest.raises(StorageUnavailable):
                await asyncio.wait_for(waiting, 5)
    finally:
        await store.close()  # the writer thread has given up: close does not hang
    reopened = build_engine(settings_for(db_path))
    await reopened.start()
    try:
        assert await reopened.head() == 0
    finally:
        await reopened.close()


async def test_appends_queued_while_another_process_writes_join_one_batch(
    engine: EventStorageEngine, db_path: Path
) -> None:
    """Group commit across processes: the batch is taken once the writer lock is this
    process's, so every append that queued while another process wrote goes in one commit."""
    with sqlite_lock_file_held(db_path):
        first = asyncio.create_task(engine.append([EventInput(type="A")]))
        await asyncio.sleep(0.2)  # the writer task waits for the lock
        later = [asyncio.create_task(engine.append([EventInput(type="B")])) for _ in range(9)]
        await asyncio.sleep(0.2)
        assert not any(task.done() for task in [first, *later])
    results = await asyncio.gather(first, *later)
    assert sorted(p for result in results for p in result.positions) == list(range(1, 11))
    stats = engine.batch_stats
    assert stats is not None
    assert (stats.batches, stats.requests, stats.largest) == (1, 10, 10)


async def test_the_lock_file_and_the_wakeup_folder_lie_beside_the_store(
    engine: EventStorageEngine, db_path: Path
) -> None:
    await engine.append([EventInput(type="A")])
    assert (db_path.parent / "store.db-writer.lock").is_file()
    assert (db_path.parent / "store.db-wakeups").is_dir()


async def test_the_aiosqlite_spelling_of_earlier_versions_opens_the_same_store(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    first = build_engine(Settings(database_url=f"sqlite:///{path}"))
    await first.start()
    await first.append([EventInput(type="A")])
    await first.close()

    again = build_engine(Settings(database_url=f"sqlite+aiosqlite:///{path}"))
    await again.start()
    try:
        assert await again.head() == 1
    finally:
        await again.close()


def test_an_in_memory_sqlite_url_is_refused() -> None:
    with pytest.raises(ValueError, match="memory://"):
        build_engine(Settings(database_url="sqlite:///:memory:"))


def test_an_unknown_database_url_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        build_engine(Settings(database_url="mysql://localhost/db"))
