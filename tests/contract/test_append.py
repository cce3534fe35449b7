"""Appending: positions, atomicity, ids, and what a stored event carries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from app.domain import AppendCondition
from app.errors import AppendConditionFailed, EventIdReused
from app.storage.protocol import EventStorageEngine
from tests.support.events import item, new_event, query, read, stored_positions

pytestmark = pytest.mark.anyio


async def test_empty_store_has_head_zero(engine: EventStorageEngine) -> None:
    assert await engine.head() == 0


async def test_empty_store_reads_nothing_with_marker_zero(engine: EventStorageEngine) -> None:
    result = await read(engine)

    assert (result.events, result.head, result.marker, result.has_more) == ([], 0, 0, False)


async def test_first_event_gets_position_one(engine: EventStorageEngine) -> None:
    result = await engine.append([new_event()])

    assert result.positions == (1,)
    assert result.last_position == 1
    assert result.replayed is False


async def test_events_of_one_append_get_consecutive_positions(engine: EventStorageEngine) -> None:
    result = await engine.append([new_event(), new_event(), new_event()])

    assert result.positions == (1, 2, 3)
    assert result.last_position == 3


async def test_positions_continue_across_appends(engine: EventStorageEngine) -> None:
    await engine.append([new_event(), new_event()])

    result = await engine.append([new_event(), new_event(), new_event()])

    assert result.positions == (3, 4, 5)
    assert await engine.head() == 5


async def test_events_of_one_append_are_stored_in_request_order(
    engine: EventStorageEngine,
) -> None:
    await engine.append([new_event("First"), new_event("Second"), new_event("Third")])

    result = await read(engine)

    assert [(e.position, e.type) for e in result.events] == [
        (1, "First"),
        (2, "Second"),
        (3, "Third"),
    ]


async def test_failing_condition_stores_none_of_the_events(engine: EventStorageEngine) -> None:
    await engine.append([new_event("Blocker")])
    condition = AppendCondition(fail_if_events_match=query(item(types=["Blocker"])))

    with pytest.raises(AppendConditionFailed):
        await engine.append([new_event("A"), new_event("B"), new_event("C")], condition)

    assert await engine.head() == 1
    assert await stored_positions(engine) == [1]


async def test_reused_event_id_stores_none_of_the_events(engine: EventStorageEngine) -> None:
    taken = uuid4()
    await engine.append([new_event("Original", event_id=taken)])
    fresh = [uuid4(), uuid4()]

    with pytest.raises(EventIdReused):
        await engine.append(
            [
                new_event("A", event_id=fresh[0]),
                new_event("B", event_id=fresh[1]),
                new_event("Other", event_id=taken),
            ]
        )

    assert await engine.head() == 1
    again = await engine.append([new_event("A", event_id=fresh[0])])
    assert (again.positions, again.replayed) == ((2,), False)


async def test_generated_ids_are_distinct_uuids(engine: EventStorageEngine) -> None:
    await engine.append([new_event(), new_event(), new_event()])
    await engine.append([new_event(), new_event()])

    ids = [event.id for event in (await read(engine)).events]

    assert all(isinstance(event_id, UUID) for event_id in ids)
    assert len(set(ids)) == 5


async def test_given_id_is_kept(engine: EventStorageEngine) -> None:
    event_id = uuid4()

    await engine.append([new_event(event_id=event_id)])

    assert [e.id for e in (await read(engine)).events] == [event_id]


async def test_type_is_returned(engine: EventStorageEngine) -> None:
    await engine.append([new_event("CourseDefined")])

    assert [e.type for e in (await read(engine)).events] == ["CourseDefined"]


async def test_tags_are_returned_as_given(engine: EventStorageEngine) -> None:
    await engine.append([new_event(tags=["student:s1", "course:c1", "a"])])

    assert [e.tags for e in (await read(engine)).events] == [("student:s1", "course:c1", "a")]


async def test_event_without_tags_has_none(engine: EventStorageEngine) -> None:
    await engine.append([new_event(tags=[])])

    assert [e.tags for e in (await read(engine)).events] == [()]


async def test_recorded_at_is_timezone_aware_utc_and_current(engine: EventStorageEngine) -> None:
    await engine.append([new_event()])

    (event,) = (await read(engine)).events

    assert event.recorded_at.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - event.recorded_at) < timedelta(minutes=5)


async def test_an_empty_append_is_refused_and_says_why(engine: EventStorageEngine) -> None:
    with pytest.raises(ValueError, match=r"^an append needs at least one event$"):
        await engine.append([])


async def test_one_id_twice_in_a_request_is_refused_and_says_why(
    engine: EventStorageEngine,
) -> None:
    twice = uuid4()

    with pytest.raises(EventIdReused) as refused:
        await engine.append([new_event("A", event_id=twice), new_event("B", event_id=twice)])

    assert str(refused.value) == "the same event id appears twice in this request"
    assert await engine.head() == 0
