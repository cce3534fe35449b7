"""Idempotent append: a retry of an earlier append (same ids, same content) gets its result back;
any other reuse of a stored id is refused with EventIdReused."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from uuid import UUID, uuid4

import pytest

from app.domain import AppendCondition, EventInput, dump_json
from app.errors import EventIdReused
from app.storage.protocol import EventStorageEngine
from tests.support.events import item, new_event, query, stored_positions

pytestmark = pytest.mark.anyio


def batch(*ids: UUID) -> list[EventInput]:
    return [
        new_event(
            "Registered",
            tags=[f"user:{index}", "batch"],
            data={"index": index, "big": 2**80},
            metadata={"by": "test"},
            event_id=event_id,
        )
        for index, event_id in enumerate(ids)
    ]


async def test_retry_returns_the_earlier_positions(engine: EventStorageEngine) -> None:
    events = batch(uuid4(), uuid4())
    await engine.append([new_event()])
    first = await engine.append(events)
    await engine.append([new_event()])

    retry = await engine.append(events)

    assert (first.positions, first.replayed) == ((2, 3), False)
    assert (retry.positions, retry.replayed) == ((2, 3), True)


async def test_retry_stores_nothing(engine: EventStorageEngine) -> None:
    events = batch(uuid4(), uuid4())
    await engine.append(events)

    await engine.append(events)

    assert await engine.head() == 2
    assert await stored_positions(engine) == [1, 2]


async def test_retry_of_an_append_of_thousands_of_events_is_a_replay(
    engine: EventStorageEngine,
) -> None:
    """More ids than one lookup statement takes (the SQL engine looks them up in chunks)."""
    events = batch(*(uuid4() for _ in range(2_500)))
    first = await engine.append(events)

    retry = await engine.append(events)

    assert (retry.positions, retry.replayed) == (first.positions, True)
    assert await engine.head() == 2_500


async def test_retry_is_replayed_even_when_its_condition_now_fails(
    engine: EventStorageEngine,
) -> None:
    events = batch(uuid4())
    condition = AppendCondition(query(item(types=["Registered"])), after=None)
    await engine.append(events, condition)

    retry = await engine.append(events, condition)

    assert (retry.positions, retry.replayed) == ((1,), True)


async def test_retry_compares_json_values_not_key_order(engine: EventStorageEngine) -> None:
    event_id = uuid4()
    await engine.append([EventInput(type="T", data='{"a":1,"b":2}', id=event_id)])

    retry = await engine.append([EventInput(type="T", data='{"b":2,"a":1}', id=event_id)])

    assert (retry.positions, retry.replayed) == ((1,), True)


async def test_retry_ignores_tag_order(engine: EventStorageEngine) -> None:
    event_id = uuid4()
    await engine.append([new_event(tags=["a", "b"], event_id=event_id)])

    retry = await engine.append([new_event(tags=["b", "a"], event_id=event_id)])

    assert (retry.positions, retry.replayed) == ((1,), True)


ORIGINAL = batch(UUID("5f0c6c1e-8d8a-4b8e-9a53-0a3c2b7f4e11"))[0]
CHANGED = {
    "type": replace(ORIGINAL, type="Renamed"),
    "data": replace(ORIGINAL, data=dump_json({"index": 0, "big": 2**80 + 1})),
    "metadata": replace(ORIGINAL, metadata=dump_json({"by": "someone else"})),
    "tags": replace(ORIGINAL, tags=("user:0",)),
}


@pytest.mark.parametrize("changed", CHANGED.values(), ids=CHANGED.keys())
async def test_same_id_with_different_content_is_refused(
    engine: EventStorageEngine, changed: EventInput
) -> None:
    await engine.append([ORIGINAL])

    with pytest.raises(EventIdReused):
        await engine.append([changed])


async def test_only_some_ids_stored_is_refused(engine: EventStorageEngine) -> None:
    stored, fresh = uuid4(), uuid4()
    await engine.append(batch(stored))

    with pytest.raises(EventIdReused):
        await engine.append(batch(stored, fresh))


async def test_stored_id_beside_an_event_without_id_is_refused(
    engine: EventStorageEngine,
) -> None:
    events = batch(uuid4())
    await engine.append(events)

    with pytest.raises(EventIdReused):
        await engine.append([*events, new_event()])


async def test_leading_part_of_an_earlier_append_is_refused(engine: EventStorageEngine) -> None:
    a, b, c = uuid4(), uuid4(), uuid4()
    await engine.append(batch(a, b, c))

    with pytest.raises(EventIdReused):
        await engine.append(batch(a, b, c)[:2])


async def test_trailing_part_of_an_earlier_append_is_refused(engine: EventStorageEngine) -> None:
    a, b, c = uuid4(), uuid4(), uuid4()
    await engine.append(batch(a, b, c))

    with pytest.raises(EventIdReused):
        await engine.append(batch(a, b, c)[1:])


async def test_earlier_append_in_another_order_is_refused(engine: EventStorageEngine) -> None:
    events = batch(uuid4(), uuid4())
    await engine.append(events)

    with pytest.raises(EventIdReused):
        await engine.append(events[::-1])


async def test_two_earlier_appends_together_are_refused(engine: EventStorageEngine) -> None:
    first, second = batch(uuid4(), uuid4())
    await engine.append([first])
    await engine.append([second])

    with pytest.raises(EventIdReused):
        await engine.append([first, second])


async def test_refused_reuse_stores_nothing(engine: EventStorageEngine) -> None:
    stored, fresh = uuid4(), uuid4()
    await engine.append(batch(stored))

    with pytest.raises(EventIdReused):
        await engine.append(batch(stored, fresh))

    assert await engine.head() == 1


async def test_leading_part_of_an_append_between_others_is_refused(
    engine: EventStorageEngine,
) -> None:
    """The earlier append neither starts the store nor ends it: what lies before and after it
    must not be taken for its boundaries."""
    a, b = uuid4(), uuid4()
    await engine.append([new_event("Before")])
    await engine.append(batch(a, b))
    await engine.append([new_event("After")])

    with pytest.raises(EventIdReused):
        await engine.append(batch(a, b)[:1])


REFUSALS = {
    "some ids stored, others not": (
        lambda stored, fresh: batch(stored, fresh),
        "some event ids of this request are already stored, others are not: "
        "a retry must repeat the earlier append exactly",
    ),
    "a stored id after an event without id": (
        lambda stored, fresh: [new_event(), *batch(stored)],
        "some event ids of this request are already stored, others are not: "
        "a retry must repeat the earlier append exactly",
    ),
    "another content": (
        lambda stored, fresh: [replace(batch(stored)[0], type="Renamed")],
        "event id {stored} is already stored with different content",
    ),
}


@pytest.mark.parametrize(("request_of", "reason"), REFUSALS.values(), ids=REFUSALS.keys())
async def test_a_refused_reuse_says_why(
    engine: EventStorageEngine,
    request_of: Callable[[UUID, UUID], list[EventInput]],
    reason: str,
) -> None:
    """The reason is the problem's detail: it tells the client what a retry must be."""
    stored, fresh = uuid4(), uuid4()
    await engine.append(batch(stored))

    with pytest.raises(EventIdReused) as refused:
        await engine.append(request_of(stored, fresh))

    assert str(refused.value) == reason.format(stored=stored)


async def test_an_earlier_append_in_pieces_is_refused_and_says_why(
    engine: EventStorageEngine,
) -> None:
    a, b = uuid4(), uuid4()
    await engine.append(batch(a, b))

    with pytest.raises(EventIdReused) as refused:
        await engine.append(batch(a, b)[::-1])

    assert str(refused.value) == (
        "these event ids are stored, but not as one earlier append in this order"
    )
