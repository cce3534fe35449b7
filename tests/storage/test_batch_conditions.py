"""Each kind of append condition, decided in a batch against the events decided earlier in the
same batch, gets the answer a serial execution gives, on SQLite and PostgreSQL.

Batching is forced on purpose: the appends are queued behind a large append that fills a batch
by itself, so the writer is busy with it while they wait, and then decides them together in one
transaction (`tests.support.batches.behind_a_large_append`; ``batch_stats`` confirms it). The
in-memory specification runs the same appends one by one, and every answer must be the same.

For each kind of condition (items with types, with tags, with both, no items) the appends put the
event a condition must see at the edge: it is the last event the batch has decided to store;
``after`` is just below it, at it, at the head of the batch, below the batch's start, or null.
The first batch of a new store checks ``after`` null where the batch starts at position 0, and
retries inside a batch are replays whatever their condition says.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from app.domain import MATCH_ALL, AppendCondition, EventInput, Query
from app.storage.memory import MemoryEngine
from app.storage.sql.engine import SqlEngine
from tests.support.batches import (
    LARGE_APPEND_EVENTS,
    Answer,
    Request,
    behind_a_large_append,
    in_one_batch,
    large_append,
    one_by_one,
    started,
    stored,
)
from tests.support.events import item, new_event, query

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Kind:
    """A condition's query, an event it matches, and one it does not (None: every event
    matches)."""

    query: Query
    hit: EventInput
    miss: EventInput | None


KINDS = {
    "types": Kind(
        query(item(types=["Enrolled", "Dropped"])),
        hit=new_event("Dropped", tags=["student:1"]),
        miss=new_event("Renamed", tags=["student:1"]),
    ),
    "tags": Kind(
        query(item(tags=["course:1", "student:1"])),
        hit=new_event("Renamed", tags=["student:1", "course:1", "term:3"]),
        miss=new_event("Enrolled", tags=["course:1"]),
    ),
    "types and tags": Kind(
        query(item(types=["Enrolled"], tags=["course:1"]), item(types=["Dropped"])),
        hit=new_event("Enrolled", tags=["course:1", "student:1"]),
        miss=new_event("Enrolled", tags=["course:2"]),
    ),
    "no items": Kind(MATCH_ALL, hit=new_event("Renamed"), miss=None),
}

SEED = [new_event("Opened", tags=["course:9"])]
"""The store before the large append: nothing the item kinds match."""


@pytest.fixture
async def engine(store_url: str) -> AsyncIterator[SqlEngine]:
    store = await started(store_url, append_batch_max_events=LARGE_APPEND_EVENTS)
    yield store
    await store.close()


def at_the_edge(kind: Kind, start: int) -> list[Request]:
    """Appends whose conditions look at the last event of the batch so far. ``start`` is the
    head when their batch begins."""

    def on(after: int | None) -> AppendCondition:
        return AppendCondition(kind.query, after=after)

    requests: list[Request] = [
        ([kind.hit], on(start)),  # stored at start + 1
        ([kind.hit], on(start)),  # refused: start + 1, the last event of the batch, matches
        ([kind.hit], on(start + 1)),  # stored at start + 2: nothing after start + 1
        ([kind.hit], on(start + 2)),  # stored at start + 3: at the head of the batch
    ]
    if kind.miss is not None:
        requests += [
            ([kind.miss], on(start + 3)),  # stored at start + 4: nothing after start + 3
            ([kind.hit], on(start + 3)),  # stored at start + 5: start + 4 does not match
        ]
    else:
        requests += [([kind.hit], on(start + 2))]  # refused: start + 3 matches
    return [
        *requests,
        ([kind.hit], on(start - LARGE_APPEND_EVENTS)),  # below the start of the batch
        ([kind.hit], on(None)),  # anywhere
    ]


@pytest.mark.parametrize("kind", KINDS.values(), ids=KINDS.keys())
async def test_a_condition_sees_the_last_event_decided_in_its_batch(
    engine: SqlEngine, kind: Kind
) -> None:
    await engine.append(SEED)
    start = len(SEED) + LARGE_APPEND_EVENTS
    requests = at_the_edge(kind, start)
    spec = MemoryEngine()
    await spec.append(SEED)
    await spec.append(large_append())

    answers = await behind_a_large_append(engine, requests)

    assert answers == await one_by_one(spec, requests)
    assert answers[1] == Answer("409", (start + 1, start + 1)), "missed the batch's last event"
    assert answers[2] == Answer("stored", ((start + 2,), False))
    assert [row[:4] for row in await stored(engine)] == [row[:4] for row in await stored(spec)]


@pytest.mark.parametrize("kind", KINDS.values(), ids=KINDS.keys())
async def test_after_null_in_the_first_batch_of_a_new_store(engine: SqlEngine, kind: Kind) -> None:
    """The batch starts at position 0: ``after`` null must still see position 1."""
    claim = AppendCondition(kind.query, after=None)
    requests: list[Request] = [([kind.hit], claim), ([kind.hit], claim)]
    if kind.miss is not None:
        requests.append(([kind.miss], claim))  # refused all the same: position 1 matches

    answers = await in_one_batch(engine, requests)

    assert answers == await one_by_one(MemoryEngine(), requests)
    assert answers[0] == Answer("stored", ((1,), False))
    assert answers[1:] == [Answer("409", (1, 1))] * (len(requests) - 1)


async def test_retries_inside_a_batch_are_replays_and_reuses_are_refused(
    engine: SqlEngine,
) -> None:
    committed = [new_event("Registered", tags=["user:1"], event_id=uuid.uuid4()) for _ in "ab"]
    await engine.append(committed)
    start = len(committed) + LARGE_APPEND_EVENTS
    claim = AppendCondition(query(item(tags=["seat:1"])), after=None)
    seat = [new_event("SeatClaimed", tags=["seat:1"], event_id=uuid.uuid4())]
    pair = [new_event("Moved", tags=[f"move:{n}"], event_id=uuid.uuid4()) for n in range(2)]
    requests: list[Request] = [
        (seat, claim),  # stored at start + 1
        (seat, claim),  # a replay, though its condition now fails
        (pair, None),  # stored at start + 2, start + 3
        (pair, claim),  # a replay
        (pair[:1], None),  # part of an append of this batch
        (pair[::-1], None),  # another order
        ([new_event("Moved"), *seat], None),  # beside an event without id
        (committed, claim),  # a replay of a committed append
        (committed[1:], None),  # part of it
        ([committed[0], seat[0]], None),  # two appends, one committed
    ]
    spec = MemoryEngine()
    await spec.append(committed)
    await spec.append(large_append())

    answers = await behind_a_large_append(engine, requests)

    assert answers == await one_by_one(spec, requests)
    assert answers[:4] == [
        Answer("stored", ((start + 1,), False)),
        Answer("stored", ((start + 1,), True)),
        Answer("stored", ((start + 2, start + 3), False)),
        Answer("stored", ((start + 2, start + 3), True)),
    ]
    assert answers[7] == Answer("stored", ((1, 2), True))
    assert [row[:4] for row in await stored(engine)] == [row[:4] for row in await stored(spec)]
