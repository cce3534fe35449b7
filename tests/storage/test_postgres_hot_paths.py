"""What the PostgreSQL hot paths on plain asyncpg add (app/storage/sql/postgres_append.py,
postgres_reads.py): the schema registry a replica holds is never used once another replica has
changed it; a batch is decided by the server-side function with the answers of `batch.py`;
a store of the previous revision gets the function at start-up; an append batch whose
statement was sent when the service shuts down is cancelled on the server, not left to commit
after its 503."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, insert
from sqlalchemy.ext.asyncio import create_async_engine

from app.domain import MATCH_ALL, AppendCondition, AppendResult
from app.errors import SchemaViolation, StorageUnavailable, WriteRefused
from app.storage.protocol import EventStorageEngine
from app.storage.sql import postgres_append
from app.storage.sql.engine import SqlEngine
from app.storage.sql.migrations import upgrade
from app.storage.sql.migrations.versions import r0003_postgres_append
from app.storage.sql.postgres import WRITER_LOCK, PostgresRunner, async_url
from app.storage.sql.tables import event_tags, events
from tests.support.batches import Answer, in_one_batch, started
from tests.support.events import item, new_event, query, read
from tests.support.locks import table_locked

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

NUMBERED = '{"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}'


def test_the_function_takes_the_writer_lock_of_the_runner() -> None:
    assert r0003_postgres_append.WRITER_LOCK == WRITER_LOCK


async def test_a_schema_registered_by_another_replica_holds_at_once(
    replicas: list[EventStorageEngine],
) -> None:
    first, second = replicas
    await first.append([new_event("Counted", data={"n": 1})])  # first holds the registry now
    await second.put_schema("Counted", NUMBERED)

    with pytest.raises(SchemaViolation):
        await first.append([new_event("Counted", data={"n": "one"})])
    assert (await first.read(MATCH_ALL, limit=10)).head == 1


async def test_a_schema_removed_by_another_replica_no_longer_refuses(
    replicas: list[EventStorageEngine],
) -> None:
    first, second = replicas
    await first.put_schema("Counted", NUMBERED)
    with pytest.raises(SchemaViolation):
        await first.append([new_event("Counted", data={"n": "one"})])
    await second.delete_schema("Counted")

    result = await first.append([new_event("Counted", data={"n": "one"})])
    assert result.positions == (1,)


async def test_a_registry_that_keeps_changing_sends_the_batch_to_the_general_path(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = await started(postgres_url)
    try:
        await engine.put_schema("Counted", NUMBERED)

        def never_current(rows: list[tuple[object, ...]]) -> postgres_append.SchemaRegistry:
            return postgres_append.SchemaRegistry(version=-1)  # no schemas, a stale version

        monkeypatch.setattr(postgres_append.SchemaRegistry, "from_rows", never_current)
        with pytest.raises(SchemaViolation):
            await engine.append([new_event("Counted", data={"n": "one"})])
        stored = await engine.append([new_event("Counted", data={"n": 1})])
    finally:
        await engine.close()
    assert stored.positions == (1,)


async def test_members_refused_by_a_schema_leave_no_trace_for_the_next(postgres_url: str) -> None:
    engine = await started(postgres_url)
    try:
        await engine.put_schema("Counted", NUMBERED)
        seat = query(item(tags=["seat:1"]))
        claim = AppendCondition(seat, after=None)
        answers = await in_one_batch(
            engine,
            [
                ([new_event("Counted", tags=["seat:1"], data={"n": "x"})], claim),
                ([new_event("Counted", tags=["seat:1"], data={"n": 1})], claim),
                ([new_event("Counted", tags=["seat:1"], data={"n": 2})], claim),
            ],
        )
    finally:
        await engine.close()
    assert answers == [
        Answer("SchemaViolation", None),
        Answer("stored", ((1,), False)),
        Answer("409", (1, 1)),
    ]


async def test_replays_and_reused_ids_in_one_batch(postgres_url: str) -> None:
    engine = await started(postgres_url)
    try:
        earlier = [new_event("A", event_id=uuid.uuid4()), new_event("B", event_id=uuid.uuid4())]
        await engine.append(earlier)
        await engine.append([new_event("C")])
        fresh = [new_event("D", tags=["t"], event_id=uuid.uuid4())]
        answers = await in_one_batch(
            engine,
            [
                (earlier, AppendCondition(MATCH_ALL, after=0)),  # a replay, condition aside
                (earlier[:1], None),  # part of an earlier append
                ([earlier[1], earlier[0]], None),  # another order
                ([earlier[0], new_event("A", event_id=uuid.uuid4())], None),  # some ids stored
                ([new_event("A", data={"x": 1}, event_id=earlier[0].id)], None),  # new content
                (fresh, None),
                (fresh, AppendCondition(query(item(tags=["t"])), after=None)),  # replayed
                ([new_event("E", tags=["t"])], AppendCondition(query(item(tags=["t"])), 3)),
            ],
        )
        head = (await read(engine)).head
    finally:
        await engine.close()
    reused = Answer("EventIdReused", None)
    assert answers == [
        Answer("stored", ((1, 2), True)),
        reused,
        reused,
        reused,
        reused,
        Answer("stored", ((4,), False)),
        Answer("stored", ((4,), True)),
        Answer("409", (4, 4)),
    ]
    assert head == 4


async def test_a_value_the_database_refuses_fails_only_its_own_append(postgres_url: str) -> None:
    engine = await started(postgres_url)
    try:
        outcomes = await asyncio.gather(
            engine.append([new_event("A")]),
            engine.append([new_event("T" * 300)]),  # events.type holds 255 characters
            engine.append([new_event("B")]),
            return_exceptions=True,
        )
    finally:
        await engine.close()
    assert isinstance(outcomes[1], WriteRefused)
    assert [o.positions for o in outcomes if isinstance(o, AppendResult)] == [(1,), (2,)]


def fill_as_revision_0002(conn: Connection) -> None:
    upgrade(conn, "0001")
    now = datetime.now(UTC)
    for position in (1, 2):
        conn.execute(
            insert(events).values(
                position=position,
                id=uuid.UUID(int=position),
                type="A",
                data="null",
                tags='["k:1"]',
                metadata="{}",
                recorded_at=now,
                append_first=1,
            )
        )
        conn.execute(insert(event_tags).values(tag="k:1", position=position))
    upgrade(conn, "0002")


async def test_a_store_of_revision_0002_appends_through_the_function_after_the_upgrade(
    postgres_url: str,
) -> None:
    database = create_async_engine(async_url(postgres_url))
    async with database.begin() as conn:
        await conn.run_sync(fill_as_revision_0002)
    await database.dispose()

    engine = await started(postgres_url)
    try:
        retried = [
            new_event("A", tags=["k:1"], event_id=uuid.UUID(int=n), metadata={}) for n in (1, 2)
        ]
        replay = await engine.append(retried)
        added = await engine.append(
            [new_event("B", tags=["k:1"])], AppendCondition(query(item(types=["B"])), None)
        )
        tags = (await engine.tags(limit=10)).tags
    finally:
        await engine.close()
    assert (replay.positions, replay.replayed) == ((1, 2), True)
    assert added.positions == (3,)
    assert [(tag.tag, tag.count) for tag in tags] == [("k:1", 3)]


async def test_an_append_sent_at_shutdown_is_cancelled_on_the_server(postgres_url: str) -> None:
    # Timeouts far beyond the test's: only the cancel at the deadline can end the statement.
    engine = await started(
        postgres_url, db_lock_timeout_seconds=60, db_statement_timeout_seconds=60
    )
    assert isinstance(engine, SqlEngine)
    try:
        async with table_locked(postgres_url):
            waiting = asyncio.create_task(engine.append([new_event("Waiting")]))
            await asyncio.sleep(0.5)  # the call is sent, and waits for the table
            assert not waiting.done()
            engine.drain(asyncio.get_running_loop().time() + 0.2)
            async with asyncio.timeout(5):
                with pytest.raises(StorageUnavailable):
                    await waiting
        await asyncio.sleep(0.5)  # a statement left running would now commit
    finally:
        await engine.close()
    check = await started(postgres_url)
    try:
        assert (await read(check)).head == 0
    finally:
        await check.close()


async def test_the_runner_serves_the_hot_paths_itself(postgres_url: str) -> None:
    engine = await started(postgres_url)
    try:
        runner: object = engine._runner
        hot: object = engine._hot
        assert isinstance(runner, PostgresRunner)
        assert hot is runner
    finally:
        await engine.close()
