"""The course-subscription example (shared/examples/course-subscriptions.md) written twice with
the client library, as a program using it would be: with the decision loop (``decide``), and
with the event-sourced repository (``EventSourcedRepository.decide``), whose states are
snapshotted after every event so that loads start from snapshots.

A command answers ``None`` when its events were appended, or the example's message when it was
refused (``Refused``, raised by the decision).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from eventstore_client import (
    AsyncEventStore,
    Event,
    EventSourcedRepository,
    EventStore,
    Query,
    SequencedEvent,
    StateModule,
    decide,
    decide_async,
    snapshot_policy,
)

DEFINED = "CourseDefined"
CHANGED = "CourseCapacityChanged"
SUBSCRIBED = "StudentSubscribedToCourse"
MAX_COURSES_PER_STUDENT = 5


class Refused(Exception):
    """The command is refused: the example's message."""


def course_defined(course: str, capacity: int) -> Event:
    return Event(DEFINED, {"courseId": course, "capacity": capacity}, [f"course:{course}"])


def capacity_changed(course: str, capacity: int) -> Event:
    return Event(CHANGED, {"courseId": course, "newCapacity": capacity}, [f"course:{course}"])


def subscribed(student: str, course: str) -> Event:
    return Event(
        SUBSCRIBED,
        {"studentId": student, "courseId": course},
        [f"student:{student}", f"course:{course}"],
    )


def course_query(course: str) -> Query:
    return Query.of(types=[DEFINED, CHANGED], tags=[f"course:{course}"])


def subscription_query(student: str, course: str) -> Query:
    return (
        course_query(course)
        | Query.of(types=[SUBSCRIBED], tags=[f"course:{course}"])
        | Query.of(types=[SUBSCRIBED], tags=[f"student:{student}"])
    )


@dataclass(frozen=True)
class Course:
    exists: bool = False
    capacity: int = 0


@dataclass(frozen=True)
class Subscription:
    """What the subscribe command decides on, for one student and one course."""

    course: Course = Course()
    course_students: frozenset[str] = frozenset()
    student_courses: frozenset[str] = frozenset()


def evolve_course(course: Course, event: SequencedEvent) -> Course:
    if event.type == DEFINED:
        return Course(True, int(event.data["capacity"]))
    if event.type == CHANGED:
        return replace(course, capacity=int(event.data["newCapacity"]))
    return course


def evolve_subscription(state: Subscription, event: SequencedEvent, course: str) -> Subscription:
    if event.type in (DEFINED, CHANGED):
        return replace(state, course=evolve_course(state.course, event))
    student, of_course = event.data["studentId"], event.data["courseId"]
    if of_course == course:
        state = replace(state, course_students=state.course_students | {student})
    return replace(state, student_courses=state.student_courses | {of_course})


def fold_course(events: Sequence[SequencedEvent]) -> Course:
    course = Course()
    for event in events:
        course = evolve_course(course, event)
    return course


def define_decision(course: str, capacity: int) -> Any:
    def decision(state: Course) -> list[Event]:
        if state.exists:
            raise Refused(f'Course with id "{course}" already exists')
        return [course_defined(course, capacity)]

    return decision


def change_decision(course: str, capacity: int) -> Any:
    def decision(state: Course) -> list[Event]:
        if not state.exists:
            raise Refused(f'Course "{course}" does not exist')
        return [capacity_changed(course, capacity)]

    return decision


def subscribe_decision(student: str, course: str) -> Any:
    def decision(state: Subscription) -> list[Event]:
        if not state.course.exists:
            raise Refused(f'Course "{course}" does not exist')
        if student in state.course_students:
            raise Refused("Student already subscribed to this course")
        if len(state.course_students) >= state.course.capacity:
            raise Refused(f'Course "{course}" is already fully booked')
        if len(state.student_courses) >= MAX_COURSES_PER_STUDENT:
            raise Refused(f"Student already subscribed to {MAX_COURSES_PER_STUDENT} courses")
        return [subscribed(student, course)]

    return decision


def _outcome(run: Any) -> str | None:
    try:
        run()
    except Refused as refused:
        return str(refused)
    return None


