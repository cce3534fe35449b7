"""Append conditions: fail if an event matching the query lies after ``after``."""

from __future__ import annotations

import pytest

from app.domain import AppendCondition, EventInput, Query
from app.errors import AppendConditionFailed
from app.storage.protocol import EventStorageEngine
from tests.support.events import item, new_event, query, read

pytestmark = pytest.mark.anyio

COURSE_C1 = query(item(types=["CourseDefined"], tags=["course:c1"]))


def defined(course: str) -> EventInput:
    return new_event("CourseDefined", tags=[f"course:{course}"])


async def test_condition_on_empty_store_passes(engine: EventStorageEngine) -> None:
    result = await engine.append([defined("c1")], AppendCondition(COURSE_C1))

    assert result.positions == (1,)


async def test_after_none_fails_if_a_matching_event_exists(engine: EventStorageEngine) -> None:
    await engine.append([defined("c1")])

    with pytest.raises(AppendConditionFailed):
        await engine.append([defined("c1")], AppendCondition(COURSE_C1, after=None))


async def test_after_zero_fails_if_a_matching_event_exists(engine: EventStorageEngine) -> None:
    await engine.append([defined("c1")])

    with pytest.raises(AppendConditionFailed):
        await engine.append([defined("c1")], AppendCondition(COURSE_C1, after=0))


async def test_condition_ignores_events_that_do_not_match(engine: EventStorageEngine) -> None:
    await engine.append(
        [
            new_event("CourseDefined", tags=["course:c2"]),
            new_event("CourseRenamed", tags=["course:c1"]),
        ]
    )

    result = await engine.append([defined("c1")], AppendCondition(COURSE_C1))

    assert result.positions == (3,)


async def test_after_is_exclusive(engine: EventStorageEngine) -> None:
    await engine.append([new_event("Other"), defined("c1")])

    result = await engine.append([defined("c1")], AppendCondition(COURSE_C1, after=2))

    assert result.positions == (3,)


async def test_matching_event_after_after_fails(engine: EventStorageEngine) -> None:
    await engine.append([new_event("Other"), defined("c1")])

    with pytest.raises(AppendConditionFailed):
        await engine.append([defined("c1")], AppendCondition(COURSE_C1, after=1))


async def test_after_beyond_head_passes(engine: EventStorageEngine) -> None:
    await engine.append([defined("c1")])

    result = await engine.append([defined("c1")], AppendCondition(COURSE_C1, after=5))

    assert result.positions == (2,)


async def test_failure_reports_head_and_first_conflicting_position(
    engine: EventStorageEngine,
) -> None:
    await engine.append([defined("c1")])  # 1: at or before `after`
    await engine.append([new_event("Other"), defined("c1"), defined("c1"), new_event("Other")])

    with pytest.raises(AppendConditionFailed) as failure:
        await engine.append([defined("c1")], AppendCondition(COURSE_C1, after=1))

    assert (failure.value.head, failure.value.conflicting_position) == (5, 3)


async def test_condition_without_items_fails_on_any_later_event(
    engine: EventStorageEngine,
) -> None:
    await engine.append([new_event("A"), new_event("B")])

    with pytest.raises(AppendConditionFailed) as failure:
        await engine.append([new_event("C")], AppendCondition(Query(), after=1))

    assert failure.value.conflicting_position == 2


async def test_condition_without_items_passes_after_the_head(engine: EventStorageEngine) -> None:
    await engine.append([new_event("A"), new_event("B")])

    result = await engine.append([new_event("C")], AppendCondition(Query(), after=2))

    assert result.positions == (3,)


async def test_condition_items_are_ored(engine: EventStorageEngine) -> None:
    await engine.append([new_event("B", tags=["t"])])
    where = query(item(types=["A"]), item(tags=["t"]))

    with pytest.raises(AppendConditionFailed):
        await engine.append([new_event("A")], AppendCondition(where))


async def test_condition_tags_are_anded(engine: EventStorageEngine) -> None:
    await engine.append([new_event("S", tags=["student:s1"]), new_event("S", tags=["course:c1"])])
    where = query(item(tags=["student:s1", "course:c1"]))

    result = await engine.append([new_event("S")], AppendCondition(where))

    assert result.positions == (3,)


async def test_marker_of_a_read_makes_a_condition_that_passes(engine: EventStorageEngine) -> None:
    await engine.append([defined("c1")])
    marker = (await read(engine, COURSE_C1)).marker

    result = await engine.append(
        [new_event("CourseCapacityChanged", tags=["course:c1"])],
        AppendCondition(COURSE_C1, after=marker),
    )

    assert result.positions == (2,)


async def test_marker_condition_fails_after_a_matching_append(engine: EventStorageEngine) -> None:
    await engine.append([defined("c1")])
    marker = (await read(engine, COURSE_C1)).marker
    await engine.append([defined("c1")])

    with pytest.raises(AppendConditionFailed) as failure:
        await engine.append([defined("c1")], AppendCondition(COURSE_C1, after=marker))

    assert failure.value.conflicting_position == 2
