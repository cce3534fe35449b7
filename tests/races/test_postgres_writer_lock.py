"""PostgreSQL: commits cannot happen out of position order, even across processes.

A reader that follows the log by ``position > last`` skips an event for good if position p+1
commits before position p (it reads p+1, moves ``last`` past p, and p appears later behind it).
The store prevents that by taking one transaction-scoped advisory lock (``WRITER_LOCK`` in
app/storage/sql/postgres.py) before drawing ``max(position) + 1``, in every write transaction of
every process.

Attacked here with a foreign writer standing in for another replica: a raw connection takes the
same lock and draws the next position the way the engine does, and keeps its transaction open.
Meanwhile two engines (two replicas; each also has an in-process writer queue, which this
bypasses) start appends, one of them conditioned on a read made before the foreign event
existed. The appends must wait for the lock (not done after half a second) while reads go on.
Only then does the foreign writer insert its event row at the position it drew (with the app's
table definitions, app/storage/sql/tables.py: the columns are shared with the engine, not its code),
and commit or roll back. On commit the appends follow it (the conditioned one refused by the
foreign event, which its condition must now see); on rollback the drawn position is drawn again,
so the log has no hole. A reader polling ``position > last`` all along must have seen every
position once, in order.

Why the row is inserted only after the wait: inserted at once, an uncommitted row at p makes an
engine that forgot the lock wait anyway, on the primary key (it draws p too), and its batch is
then decided again; the test could not tell. Checked by mutation: with the engine's lock key
changed, this test fails ("an append did not wait for the writer lock") in both variants.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from app.config import Settings
from app.domain import AppendCondition, AppendResult, EventInput, Query, QueryItem
from app.errors import AppendConditionFailed
from app.storage.factory import build_engine
from app.storage.protocol import EventStorageEngine
from app.storage.sql.postgres import WRITER_LOCK, async_url
from app.storage.sql.tables import event_tags, events
from tests.support.engines import database_url

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

SEEDED = 3
WAIT = 0.5
"""How long the engines' appends must stay blocked behind the foreign transaction."""
FOREIGN = Query((QueryItem(tags=("foreign",)),))


@pytest.fixture
async def url(tmp_path: Path) -> str:
    return await database_url("postgres", tmp_path)


@pytest.fixture
async def replicas(url: str) -> AsyncIterator[tuple[EventStorageEngine, EventStorageEngine]]:
    """Two engines on one database, as two service processes would have."""
    one = build_engine(Settings(database_url=url))
    two = build_engine(Settings(database_url=url))
    await one.start()
    try:
        await two.start()
        try:
            yield one, two
        finally:
            await two.close()
    finally:
        await one.close()


class Follower:
    """Polls ``read(after=last)`` every few milliseconds and records each position it gets."""

    def __init__(self, engine: EventStorageEngine) -> None:
        self.engine = engine
        self.seen: list[int] = []

    async def follow(self, through: anyio.Event, head: list[int]) -> None:
        """Until ``through`` is set and ``head[0]`` is reached."""
        last = 0
        while not (through.is_set() and last >= head[0]):
            result = await self.engine.read(Query(), after=last, limit=1000)
            self.seen += [event.position for event in result.events]
            if result.events:
                last = result.events[-1].position
            await anyio.sleep(0.005)


class Appends:
    """Appends started in the background; each one's result (or refusal) by name."""

    def __init__(self) -> None:
        self.results: dict[str, AppendResult | AppendConditionFailed] = {}
        self.all_done = anyio.Event()
        self.started = 0

    async def run(
        self,
        name: str,
        engine: EventStorageEngine,
        new: list[EventInput],
        condition: AppendCondition | None,
    ) -> None:
        self.started += 1
        try:
            self.results[name] = await engine.append(new, condition)
        except AppendConditionFailed as failure:
            self.results[name] = failure
        if len(self.results) == self.started:
            self.all_done.set()


