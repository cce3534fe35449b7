"""413 payload-too-large for bodies over max_body_bytes and appends over max_events_per_append;
422 for queries over max_query_items / max_values_per_item."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from starlette.types import Message

from tests.support.api import (
    api_client,
    append,
    assert_problem,
    error_locs,
    event,
    make_settings,
    raw_append_scope,
    running_app,
)

pytestmark = pytest.mark.anyio

LIMIT = 2048
TOO_LARGE = "/problems/payload-too-large"


@pytest.fixture
async def small_client() -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(
        max_body_bytes=LIMIT, max_events_per_append=3, max_query_items=2, max_values_per_item=2
    )
    async with api_client(settings) as client:
        yield client


def append_body(size: int) -> bytes:
    """A valid append body of exactly ``size`` bytes."""
    empty = orjson.dumps({"events": [{"type": "A", "data": ""}]})
    padding = size - len(empty)
    return orjson.dumps({"events": [{"type": "A", "data": "x" * padding}]})


async def head(client: httpx.AsyncClient) -> int:
    value: int = (await client.get("/v1/head")).json()["head"]
    return value


async def test_body_at_the_limit_is_accepted(small_client: httpx.AsyncClient) -> None:
    body = append_body(LIMIT)
    assert len(body) == LIMIT

    response = await small_client.post(
        "/v1/events", content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == 201, response.text


async def test_content_length_over_the_limit_is_413(small_client: httpx.AsyncClient) -> None:
    response = await small_client.post(
        "/v1/events", content=append_body(LIMIT + 1), headers={"content-type": "application/json"}
    )

    assert_problem(response, 413, TOO_LARGE)
    assert await head(small_client) == 0


async def test_chunked_body_over_the_limit_is_413(small_client: httpx.AsyncClient) -> None:
    body = append_body(LIMIT * 3)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 512):
            yield body[start : start + 512]

    response = await small_client.post(
        "/v1/events", content=chunks(), headers={"content-type": "application/json"}
    )

    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_problem(response, 413, TOO_LARGE)
    assert await head(small_client) == 0


async def test_chunked_body_under_the_limit_is_accepted(small_client: httpx.AsyncClient) -> None:
    body = append_body(LIMIT - 100)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 256):
            yield body[start : start + 256]

    response = await small_client.post(
        "/v1/events", content=chunks(), headers={"content-type": "application/json"}
    )

    assert response.status_code == 201, response.text


async def test_declared_length_over_the_limit_is_refused_before_reading_the_body() -> None:
    """Called as raw ASGI: the app must answer 413 without ever calling ``receive``."""
    received: list[Message] = []
    sent: list[Message] = []

    async def receive() -> Message:
        message: Message = {"type": "http.request", "body": b"", "more_body": False}
        received.append(message)
        return message

    async def send(message: Message) -> None:
        sent.append(message)

    scope = raw_append_scope(LIMIT + 1)
    async with running_app(make_settings(max_body_bytes=LIMIT)) as app:
        await app(scope, receive, send)

    assert received == []
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 413


async def test_more_events_than_the_limit_is_413(small_client: httpx.AsyncClient) -> None:
    response = await append(small_client, *(event("A") for _ in range(4)))

    body = assert_problem(response, 413, TOO_LARGE)
    assert "3" in body["detail"]
    assert await head(small_client) == 0


async def test_events_up_to_the_limit_are_accepted(small_client: httpx.AsyncClient) -> None:
    response = await append(small_client, *(event("A") for _ in range(3)))

    assert response.status_code == 201


async def test_too_many_query_items_is_a_validation_problem(
    small_client: httpx.AsyncClient,
) -> None:
    items = [{"types": [f"T{i}"]} for i in range(3)]

    response = await small_client.post("/v1/events/query", json={"query": {"items": items}})

    body = assert_problem(response, 422, "/problems/validation")
    assert error_locs(body) == [["body", "query", "items"]]


async def test_too_many_tags_in_a_condition_item_is_a_validation_problem(
    small_client: httpx.AsyncClient,
) -> None:
    condition = {"fail_if_events_match": {"items": [{"tags": ["a", "b", "c"]}]}}

    response = await append(small_client, event("A"), condition=condition)

    body = assert_problem(response, 422, "/problems/validation")
    assert error_locs(body) == [["body", "condition", "fail_if_events_match", "items", 0, "tags"]]
    assert await head(small_client) == 0


async def test_too_many_type_parameters_is_a_validation_problem(
    small_client: httpx.AsyncClient,
) -> None:
    response = await small_client.get("/v1/events", params={"type": ["A", "B", "C"]})

    body = assert_problem(response, 422, "/problems/validation")
    assert error_locs(body) == [["query", "type"]]
