"""POST /v1/events: shapes, positions, conditions, idempotency."""

from __future__ import annotations

import httpx
import pytest

from tests.support.api import append, append_ok, assert_problem, event, new_id

pytestmark = pytest.mark.anyio


async def test_append_answers_201_with_positions_and_last_position(
    client: httpx.AsyncClient,
) -> None:
    response = await append(client, event("A"), event("B"))

    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"positions": [1, 2], "last_position": 2}


async def test_positions_continue_across_appends(client: httpx.AsyncClient) -> None:
    await append_ok(client, event("A"))

    assert await append_ok(client, event("B"), event("C")) == [2, 3]


async def test_appended_event_is_stored_as_sent(client: httpx.AsyncClient) -> None:
    event_id = new_id()
    sent = {
        "type": "CourseDefined",
        "data": {"courseId": "c1", "capacity": 10, "nested": [1, 2.5, None, True, "x"]},
        "tags": ["course:c1", "term:2026"],
        "metadata": {"user": "u1"},
        "id": event_id,
    }
    await append_ok(client, sent)

    stored = (await client.get("/v1/events")).json()["events"][0]
    assert stored["position"] == 1
    assert {k: stored[k] for k in sent} == sent
    assert stored["recorded_at"].endswith("Z")


async def test_event_defaults_are_null_data_no_tags_empty_metadata_and_a_new_id(
    client: httpx.AsyncClient,
) -> None:
    await append_ok(client, {"type": "Bare"})

    stored = (await client.get("/v1/events")).json()["events"][0]
    assert stored["data"] is None
    assert stored["tags"] == []
    assert stored["metadata"] == {}
    assert len(stored["id"]) == 36


async def test_duplicate_tags_are_dropped_keeping_the_first(client: httpx.AsyncClient) -> None:
    await append_ok(client, event("A", "b:1", "a:1", "b:1", "c:1", "a:1"))

    stored = (await client.get("/v1/events")).json()["events"][0]
    assert stored["tags"] == ["b:1", "a:1", "c:1"]


async def test_integers_beyond_64_bits_are_stored_exactly(client: httpx.AsyncClient) -> None:
    body = b'{"events": [{"type": "Big", "data": {"n": 123456789012345678901234567890}}]}'
    response = await client.post(
        "/v1/events", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 201, response.text

    raw = (await client.get("/v1/events")).content
    assert b'"n":123456789012345678901234567890' in raw


async def test_failed_condition_is_409_with_head_and_conflicting_position(
    client: httpx.AsyncClient,
) -> None:
    await append_ok(client, event("Other"), event("CourseDefined", "course:c1"), event("Other"))
    condition = {
        "fail_if_events_match": {"items": [{"types": ["CourseDefined"], "tags": ["course:c1"]}]},
        "after": 1,
    }

    response = await append(client, event("CourseDefined", "course:c1"), condition=condition)

    body = assert_problem(response, 409, "/problems/append-condition-failed")
    assert body["head"] == 3
    assert body["conflicting_position"] == 2
    assert (await client.get("/v1/head")).json() == {"head": 3}


async def test_condition_after_the_conflict_lets_the_append_through(
    client: httpx.AsyncClient,
) -> None:
    await append_ok(client, event("CourseDefined", "course:c1"))
    condition = {"fail_if_events_match": {"items": [{"tags": ["course:c1"]}]}, "after": 1}

    response = await append(client, event("CourseDefined", "course:c1"), condition=condition)

    assert response.status_code == 201, response.text


async def test_condition_with_null_after_fails_on_any_matching_event(
    client: httpx.AsyncClient,
) -> None:
    await append_ok(client, event("A", "k:1"))
    condition = {"fail_if_events_match": {"items": [{"tags": ["k:1"]}]}, "after": None}

    response = await append(client, event("A", "k:1"), condition=condition)

    assert_problem(response, 409, "/problems/append-condition-failed")


async def test_retry_of_an_append_is_200_with_replayed_header_and_same_positions(
    client: httpx.AsyncClient,
) -> None:
    events = [event("A", id=new_id()), event("B", id=new_id())]
    first = await append(client, *events)
    await append_ok(client, event("C"))

    retry = await append(client, *events)

    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    assert retry.status_code == 200
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()
    assert (await client.get("/v1/head")).json()["head"] == 3


async def test_retry_is_replayed_even_when_its_condition_now_fails(
    client: httpx.AsyncClient,
) -> None:
    sent = event("A", "k:1", id=new_id())
    condition = {"fail_if_events_match": {"items": [{"tags": ["k:1"]}]}}
    await append(client, sent, condition=condition)

    retry = await append(client, sent, condition=condition)

    assert retry.status_code == 200
    assert retry.headers["idempotent-replayed"] == "true"


async def test_stored_id_with_different_content_is_422_event_id_reused(
    client: httpx.AsyncClient,
) -> None:
    event_id = new_id()
    await append_ok(client, event("A", id=event_id))

    response = await append(client, event("B", id=event_id))

    assert_problem(response, 422, "/problems/event-id-reused")


async def test_only_some_ids_stored_is_422_event_id_reused(client: httpx.AsyncClient) -> None:
    stored = event("A", id=new_id())
    await append_ok(client, stored)

    response = await append(client, stored, event("B", id=new_id()))

    assert_problem(response, 422, "/problems/event-id-reused")
    assert (await client.get("/v1/head")).json()["head"] == 1


async def test_same_id_twice_in_one_request_is_a_validation_problem(
    client: httpx.AsyncClient,
) -> None:
    event_id = new_id()

    response = await append(client, event("A", id=event_id), event("B", id=event_id))

    body = assert_problem(response, 422, "/problems/validation")
    assert body["errors"][0]["loc"] == ["body", "events"]
    assert event_id in body["errors"][0]["msg"]
    assert (await client.get("/v1/head")).json()["head"] == 0
