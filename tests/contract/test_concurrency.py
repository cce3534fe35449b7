"""Concurrent appends: the condition check is serial, positions have no gap."""

from __future__ import annotations

import anyio
import pytest

from app.domain import AppendCondition, AppendResult
from app.errors import AppendConditionFailed
from app.storage.protocol import EventStorageEngine
from tests.support.events import item, new_event, query, read, stored_positions

pytestmark = pytest.mark.anyio

WRITERS = 50


async def test_one_of_many_racing_decisions_on_one_boundary_wins(
    engine: EventStorageEngine,
) -> None:
    await engine.append([new_event("Unrelated"), new_event("CourseDefined", tags=["course:c1"])])
    seat = query(item(types=["StudentSubscribedToCourse"], tags=["course:c1"]))
    markers = [(await read(engine, seat)).marker for _ in range(WRITERS)]
    won: list[AppendResult] = []
    lost: list[AppendConditionFailed] = []

    async def subscribe(student: int, marker: int) -> None:
        event = new_event("StudentSubscribedToCourse", tags=[f"student:{student}", "course:c1"])
        try:
            won.append(await engine.append([event], AppendCondition(seat, after=marker)))
        except AppendConditionFailed as failure:
            lost.append(failure)

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tasks:
            for student, marker in enumerate(markers):
                tasks.start_soon(subscribe, student, marker)

    assert markers == [2] * WRITERS
    assert [result.positions for result in won] == [(3,)]
    assert len(lost) == WRITERS - 1
    assert {failure.conflicting_position for failure in lost} == {3}
    assert await stored_positions(engine, seat) == [3]


async def test_racing_decisions_on_unrelated_boundaries_all_succeed(
    engine: EventStorageEngine,
) -> None:
    results: list[AppendResult] = []

    async def define(course: int) -> None:
        boundary = query(item(tags=[f"course:{course}"]))
        marker = (await read(engine, boundary)).marker
        event = new_event("CourseDefined", tags=[f"course:{course}"])
        results.append(await engine.append([event], AppendCondition(boundary, after=marker)))

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tasks:
            for course in range(WRITERS):
                tasks.start_soon(define, course)

    assert sorted(p for result in results for p in result.positions) == list(range(1, WRITERS + 1))
    assert await engine.head() == WRITERS
    assert await stored_positions(engine) == list(range(1, WRITERS + 1))