async def lock_and_draw(conn: AsyncConnection) -> int:
    """In ``conn``'s transaction: take the writer lock and draw the next position as the engine
    does."""
    await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITER_LOCK})
    head = select(func.coalesce(func.max(events.c.position), 0))
    drawn: int = (await conn.execute(head)).scalar_one() + 1
    return drawn


async def insert_foreign_event(conn: AsyncConnection, position: int) -> None:
    """In ``conn``'s transaction: store one event tagged ``foreign`` at ``position``."""
    row = {
        "position": position,
        "id": uuid.uuid4(),
        "type": "Foreign",
        "data": "null",
        "tags": '["foreign"]',
        "metadata": "{}",
        "recorded_at": datetime.now(UTC),
        "append_first": position,
    }
    await conn.execute(insert(events).values(row))
    await conn.execute(insert(event_tags).values(tag="foreign", position=position))


@pytest.mark.parametrize("outcome", ["commit", "rollback"])
async def test_appends_wait_for_a_foreign_writer_and_no_reader_skips_its_event(
    url: str, replicas: tuple[EventStorageEngine, EventStorageEngine], outcome: str
) -> None:
    one, two = replicas
    await one.append([EventInput("Seeded", tags=("seed",)) for _ in range(SEEDED)])
    before = await one.read(FOREIGN, limit=1000)
    assert before.marker == SEEDED

    follower = Follower(two)
    through, final_head = anyio.Event(), [0]
    appends = Appends()
    foreign = create_async_engine(async_url(url))
    try:
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(follower.follow, through, final_head)
                async with foreign.connect() as conn:
                    transaction = await conn.begin()
                    drawn = await lock_and_draw(conn)
                    assert drawn == SEEDED + 1

                    decided = [EventInput("Decided", tags=("decided",))]
                    condition = AppendCondition(FOREIGN, after=before.marker)
                    tasks.start_soon(appends.run, "decided", one, decided, condition)
                    plain = [EventInput("Plain", tags=("a",)), EventInput("Plain", tags=("b",))]
                    tasks.start_soon(appends.run, "plain", two, plain, None)
                    await anyio.sleep(WAIT)
                    assert appends.results == {}, "an append did not wait for the writer lock"
                    # Only now the foreign row: had an append not waited for the lock, it would
                    # have drawn this position too, and committed first.
                    await insert_foreign_event(conn, drawn)
                    await anyio.sleep(0.1)
                    assert appends.results == {}
                    # Reads do not wait for the lock, and see nothing uncommitted.
                    with anyio.fail_after(2):
                        assert await one.head() == SEEDED
                        assert (await two.read(Query(), after=SEEDED, limit=10)).events == []
                    assert all(position <= SEEDED for position in follower.seen)

                    if outcome == "commit":
                        await transaction.commit()
                    else:
                        await transaction.rollback()

                await appends.all_done.wait()
                final_head[0] = await one.head()
                through.set()
    finally:
        await foreign.dispose()

    head = final_head[0]
    log = (await one.read(Query(), limit=1000)).events
    assert [event.position for event in log] == list(range(1, head + 1))
    assert follower.seen == list(range(1, head + 1)), "the follower skipped or repeated an event"
    results = appends.results
    plain_result = results["plain"]
    assert isinstance(plain_result, AppendResult)
    if outcome == "commit":
        assert head == SEEDED + 3
        assert log[SEEDED].type == "Foreign"
        # The decision was read before the foreign event existed: its condition must see it.
        refused = results["decided"]
        assert isinstance(refused, AppendConditionFailed)
        assert refused.conflicting_position == SEEDED + 1
        assert plain_result.positions == (SEEDED + 2, SEEDED + 3)
    else:
        # The foreign position was drawn again: no hole.
        assert head == SEEDED + 3
        decided_result = results["decided"]
        assert isinstance(decided_result, AppendResult)
        stored = sorted(decided_result.positions + plain_result.positions)
        assert stored == [SEEDED + 1, SEEDED + 2, SEEDED + 3]
        assert "Foreign" not in {event.type for event in log}
