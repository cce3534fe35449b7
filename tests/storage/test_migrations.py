"""A store made by an earlier version is brought up to date at start-up: the discovery counts
of revision 0002 are filled from the events it already holds."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy import Connection, create_engine, insert
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from app.domain import TagCount
from app.storage.factory import build_engine
from app.storage.sql.migrations import upgrade
from app.storage.sql.postgres import async_url
from app.storage.sql.sqlite import sync_url
from app.storage.sql.tables import event_tags, events
from tests.support.engines import SQL_ENGINES, database_url

pytestmark = pytest.mark.anyio

STORED = [("A", ["k:1", "k:2"]), ("B", ["k:1"]), ("A", []), ("A", ["k:2"])]


def fill_as_revision_0001(conn: Connection) -> None:
    upgrade(conn, "0001")
    now = datetime.now(UTC)
    for position, (event_type, tags) in enumerate(STORED, start=1):
        conn.execute(
            insert(events).values(
                position=position,
                id=uuid4(),
                type=event_type,
                data="null",
                tags=json.dumps(tags),
                metadata="{}",
                recorded_at=now,
                append_first=position,
            )
        )
        for tag in tags:
            conn.execute(insert(event_tags).values(tag=tag, position=position))


@pytest.mark.parametrize("engine_name", SQL_ENGINES)
async def test_the_counts_of_an_earlier_store_are_filled_at_the_upgrade(
    engine_name: str, tmp_path: Path
) -> None:
    url = await database_url(engine_name, tmp_path)
    if engine_name == "sqlite":
        database = create_engine(sync_url(url))
        with database.begin() as conn:
            fill_as_revision_0001(conn)
        database.dispose()
    else:
        database_async = create_async_engine(async_url(url))
        async with database_async.begin() as conn:
            await conn.run_sync(fill_as_revision_0001)
        await database_async.dispose()

    store = build_engine(Settings(database_url=url))
    await store.start()
    try:
        types = [
            (t.type, t.count, t.first_position, t.last_position) for t in await store.event_types()
        ]
        tags = (await store.tags(limit=10)).tags
        tags_of_a = (await store.tags(event_type="A", limit=10)).tags
    finally:
        await store.close()

    assert types == [("A", 3, 1, 4), ("B", 1, 2, 2)]
    assert tags == [TagCount("k:1", 2), TagCount("k:2", 2)]
    assert tags_of_a == [TagCount("k:1", 1), TagCount("k:2", 2)]
