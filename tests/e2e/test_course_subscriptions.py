"""The course-subscription example of dcb.events, end to end over HTTP.

A command reads the union of its decision models' query items, folds the events into a decision,
and appends with the same query and the read's marker as its condition.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.anyio

MAX_COURSES_PER_STUDENT = 5


class Refused(Exception):
    """The command's decision: the business rule says no."""


@dataclass
class Decision:
    """What one read saw: the folded models, and the query and marker to append with."""

    query: dict[str, Any]
    marker: int
    exists: bool = False
    capacity: int = 0
    course_subscriptions: int = 0
    student_subscriptions: int = 0
    already_subscribed: bool = False
    seen: list[dict[str, Any]] = field(default_factory=list)


def item(types: list[str], *tags: str) -> dict[str, Any]:
    return {"types": types, "tags": list(tags)}


async def decide(client: httpx.AsyncClient, items: list[dict[str, Any]]) -> Decision:
    query = {"items": items}
    response = await client.post("/v1/events/query", json={"query": query})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["has_more"] is False
    return Decision(query=query, marker=body["marker"], seen=body["events"])


async def append(
    client: httpx.AsyncClient, decision: Decision, event: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        "/v1/events",
        json={
            "events": [event],
            "condition": {"fail_if_events_match": decision.query, "after": decision.marker},
        },
    )


def fold_course(decision: Decision, course: str) -> None:
    for event in decision.seen:
        data = event["data"]
        if event["type"] == "CourseDefined" and data["courseId"] == course:
            decision.exists = True
            decision.capacity = data["capacity"]
        elif event["type"] == "CourseCapacityChanged" and data["courseId"] == course:
            decision.capacity = data["newCapacity"]


async def define_course(client: httpx.AsyncClient, course: str, capacity: int) -> httpx.Response:
    decision = await decide(client, [item(["CourseDefined"], f"course:{course}")])
    fold_course(decision, course)
    if decision.exists:
        raise Refused(f'Course with id "{course}" already exists')
    return await append(
        client,
        decision,
        {
            "type": "CourseDefined",
            "data": {"courseId": course, "capacity": capacity},
            "tags": [f"course:{course}"],
        },
    )


async def change_capacity(client: httpx.AsyncClient, course: str, capacity: int) -> httpx.Response:
    decision = await decide(
        client, [item(["CourseDefined", "CourseCapacityChanged"], f"course:{course}")]
    )
    fold_course(decision, course)
    if not decision.exists:
        raise Refused(f'Course "{course}" does not exist')
    return await append(
        client,
        decision,
        {
            "type": "CourseCapacityChanged",
            "data": {"courseId": course, "newCapacity": capacity},
            "tags": [f"course:{course}"],
        },
    )


async def decide_subscription(
    client: httpx.AsyncClient, student: str, course: str
) -> tuple[Decision, dict[str, Any]]:
    """Read and decide; the decision and the event to append, or Refused."""
    decision = await decide(
        client,
        [
            item(["CourseDefined", "CourseCapacityChanged"], f"course:{course}"),
            item(["StudentSubscribedToCourse"], f"course:{course}"),
            item(["StudentSubscribedToCourse"], f"student:{student}"),
        ],
    )
    fold_course(decision, course)
    for event in decision.seen:
        if event["type"] != "StudentSubscribedToCourse":
            continue
        data = event["data"]
        if data["courseId"] == course:
            decision.course_subscriptions += 1
        if data["studentId"] == student:
            decision.student_subscriptions += 1
            decision.already_subscribed |= data["courseId"] == course
    if not decision.exists:
        raise Refused(f'Course "{course}" does not exist')
    if decision.already_subscribed:
        raise Refused("Student already subscribed to this course")
    if decision.course_subscriptions >= decision.capacity:
        raise Refused(f'Course "{course}" is already fully booked')
    if decision.student_subscriptions >= MAX_COURSES_PER_STUDENT:
        raise Refused(f"Student already subscribed to {MAX_COURSES_PER_STUDENT} courses")
    return decision, subscribed(student, course)


async def subscribe(client: httpx.AsyncClient, student: str, course: str) -> httpx.Response:
    decision, event = await decide_subscription(client, student, course)
    return await append(client, decision, event)


async def given(client: httpx.AsyncClient, *events: dict[str, Any]) -> None:
    response = await client.post("/v1/events", json={"events": list(events)})
    assert response.status_code == 201, response.text


