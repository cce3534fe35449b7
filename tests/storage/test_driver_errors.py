"""What the database refuses reaches the caller as what it is: the runners translate their
drivers' errors at the storage boundary (`app.storage.sql.runner`), on SQLite and PostgreSQL.

The engine never provokes these itself (it looks ids up under the writer lock before it inserts),
so the rows are written here through the runner, as another program writing to the tables
would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import Connection, insert

from app.config import Settings
from app.errors import EventIdReused, WriteRefused
from app.storage.sql.postgres import PostgresRunner
from app.storage.sql.runner import TransactionRunner
from app.storage.sql.sqlite import SqliteRunner
from app.storage.sql.tables import events, snapshots
from tests.support.engines import SQL_ENGINES, database_url

pytestmark = pytest.mark.anyio


@pytest.fixture(params=SQL_ENGINES)
async def runner(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    settings = Settings(database_url=await database_url(request.param, tmp_path))
    started: TransactionRunner = (
        SqliteRunner(settings) if request.param == "sqlite" else PostgresRunner(settings)
    )
    await started.start()
    yield started
    await started.close()


def insert_event(position: int, event_id: UUID) -> Any:
    def work(conn: Connection) -> None:
        conn.execute(
            insert(events).values(
                position=position,
                id=event_id,
                type="A",
                data="null",
                tags="[]",
                metadata="{}",
                recorded_at=datetime.now(UTC),
                append_first=position,
            )
        )

    return work


def insert_snapshot(conn: Connection) -> None:
    conn.execute(
        insert(snapshots).values(
            name="s", key="k", position=0, state="null", metadata="{}", stored_at=datetime.now(UTC)
        )
    )


async def test_a_stored_event_id_written_again_is_event_id_reused(runner: Any) -> None:
    event_id = uuid4()
    await runner.write(insert_event(1, event_id))

    with pytest.raises(EventIdReused):
        await runner.write(insert_event(2, event_id))


async def test_any_other_refused_row_is_write_refused_not_event_id_reused(runner: Any) -> None:
    await runner.write(insert_event(1, uuid4()))
    await runner.write(insert_snapshot)

    with pytest.raises(WriteRefused):
        await runner.write(insert_event(1, uuid4()))  # the position is taken
    with pytest.raises(WriteRefused):
        await runner.write(insert_snapshot)  # so is the snapshot's (name, key)
