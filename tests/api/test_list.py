"""GET /v1/events: the same read with query parameters."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.api import assert_problem

pytestmark = pytest.mark.anyio


async def listed(client: httpx.AsyncClient, params: Any) -> dict[str, Any]:
    response = await client.get("/v1/events", params=params)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def positions(result: dict[str, Any]) -> list[int]:
    return [e["position"] for e in result["events"]]


async def test_without_parameters_every_event_is_listed(five: httpx.AsyncClient) -> None:
    result = await listed(five, {})

    assert positions(result) == [1, 2, 3, 4, 5]
    assert set(result) == {"events", "marker", "head", "has_more", "snapshot"}
    assert result["snapshot"] is None


async def test_repeated_type_parameters_are_alternatives(five: httpx.AsyncClient) -> None:
    assert positions(await listed(five, [("type", "A"), ("type", "C")])) == [1, 3, 5]


async def test_repeated_tag_parameters_are_all_required(five: httpx.AsyncClient) -> None:
    assert positions(await listed(five, [("tag", "k:2"), ("tag", "x:1")])) == [4]


async def test_types_and_tags_form_one_item(five: httpx.AsyncClient) -> None:
    assert positions(await listed(five, [("type", "B"), ("tag", "k:1")])) == [2]


async def test_after_before_limit_backwards(five: httpx.AsyncClient) -> None:
    result = await listed(five, {"after": "1", "before": "5", "limit": "2", "backwards": "true"})

    assert positions(result) == [4, 3]
    assert result["has_more"] is True
    assert result["marker"] == 4


async def test_limit_gives_has_more_and_marker(five: httpx.AsyncClient) -> None:
    result = await listed(five, {"limit": "2"})

    assert positions(result) == [1, 2]
    assert result["has_more"] is True
    assert result["marker"] == 2


async def test_unknown_parameter_is_refused_not_ignored(five: httpx.AsyncClient) -> None:
    response = await five.get("/v1/events", params={"tags": "k:1"})

    body = assert_problem(response, 422, "/problems/validation")
    assert body["errors"][0]["loc"] == ["query", "tags"]


async def test_non_integer_after_is_refused(five: httpx.AsyncClient) -> None:
    response = await five.get("/v1/events", params={"after": "one"})

    body = assert_problem(response, 422, "/problems/validation")
    assert body["errors"][0]["loc"] == ["query", "after"]


async def test_empty_type_parameter_is_refused(five: httpx.AsyncClient) -> None:
    response = await five.get("/v1/events", params={"type": ""})

    assert_problem(response, 422, "/problems/validation")
