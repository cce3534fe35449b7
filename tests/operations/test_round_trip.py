"""Round trip: a store of 100,000 events with tags, metadata, snapshots and a schema, exported
by ``eventstore export`` and imported by ``eventstore import`` into an empty SQLite and an empty
PostgreSQL store. The three stores answer every read of a set of queries identically (events,
positions, markers, has_more, head), their discovery is the same, and each exports the very
same bytes as the source did."""

from __future__ import annotations

import dataclasses
import gzip
from pathlib import Path

import pytest

from app.config import Settings
from app.domain import MATCH_ALL, Query, ReadResult, dump_json
from app.storage.factory import build_engine
from app.storage.protocol import EventStorageEngine
from tests.operations.conftest import empty_store
from tests.support.events import item, query
from tests.support.stores import eventstore, fill_store

EVENTS = 100_000

QUERIES: list[Query] = [
    MATCH_ALL,
    query(item(types=["CourseDefined"])),
    query(item(tags=["course:c5"])),
    query(item(tags=["course:c5", "flagged"])),
    query(item(types=["StudentSubscribed"], tags=["student:s17"])),
    query(item(tags=["course:c1"]), item(types=["CourseRenamed"], tags=["flagged"])),
    query(item(tags=["nobody"])),
]
READS = [
    {"after": 0, "limit": 1000},
    {"after": 50_000, "limit": 100},
    {"after": 0, "before": 30_000, "limit": 500, "backwards": True},
    {"after": 99_990, "limit": 1000},
    {"after": 12_345, "before": 12_400, "limit": 3},
]


async def answers(engine: EventStorageEngine) -> list[ReadResult]:
    return [
        await engine.read(q, **read)  # type: ignore[arg-type]
        for q in QUERIES
        for read in READS
    ]


async def discovery(engine: EventStorageEngine) -> tuple[object, ...]:
    stats = dataclasses.replace(await engine.stats(), database_bytes=None)
    tags = await engine.tags(limit=2000)
    return stats, await engine.event_types(), tags, await engine.get_snapshot("course", "c50")


@pytest.mark.postgres
@pytest.mark.anyio
async def test_an_export_imported_into_sqlite_and_postgresql_answers_every_query_alike(
    tmp_path: Path,
) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    await fill_store(source, EVENTS)
    engine = build_engine(Settings(database_url=source))
    await engine.start()
    await engine.put_schema("CourseDefined", dump_json({"type": "object"}))
    await engine.close()

    exported = tmp_path / "export.ndjson.gz"
    eventstore("export", exported, "--database-url", source)
    lines = gzip.decompress(exported.read_bytes()).splitlines()
    assert (
        len(lines) == 1 + EVENTS + EVENTS // 5000 + 1 + 1
    )  # header, events, snapshots, schema, end

    targets = [
        await empty_store("sqlite", tmp_path, "target"),
        await empty_store("postgres", tmp_path, "target"),
    ]
    for target in targets:
        eventstore("import", exported, "--database-url", target)

    engines = [build_engine(Settings(database_url=url)) for url in [source, *targets]]
    for each in engines:
        await each.start()
    try:
        expected = await answers(engines[0])
        assert sum(len(result.events) for result in expected) > 5000  # the queries find events
        expected_discovery = await discovery(engines[0])
        for each in engines[1:]:
            assert await answers(each) == expected
            assert await discovery(each) == expected_discovery
    finally:
        for each in engines:
            await each.close()

    for number, target in enumerate(targets):
        again = tmp_path / f"again{number}.ndjson"
        eventstore("export", again, "--database-url", target)
        assert again.read_bytes().splitlines() == lines
        eventstore("verify", "--database-url", target)
