"""Appends decided in one group-commit batch, and the answers the in-memory specification gives
the same appends one by one: the tests of batching compare the two.

- `started`: a started SQL engine over a store URL, with settings.
- `in_one_batch`: appends started together by `asyncio.gather`, which queues them in its order
  before the writer task runs, so that they form one batch; checked with ``batch_stats``.
- `behind_a_large_append`: appends queued behind a large one that fills a batch by itself (the
  engine's ``append_batch_max_events`` is its size), so that the writer is busy with it while
  they wait, and they are then decided together in the next batch.
- `one_by_one`: the same appends, each awaited before the next (on `MemoryEngine`, the spec).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.config import Settings
from app.domain import MATCH_ALL, AppendCondition, AppendResult, EventInput
from app.errors import AppendConditionFailed, EventIdReused
from app.storage.protocol import EventStorageEngine
from app.storage.sql.engine import SqlEngine, build_sql_engine
from tests.support.events import new_event, read

Request = tuple[list[EventInput], AppendCondition | None]

LARGE_APPEND_EVENTS = 500
"""The size of the large append, and the event limit of a batch in `behind_a_large_append`."""


def large_append() -> list[EventInput]:
    """`LARGE_APPEND_EVENTS` events of type Imported tagged ``import``."""
    return [
        new_event("Imported", tags=["import"], data={"n": n}) for n in range(LARGE_APPEND_EVENTS)
    ]


async def started(url: str, **settings: Any) -> SqlEngine:
    engine = build_sql_engine(Settings(database_url=url, **settings))
    await engine.start()
    return engine


@dataclass(frozen=True)
class Answer:
    """What a caller can tell of an append's outcome."""

    kind: str
    value: Any

    @classmethod
    def of(cls, outcome: AppendResult | BaseException) -> Answer:
        if isinstance(outcome, AppendResult):
            return cls("stored", (outcome.positions, outcome.replayed))
        if isinstance(outcome, AppendConditionFailed):
            return cls("409", (outcome.conflicting_position, outcome.head))
        return cls(type(outcome).__name__, None)


async def in_one_batch(engine: SqlEngine, requests: Sequence[Request]) -> list[Answer]:
    batches = engine.batch_stats.batches
    outcomes = await asyncio.gather(
        *(engine.append(events, condition) for events, condition in requests),
        return_exceptions=True,
    )
    assert engine.batch_stats.batches == batches + 1, "the appends did not share one batch"
    return [Answer.of(outcome) for outcome in outcomes]


async def behind_a_large_append(engine: SqlEngine, requests: Sequence[Request]) -> list[Answer]:
    """The answers to ``requests``, decided together right after `large_append` (first, alone).
    The engine must limit its batches to `LARGE_APPEND_EVENTS` events."""
    assert sum(len(events) for events, _ in requests) <= LARGE_APPEND_EVENTS
    batches = engine.batch_stats.batches
    large, *outcomes = await asyncio.gather(
        engine.append(large_append()),
        *(engine.append(events, condition) for events, condition in requests),
        return_exceptions=True,
    )
    assert isinstance(large, AppendResult), large
    assert engine.batch_stats.batches == batches + 2, "the appends did not share one batch"
    assert engine.batch_stats.largest >= len(requests)
    return [Answer.of(outcome) for outcome in outcomes]


async def one_by_one(engine: EventStorageEngine, requests: Sequence[Request]) -> list[Answer]:
    answers = []
    for events, condition in requests:
        try:
            answers.append(Answer.of(await engine.append(events, condition)))
        except (AppendConditionFailed, EventIdReused) as refused:
            answers.append(Answer.of(refused))
    return answers


async def stored(engine: EventStorageEngine) -> list[tuple[Any, ...]]:
    return [
        (event.position, event.type, event.tags, event.data, event.id)
        for event in (await read(engine, MATCH_ALL)).events
    ]
