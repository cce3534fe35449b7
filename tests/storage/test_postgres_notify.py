"""LISTEN/NOTIFY between replicas: a commit on one engine wakes the other's waiter at once; a lost
LISTEN connection is re-established and followed by a catch-up; NOTIFY never fails an append.

Where a test must prove that a wake-up came from a notification and not from the engine's poll
of the head, it sets the poll interval far beyond the test's bounds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import asyncpg
import pytest
from sqlalchemy.engine import make_url

from app.config import Settings
from app.domain import EventInput
from app.storage.sql import engine as sql_engine
from app.storage.sql import postgres_notify
from app.storage.sql.engine import SqlEngine
from app.storage.sql.postgres import PostgresRunner
from app.storage.sql.postgres_notify import APPLICATION_NAME, PostgresCommitFeed
from tests.support.stores import eventstore, fill_store

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

NO_POLL = 600.0
"""A poll interval no test waits for: a wake-up within the test's bounds came from NOTIFY."""
PROMPT = 2.0
"""Seconds within which a NOTIFY wakes the other replica: with the poll off, only the
notification can wake it before the waits' 5 s timeout; a loaded shared machine has taken
over half a second to deliver one, so the bound tells "notified" from "never", not fast from
slow."""


class Replica:
    """An engine with its runner's commit feed in view."""

    def __init__(self, postgres_url: str) -> None:
        settings = Settings(database_url=postgres_url)
        self.runner = PostgresRunner(settings)
        self.engine = SqlEngine(self.runner, settings)

    @property
    def feed(self) -> PostgresCommitFeed:
        return self.runner.commit_feed


@asynccontextmanager
async def running_replicas(postgres_url: str) -> AsyncIterator[tuple[Replica, Replica]]:
    """Two engines on one database, started together, as two service replicas would be."""
    first, second = Replica(postgres_url), Replica(postgres_url)
    await asyncio.gather(first.engine.start(), second.engine.start())
    try:
        yield first, second
    finally:
        await first.engine.close()
        await second.engine.close()


@pytest.fixture
async def listening_replicas(postgres_url: str) -> AsyncIterator[tuple[Replica, Replica]]:
    async with running_replicas(postgres_url) as both:
        yield both


async def admin_execute(postgres_url: str, statement: str) -> list[asyncpg.Record]:
    dsn = make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        rows: list[asyncpg.Record] = await connection.fetch(statement)
        return rows
    finally:
        await connection.close()


async def listener_pids(postgres_url: str) -> set[int]:
    rows = await admin_execute(
        postgres_url,
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        f"AND application_name = '{APPLICATION_NAME}'",
    )
    return {row["pid"] for row in rows}


async def terminate(postgres_url: str, pids: set[int]) -> None:
    listed = ", ".join(str(pid) for pid in pids)
    await admin_execute(
        postgres_url, f"SELECT pg_terminate_backend(pid) FROM unnest(ARRAY[{listed}]) pid"
    )


async def eventually(check: Callable[[], bool], seconds: float = 10) -> None:
    with anyio.fail_after(seconds):
        while True:
            if check():
                return
            await asyncio.sleep(0.01)


async def wake_up_time(waiter: Replica, writer: Replica, *, timeout: float) -> tuple[int, float]:
    """Append one event through ``writer`` while ``waiter`` waits for it; return the head the
    waiter woke with and the seconds from the append's start to the wake-up."""
    head = await writer.engine.head()
    loop = asyncio.get_running_loop()
    started = 0.0

    async def append_soon() -> None:
        nonlocal started
        await asyncio.sleep(0.05)  # the waiter is waiting by then
        started = loop.time()
        await writer.engine.append([EventInput(type="Written")])

    with anyio.fail_after(timeout + 5):
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(append_soon())
            woke_with = await waiter.engine.wait_for_new(head, timeout)
            woke_at = loop.time()
    return woke_with, woke_at - started


async def assert_sees_within_2s(waiter: Replica, head: int) -> None:
    """``waiter`` sees the one event already committed past ``head`` within two seconds."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    with anyio.fail_after(10):
        assert await waiter.engine.wait_for_new(head, timeout=5) == head + 1
    assert loop.time() - started < 2


async def assert_notified_promptly(first: Replica, second: Replica, *, rounds: int) -> None:
    """Each replica's commit wakes the other within `PROMPT`, ``rounds`` times both ways."""
    for waiter, writer in [(first, second), (second, first)] * rounds:
        head = await writer.engine.head()
        woke_with, seconds = await wake_up_time(waiter, writer, timeout=5)
        assert woke_with == head + 1
        assert seconds < PROMPT


async def test_each_replica_listens_on_one_named_connection(
    postgres_url: str, listening_replicas: tuple[Replica, Replica]
) -> None:
    first, second = listening_replicas
    assert first.feed.listening
    assert second.feed.listening
    assert await listener_pids(postgres_url) == {first.feed.server_pid, second.feed.server_pid}


async def test_a_commit_on_one_replica_wakes_the_other_at_once(
    listening_replicas: tuple[Replica, Replica], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql_engine, "POLL_SECONDS", NO_POLL)
    first, second = listening_replicas
    await assert_notified_promptly(first, second, rounds=3)


async def test_a_notification_never_moves_the_head(
    listening_replicas: tuple[Replica, Replica],
) -> None:
    first, second = listening_replicas
    await first.engine.append([EventInput(type="A")])
    # The payload is a hint (another store may share the channel): one above the head only
    # makes the waiter look, and find nothing new.
    second.feed.announce(1)
    second.feed.announce(5)
    with anyio.fail_after(5):
        assert await first.engine.wait_for_new(1, timeout=0.3) == 1