def defined(course: str, capacity: int = 10) -> dict[str, Any]:
    return {
        "type": "CourseDefined",
        "data": {"courseId": course, "capacity": capacity},
        "tags": [f"course:{course}"],
    }


def subscribed(student: str, course: str) -> dict[str, Any]:
    return {
        "type": "StudentSubscribedToCourse",
        "data": {"studentId": student, "courseId": course},
        "tags": [f"student:{student}", f"course:{course}"],
    }


async def events_of_type(client: httpx.AsyncClient, event_type: str) -> list[dict[str, Any]]:
    response = await client.get("/v1/events", params={"type": event_type})
    events: list[dict[str, Any]] = response.json()["events"]
    return events


async def test_define_an_existing_course_is_refused(client: httpx.AsyncClient) -> None:
    await given(client, defined("c1"))
    with pytest.raises(Refused, match='Course with id "c1" already exists'):
        await define_course(client, "c1", 15)


async def test_define_a_new_course(client: httpx.AsyncClient) -> None:
    response = await define_course(client, "c1", 15)
    assert response.status_code == 201
    [event] = await events_of_type(client, "CourseDefined")
    assert event["data"] == {"courseId": "c1", "capacity": 15}
    assert event["tags"] == ["course:c1"]


async def test_change_capacity_of_a_missing_course_is_refused(client: httpx.AsyncClient) -> None:
    with pytest.raises(Refused, match='Course "c0" does not exist'):
        await change_capacity(client, "c0", 15)


async def test_change_capacity(client: httpx.AsyncClient) -> None:
    await given(client, defined("c1", 12))
    assert (await change_capacity(client, "c1", 15)).status_code == 201
    [event] = await events_of_type(client, "CourseCapacityChanged")
    assert event["data"] == {"courseId": "c1", "newCapacity": 15}


async def test_subscribe_to_a_fully_booked_course_is_refused(client: httpx.AsyncClient) -> None:
    await given(
        client,
        defined("c1", 3),
        subscribed("s1", "c1"),
        subscribed("s2", "c1"),
        subscribed("s3", "c1"),
    )
    with pytest.raises(Refused, match='Course "c1" is already fully booked'):
        await subscribe(client, "s4", "c1")


async def test_subscribe_twice_is_refused(client: httpx.AsyncClient) -> None:
    await given(client, defined("c1"), subscribed("s1", "c1"))
    with pytest.raises(Refused, match="Student already subscribed to this course"):
        await subscribe(client, "s1", "c1")


async def test_subscribe_to_a_sixth_course_is_refused(client: httpx.AsyncClient) -> None:
    await given(
        client,
        defined("c6"),
        *(defined(f"c{n}") for n in range(1, 6)),
        *(subscribed("s1", f"c{n}") for n in range(1, 6)),
    )
    with pytest.raises(Refused, match="Student already subscribed to 5 courses"):
        await subscribe(client, "s1", "c6")


async def test_subscribe(client: httpx.AsyncClient) -> None:
    await given(client, defined("c1", 10))
    assert (await subscribe(client, "s1", "c1")).status_code == 201
    [event] = await events_of_type(client, "StudentSubscribedToCourse")
    assert event["data"] == {"studentId": "s1", "courseId": "c1"}
    assert sorted(event["tags"]) == ["course:c1", "student:s1"]


async def test_two_students_race_for_the_last_seat(client: httpx.AsyncClient) -> None:
    await given(client, defined("c1", 1), defined("c2", 5))
    # Both decide "free" on the same state before either appends.
    decisions = [
        await decide_subscription(client, "s1", "c1"),
        await decide_subscription(client, "s2", "c1"),
        await decide_subscription(client, "s3", "c2"),
    ]
    responses = await asyncio.gather(
        *(append(client, decision, event) for decision, event in decisions)
    )

    assert sorted(r.status_code for r in responses[:2]) == [201, 409]
    loser, conflict = (
        ("s1", responses[0]) if responses[0].status_code == 409 else ("s2", responses[1])
    )
    assert conflict.headers["content-type"].startswith("application/problem+json")
    assert conflict.json()["type"] == "/problems/append-condition-failed"
    # A seat on another course was never at stake.
    assert responses[2].status_code == 201
    # The loser re-reads, decides again, and is told the truth.
    with pytest.raises(Refused, match='Course "c1" is already fully booked'):
        await subscribe(client, loser, "c1")
    subscriptions = await events_of_type(client, "StudentSubscribedToCourse")
    assert sorted(e["data"]["courseId"] for e in subscriptions) == ["c1", "c2"]
