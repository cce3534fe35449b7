"""Small builders that keep the contract tests short."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from app.domain import MATCH_ALL, EventInput, Query, QueryItem, ReadResult, dump_json
from app.storage.protocol import EventStorageEngine

LIMIT = 1000
"""A limit larger than any test's event count: reads with it are never cut short."""


def new_event(
    event_type: str = "Happened",
    *,
    tags: Sequence[str] = (),
    data: Any = None,
    metadata: dict[str, Any] | None = None,
    event_id: UUID | None = None,
) -> EventInput:
    return EventInput(
        type=event_type,
        data=dump_json(data),
        tags=tuple(tags),
        metadata=dump_json(metadata or {}),
        id=event_id,
    )


def item(*, types: Sequence[str] = (), tags: Sequence[str] = ()) -> QueryItem:
    return QueryItem(types=tuple(types), tags=tuple(tags))


def query(*items: QueryItem) -> Query:
    return Query(items=items)


async def read(
    engine: EventStorageEngine,
    where: Query = MATCH_ALL,
    *,
    after: int = 0,
    before: int | None = None,
    limit: int = LIMIT,
    backwards: bool = False,
) -> ReadResult:
    return await engine.read(where, after=after, before=before, limit=limit, backwards=backwards)


def positions(result: ReadResult) -> list[int]:
    return [event.position for event in result.events]


async def stored_positions(engine: EventStorageEngine, where: Query = MATCH_ALL) -> list[int]:
    return positions(await read(engine, where))
