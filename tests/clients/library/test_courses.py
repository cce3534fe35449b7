"""The course-subscription example through the client library, against real service processes on
memory, SQLite and PostgreSQL: every row of the example's table, written with the decision loop
and with the repository, and the race for the last seat: N clients, each with its own store
(its own connections), decide at once; exactly one is subscribed, every other is told the
course is fully booked, and subscriptions to other courses meanwhile succeed at the first
attempt, since their conditions do not overlap.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import pytest

from eventstore_client import AsyncEventStore, Event, EventStore, Query
from tests.clients.library.courses import (
    CHANGED,
    DEFINED,
    SUBSCRIBED,
    CoursesWithDecide,
    CoursesWithRepository,
    capacity_changed,
    course_defined,
    subscribe_async,
    subscribed,
)

Courses = CoursesWithDecide | CoursesWithRepository
RACERS = 8


@pytest.fixture(params=["decide", "repository"])
def courses(request: pytest.FixtureRequest, store: EventStore) -> Iterator[Courses]:
    if request.param == "decide":
        yield CoursesWithDecide(store)
        return
    with_repository = CoursesWithRepository(store)
    yield with_repository
    with_repository.close()


Row = tuple[
    str,
    Callable[[str], list[Event]],
    Callable[[Courses, str], str | None],
    Callable[[str], str | None],
    Callable[[str], list[tuple[str, dict[str, Any]]]],
]
"""(name, given events, the command, the outcome expected, the events it appends)."""

ROWS: list[Row] = [
    (
        "define an existing course",
        lambda u: [course_defined(f"{u}c1", 10)],
        lambda courses, u: courses.define(f"{u}c1", 15),
        lambda u: f'Course with id "{u}c1" already exists',
        lambda u: [],
    ),
    (
        "define a new course",
        lambda u: [],
        lambda courses, u: courses.define(f"{u}c1", 15),
        lambda u: None,
        lambda u: [(DEFINED, {"courseId": f"{u}c1", "capacity": 15})],
    ),
    (
        "change the capacity of a course that does not exist",
        lambda u: [],
        lambda courses, u: courses.change_capacity(f"{u}c0", 15),
        lambda u: f'Course "{u}c0" does not exist',
        lambda u: [],
    ),
    (
        "change the capacity of a course",
        lambda u: [course_defined(f"{u}c1", 12)],
        lambda courses, u: courses.change_capacity(f"{u}c1", 15),
        lambda u: None,
        lambda u: [(CHANGED, {"courseId": f"{u}c1", "newCapacity": 15})],
    ),
    (
        "subscribe to a full course",
        lambda u: [course_defined(f"{u}c1", 3)] + [subscribed(f"{u}s{i}", f"{u}c1") for i in "123"],
        lambda courses, u: courses.subscribe(f"{u}s4", f"{u}c1"),
        lambda u: f'Course "{u}c1" is already fully booked',
        lambda u: [],
    ),
    (
        "subscribe twice",
        lambda u: [course_defined(f"{u}c1", 10), subscribed(f"{u}s1", f"{u}c1")],
        lambda courses, u: courses.subscribe(f"{u}s1", f"{u}c1"),
        lambda u: "Student already subscribed to this course",
        lambda u: [],
    ),
    (
        "subscribe to a sixth course",
        lambda u: (
            [course_defined(f"{u}c6", 10)] + [subscribed(f"{u}s1", f"{u}c{i}") for i in "12345"]
        ),
        lambda courses, u: courses.subscribe(f"{u}s1", f"{u}c6"),
        lambda u: "Student already subscribed to 5 courses",
        lambda u: [],
    ),
    (
        "subscribe",
        lambda u: [course_defined(f"{u}c1", 10)],
        lambda courses, u: courses.subscribe(f"{u}s1", f"{u}c1"),
        lambda u: None,
        lambda u: [(SUBSCRIBED, {"studentId": f"{u}s1", "courseId": f"{u}c1"})],
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[row[0] for row in ROWS])
def test_every_row_of_the_example(
    row: Row, courses: Courses, store: EventStore, unique: str
) -> None:
    _, given, command, expected, appended = row
    u = f"{unique}-"
    for event in given(u):
        store.append(event)
    head = store.head()

    outcome = command(courses, u)

    assert outcome == expected(u)
    new = store.source(after=head).events
    assert [(event.type, event.data) for event in new] == appended(u)


def test_racing_for_the_last_seat(
    base_url: str, courses: Courses, store: EventStore, unique: str
) -> None:
    """N clients decide at once for the last seat: one wins, the others are told it is full;
    students subscribing to other courses meanwhile are never refused or retried."""
    course = f"{unique}-race"
    others = [f"{unique}-other{i}" for i in range(4)]
    store.append(course_defined(course, 3))
    store.append([subscribed(f"{unique}-s1", course), subscribed(f"{unique}-s2", course)])
    for other in others:
        store.append(course_defined(other, 10))
    start = threading.Barrier(RACERS + len(others))

    def race(student: str, for_course: str) -> tuple[str | None, list[int]]:
        with EventStore(base_url) as own:
            mine = type(courses)(own)
            start.wait(timeout=30)
            try:
                return mine.subscribe(student, for_course), mine.attempts
            finally:
                if isinstance(mine, CoursesWithRepository):
                    mine.close()

    with ThreadPoolExecutor(RACERS + len(others)) as pool:
        racing = [pool.submit(race, f"{unique}-r{i}", course) for i in range(RACERS)]
        bystanders = [pool.submit(race, f"{unique}-b{i}", other) for i, other in enumerate(others)]
        outcomes = [future.result(timeout=60)[0] for future in racing]
        unrelated = [future.result(timeout=60) for future in bystanders]

    assert outcomes.count(None) == 1, outcomes
    assert sorted(o for o in outcomes if o is not None) == [
        f'Course "{course}" is already fully booked'
    ] * (RACERS - 1)
    assert unrelated == [(None, [1])] * len(others)
    seats = store.source(Query.of(types=[SUBSCRIBED], tags=[f"course:{course}"])).events
    assert len(seats) == 3


@pytest.mark.anyio
async def test_racing_with_the_async_store(base_url: str, store: EventStore, unique: str) -> None:
    """The same race through ``AsyncEventStore`` and ``decide_async``, one store per client."""
    course = f"{unique}-async"
    store.append([course_defined(course, 1)])
    outcomes: list[str | None] = []

    async def race(student: str) -> None:
        async with AsyncEventStore(base_url) as own:
            outcomes.append(await subscribe_async(own, student, course))

    with anyio.fail_after(60):
        async with anyio.create_task_group() as group:
            for i in range(RACERS):
                group.start_soon(race, f"{unique}-a{i}")

    assert outcomes.count(None) == 1, outcomes
    assert outcomes.count(f'Course "{course}" is already fully booked') == RACERS - 1


def test_the_repository_loads_from_its_snapshots(store: EventStore, unique: str) -> None:
    """After a command, the course's state is snapshotted; the next load starts from it and
    folds only what came after."""
    courses = CoursesWithRepository(store)
    course = f"{unique}-snap"
    assert courses.define(course, 10) is None
    store.append(capacity_changed(course, 11))
    first = courses.courses.load(course)
    courses.courses.wait_for_snapshots()
    stored = store.get_snapshot("course", course)
    store.append(capacity_changed(course, 12))
    second = courses.courses.load(course)
    courses.close()

    assert first.snapshot_position is None
    assert first.events_applied == 2
    assert stored is not None
    assert stored.state == {"exists": True, "capacity": 11}
    assert second.snapshot_position == stored.position
    assert second.events_applied == 1
    assert second.state.capacity == 12