class CoursesWithDecide:
    """The commands through ``decide``: a query, a fold and a decision each."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.attempts: list[int] = []

    def define(self, course: str, capacity: int) -> str | None:
        return _outcome(
            lambda: decide(
                self.store, course_query(course), fold_course, define_decision(course, capacity)
            )
        )

    def change_capacity(self, course: str, capacity: int) -> str | None:
        return _outcome(
            lambda: decide(
                self.store, course_query(course), fold_course, change_decision(course, capacity)
            )
        )

    def subscribe(self, student: str, course: str) -> str | None:
        def fold(events: Sequence[SequencedEvent]) -> Subscription:
            state = Subscription()
            for event in events:
                state = evolve_subscription(state, event, course)
            return state

        def run() -> None:
            decided = decide(
                self.store,
                subscription_query(student, course),
                fold,
                subscribe_decision(student, course),
            )
            self.attempts.append(decided.attempts)

        return _outcome(run)


async def subscribe_async(store: AsyncEventStore, student: str, course: str) -> str | None:
    """The subscribe command through ``decide_async``."""

    def fold(events: Sequence[SequencedEvent]) -> Subscription:
        state = Subscription()
        for event in events:
            state = evolve_subscription(state, event, course)
        return state

    try:
        await decide_async(
            store, subscription_query(student, course), fold, subscribe_decision(student, course)
        )
    except Refused as refused:
        return str(refused)
    return None


COURSE_MODULE: StateModule[str, Course] = StateModule(
    name="course",
    criteria=course_query,
    create=lambda course: Course(),
    evolvers={DEFINED: evolve_course, CHANGED: evolve_course},
    to_snapshot=lambda course: {"exists": course.exists, "capacity": course.capacity},
    from_snapshot=lambda state: Course(bool(state["exists"]), int(state["capacity"])),
)


def _subscription_to_json(state: Subscription) -> dict[str, Any]:
    return {
        "exists": state.course.exists,
        "capacity": state.course.capacity,
        "course_students": sorted(state.course_students),
        "student_courses": sorted(state.student_courses),
    }


def _subscription_from_json(state: dict[str, Any]) -> Subscription:
    return Subscription(
        Course(bool(state["exists"]), int(state["capacity"])),
        frozenset(state["course_students"]),
        frozenset(state["student_courses"]),
    )


def subscription_module(course: str) -> StateModule[tuple[str, str], Subscription]:
    """The subscribe command's state for (student, course)."""
    return StateModule(
        name="subscription",
        criteria=lambda ids: subscription_query(*ids),
        create=lambda ids: Subscription(),
        evolvers={
            kind: lambda state, event: evolve_subscription(state, event, course)
            for kind in (DEFINED, CHANGED, SUBSCRIBED)
        },
        key=lambda ids: f"{ids[0]}@{ids[1]}",
        to_snapshot=_subscription_to_json,
        from_snapshot=_subscription_from_json,
    )


class CoursesWithRepository:
    """The commands through ``EventSourcedRepository.decide``, snapshotting every load that
    folded an event."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.courses = EventSourcedRepository(
            COURSE_MODULE, store, snapshot_policy=snapshot_policy.every(1)
        )
        self.attempts: list[int] = []

    def define(self, course: str, capacity: int) -> str | None:
        return _outcome(lambda: self.courses.decide(course, define_decision(course, capacity)))

    def change_capacity(self, course: str, capacity: int) -> str | None:
        return _outcome(lambda: self.courses.decide(course, change_decision(course, capacity)))

    def subscribe(self, student: str, course: str) -> str | None:
        repository = EventSourcedRepository(
            subscription_module(course), self.store, snapshot_policy=snapshot_policy.every(1)
        )

        def run() -> None:
            try:
                decided = repository.decide((student, course), subscribe_decision(student, course))
                self.attempts.append(decided.attempts)
            finally:
                repository.wait_for_snapshots()
                repository.close()

        return _outcome(run)

    def close(self) -> None:
        self.courses.wait_for_snapshots()
        self.courses.close()
