"""Discovery over HTTP: ``GET /v1/event-types``, ``GET /v1/tags``, ``GET /v1/stats``."""

from __future__ import annotations

import httpx
import pytest

from tests.support.api import api_client, append_ok, assert_problem, event, make_settings

pytestmark = pytest.mark.anyio


async def test_event_types_list_each_type_with_its_count_and_positions(
    five: httpx.AsyncClient,
) -> None:
    body = (await five.get("/v1/event-types")).json()

    assert body == {
        "event_types": [
            {"type": "A", "count": 2, "first_position": 1, "last_position": 3, "has_schema": False},
            {"type": "B", "count": 2, "first_position": 2, "last_position": 4, "has_schema": False},
            {"type": "C", "count": 1, "first_position": 5, "last_position": 5, "has_schema": False},
        ]
    }


async def test_tags_by_prefix_and_type_with_their_counts(five: httpx.AsyncClient) -> None:
    every = (await five.get("/v1/tags")).json()
    of_b = (await five.get("/v1/tags", params={"type": "B", "prefix": "k:"})).json()

    assert every == {
        "tags": [
            {"tag": "k:1", "count": 2},
            {"tag": "k:2", "count": 2},
            {"tag": "x:1", "count": 1},
        ],
        "has_more": False,
    }
    assert of_b == {
        "tags": [{"tag": "k:1", "count": 1}, {"tag": "k:2", "count": 1}],
        "has_more": False,
    }


async def test_tags_page_on_with_after_and_limit_is_clamped() -> None:
    async with api_client(make_settings(max_read_limit=2)) as client:
        await append_ok(client, *(event("A", f"t:{n}") for n in range(5)))

        first = (await client.get("/v1/tags", params={"limit": 100})).json()
        after = first["tags"][-1]["tag"]
        second = (await client.get("/v1/tags", params={"after": after, "limit": 2})).json()
        last = (await client.get("/v1/tags", params={"after": "t:3"})).json()

    assert ([t["tag"] for t in first["tags"]], first["has_more"]) == (["t:0", "t:1"], True)
    assert ([t["tag"] for t in second["tags"]], second["has_more"]) == (["t:2", "t:3"], True)
    assert ([t["tag"] for t in last["tags"]], last["has_more"]) == (["t:4"], False)


@pytest.mark.parametrize(
    "params",
    [{"limit": "0"}, {"prefix": "x" * 257}, {"after": ""}, {"type": ""}, {"tag": "k:1"}],
    ids=["zero-limit", "long-prefix", "empty-after", "empty-type", "unknown-parameter"],
)
async def test_bad_tag_parameters_are_refused(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    assert_problem(await client.get("/v1/tags", params=params), 422, "/problems/validation")


async def test_stats_give_the_count_the_head_and_the_times(five: httpx.AsyncClient) -> None:
    events = (await five.post("/v1/events/query", json={})).json()["events"]

    stats = (await five.get("/v1/stats")).json()

    assert stats == {
        "events": 5,
        "head": 5,
        "first_recorded_at": events[0]["recorded_at"],
        "last_recorded_at": events[-1]["recorded_at"],
        "database_bytes": None,  # the in-memory store cannot tell
    }


async def test_stats_of_an_empty_store(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/stats")).json() == {
        "events": 0,
        "head": 0,
        "first_recorded_at": None,
        "last_recorded_at": None,
        "database_bytes": None,
    }
