"""POST /v1/events/query: query semantics, paging, marker, direction, bounds."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.api import api_client, append_ok, event, make_settings

pytestmark = pytest.mark.anyio


async def read(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/v1/events/query", json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    result: dict[str, Any] = response.json()
    return result


def positions(result: dict[str, Any]) -> list[int]:
    return [e["position"] for e in result["events"]]


async def test_empty_store_reads_nothing_with_head_and_marker_zero(
    client: httpx.AsyncClient,
) -> None:
    assert await read(client) == {
        "events": [],
        "marker": 0,
        "head": 0,
        "has_more": False,
        "snapshot": None,
    }


async def test_empty_body_reads_every_event(five: httpx.AsyncClient) -> None:
    response = await five.post("/v1/events/query")

    assert response.status_code == 200
    assert positions(response.json()) == [1, 2, 3, 4, 5]


async def test_event_shape(five: httpx.AsyncClient) -> None:
    stored = (await read(five, limit=1))["events"][0]

    assert set(stored) == {"position", "id", "type", "data", "tags", "metadata", "recorded_at"}
    assert stored["recorded_at"][-1] == "Z"
    assert len(stored["recorded_at"]) == len("2026-01-01T00:00:00.123456Z")


async def test_types_of_an_item_are_alternatives(five: httpx.AsyncClient) -> None:
    result = await read(five, query={"items": [{"types": ["A", "C"]}]})

    assert positions(result) == [1, 3, 5]


async def test_tags_of_an_item_are_all_required(five: httpx.AsyncClient) -> None:
    result = await read(five, query={"items": [{"tags": ["k:2", "x:1"]}]})

    assert positions(result) == [4]


async def test_items_of_a_query_are_alternatives(five: httpx.AsyncClient) -> None:
    items = [{"types": ["A"], "tags": ["k:1"]}, {"types": ["B"], "tags": ["k:2"]}]

    assert positions(await read(five, query={"items": items})) == [1, 4]


async def test_no_items_match_every_event(five: httpx.AsyncClient) -> None:
    assert positions(await read(five, query={"items": []})) == [1, 2, 3, 4, 5]


async def test_null_query_matches_every_event(five: httpx.AsyncClient) -> None:
    assert positions(await read(five, query=None)) == [1, 2, 3, 4, 5]


async def test_limit_cuts_a_forward_read_with_has_more_and_marker_at_last_event(
    five: httpx.AsyncClient,
) -> None:
    result = await read(five, limit=2)

    assert positions(result) == [1, 2]
    assert result["has_more"] is True
    assert result["marker"] == 2
    assert result["head"] == 5


async def test_paging_on_with_after_marker_reads_the_rest(five: httpx.AsyncClient) -> None:
    first = await read(five, limit=3)

    rest = await read(five, after=first["marker"], limit=3)

    assert positions(rest) == [4, 5]
    assert rest["has_more"] is False
    assert rest["marker"] == 5


async def test_read_to_the_end_has_marker_at_head(five: httpx.AsyncClient) -> None:
    result = await read(five, query={"items": [{"types": ["A"]}]})

    assert positions(result) == [1, 3]
    assert result["has_more"] is False
    assert result["marker"] == 5


async def test_backwards_reads_newest_first(five: httpx.AsyncClient) -> None:
    result = await read(five, backwards=True, limit=2)

    assert positions(result) == [5, 4]
    assert result["has_more"] is True
    assert result["marker"] == 5


async def test_before_bounds_the_read_and_the_marker(five: httpx.AsyncClient) -> None:
    result = await read(five, after=1, before=4)

    assert positions(result) == [2, 3]
    assert result["marker"] == 3
    assert result["head"] == 5


async def test_limit_above_the_maximum_is_clamped() -> None:
    async with api_client(make_settings(max_read_limit=2)) as client:
        await append_ok(client, event("A"), event("A"), event("A"))

        result = await read(client, limit=100)

    assert positions(result) == [1, 2]
    assert result["has_more"] is True


async def test_absent_limit_is_the_maximum() -> None:
    async with api_client(make_settings(max_read_limit=2)) as client:
        await append_ok(client, event("A"), event("A"), event("A"))

        result = await read(client)

    assert positions(result) == [1, 2]
    assert result["has_more"] is True
    assert result["marker"] == 2


async def test_zero_limit_reads_no_events_and_says_whether_any_match(
    five: httpx.AsyncClient,
) -> None:
    """What a client that only wants to know the head, or whether anything matches, sends."""
    body = await read(five, query={"items": [{"types": ["B"]}]}, after=1, limit=0)
    listed = (await five.get("/v1/events", params={"type": "C", "after": "5", "limit": "0"})).json()

    assert (body["events"], body["has_more"], body["marker"], body["head"]) == ([], True, 1, 5)
    assert (listed["events"], listed["has_more"], listed["marker"]) == ([], False, 5)


async def test_payloads_come_back_byte_for_byte_as_json_values(client: httpx.AsyncClient) -> None:
    data = {"text": "é\u2028\U0001f600", "zero": 0, "neg": -1.5, "list": [[], {}], "nul": "a\x00b"}
    await append_ok(client, event("A", data=data, metadata={"m": [1, {"n": None}]}))

    stored = (await read(client))["events"][0]

    assert stored["data"] == data
    assert stored["metadata"] == {"m": [1, {"n": None}]}