async def test_a_killed_listener_catches_up_when_it_reconnects(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No poll, and a reconnect that waits half a second: the commit below is announced while
    # the first replica is deaf, and only the catch-up after its reconnect can wake it.
    monkeypatch.setattr(sql_engine, "POLL_SECONDS", NO_POLL)
    monkeypatch.setattr(postgres_notify, "BACKOFF_MIN", 0.5)
    async with running_replicas(postgres_url) as (first, second):
        killed = first.feed.server_pid
        assert killed is not None
        await terminate(postgres_url, {killed})
        await eventually(lambda: not first.feed.listening)
        head = await second.engine.head()
        await second.engine.append([EventInput(type="WhileDeaf")])
        await assert_sees_within_2s(first, head)
        assert first.feed.listening
        assert first.feed.connections == 2
        assert killed not in await listener_pids(postgres_url)


async def test_notifications_are_prompt_again_after_the_listeners_were_killed(
    postgres_url: str, listening_replicas: tuple[Replica, Replica], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = listening_replicas
    killed = {first.feed.server_pid, second.feed.server_pid}
    head = await second.engine.head()
    await terminate(postgres_url, {pid for pid in killed if pid is not None})
    # Appended while both are reconnecting: the waiter wakes by catch-up, re-sent NOTIFY or poll.
    await second.engine.append([EventInput(type="WhileDeaf")])
    await assert_sees_within_2s(first, head)
    await eventually(lambda: first.feed.listening and second.feed.listening)
    assert first.feed.connections == second.feed.connections == 2
    assert (await listener_pids(postgres_url)).isdisjoint(killed)
    monkeypatch.setattr(sql_engine, "POLL_SECONDS", NO_POLL)
    await assert_notified_promptly(first, second, rounds=1)


async def test_an_append_never_fails_because_notify_failed(
    listening_replicas: tuple[Replica, Replica],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=postgres_notify.__name__)
    monkeypatch.setattr(postgres_notify, "NOTIFY_SQL", "SELECT no_such_function($1, $2)")
    first, second = listening_replicas
    results = await asyncio.gather(
        *(second.engine.append([EventInput(type="Quiet")]) for _ in range(10))
    )
    assert sorted(result.last_position for result in results) == list(range(1, 11))
    # No notification went out: the other replica sees the commits by its poll.
    with anyio.fail_after(5):
        assert await first.engine.wait_for_new(0, timeout=3) == 10
    assert any("NOTIFY" in record.getMessage() for record in caplog.records)
    # NOTIFY works again: the next announcement is prompt.
    monkeypatch.setattr(postgres_notify, "NOTIFY_SQL", "SELECT pg_notify($1, $2)")
    monkeypatch.setattr(sql_engine, "POLL_SECONDS", NO_POLL)
    woke_with, seconds = await wake_up_time(first, second, timeout=5)
    assert woke_with == 11
    assert seconds < PROMPT


async def test_an_engine_starts_and_appends_without_its_listener(
    postgres_url: str, listening_replicas: tuple[Replica, Replica]
) -> None:
    first, _ = listening_replicas
    deaf = Replica(postgres_url)
    # The pool reaches the database; the LISTEN connection never does (nothing listens on 9).
    deaf.runner.commit_feed = PostgresCommitFeed(
        make_url(postgres_url).set(port=9).render_as_string(hide_password=False)
    )
    await deaf.engine.start()
    try:
        assert not deaf.feed.listening
        await deaf.engine.append([EventInput(type="A")])
        # Neither side hears the other; both poll.
        with anyio.fail_after(5):
            assert await first.engine.wait_for_new(0, timeout=3) == 1
        await first.engine.append([EventInput(type="B")])
        with anyio.fail_after(5):
            assert await deaf.engine.wait_for_new(1, timeout=3) == 2
    finally:
        await deaf.engine.close()


async def test_close_leaves_no_listener_behind(postgres_url: str) -> None:
    replica = Replica(postgres_url)
    await replica.engine.start()
    assert replica.feed.listening
    await replica.engine.close()
    assert not replica.feed.listening
    with anyio.fail_after(5):
        while True:
            if not await listener_pids(postgres_url):
                break
            await asyncio.sleep(0.02)


async def test_an_import_wakes_the_replicas_streams(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`eventstore import` announces each batch it commits, as a replica's appends do: with the
    poll off, a replica waiting for new events hears of the imported ones at once, not at the
    end of its wait (when it would ask the database)."""
    source, exported = f"sqlite:///{tmp_path / 'source.db'}", tmp_path / "export.ndjson"
    await fill_store(source, 30)
    await anyio.to_thread.run_sync(eventstore, "export", exported, "--database-url", source)
    monkeypatch.setattr(sql_engine, "POLL_SECONDS", NO_POLL)
    wait = 60.0
    async with running_replicas(postgres_url) as (replica, _), anyio.create_task_group() as tasks:
        tasks.start_soon(
            anyio.to_thread.run_sync, eventstore, "import", exported, "--database-url", postgres_url
        )
        started = anyio.current_time()
        woke_with = await replica.engine.wait_for_new(0, timeout=wait)
        waited = anyio.current_time() - started

    assert woke_with > 0
    assert waited < wait / 2, f"woke after {waited:.1f} s: by the end of its wait, not a NOTIFY"
