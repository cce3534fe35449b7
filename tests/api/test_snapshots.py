"""/v1/snapshots/{name}/{key}, and reads that start from a snapshot."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.api import api_client, append_ok, assert_problem, event, make_settings

pytestmark = pytest.mark.anyio

URL = "/v1/snapshots/course/c1"


async def put(client: httpx.AsyncClient, url: str = URL, **body: Any) -> httpx.Response:
    return await client.put(url, json=body)


async def test_put_answers_200_with_the_stored_snapshot(client: httpx.AsyncClient) -> None:
    await append_ok(client, event("A"), event("A"))

    response = await put(client, position=2, state={"count": 2}, metadata={"v": 1})

    assert response.status_code == 200, response.text
    body = response.json()
    assert {k: v for k, v in body.items() if k != "stored_at"} == {
        "name": "course",
        "key": "c1",
        "position": 2,
        "state": {"count": 2},
        "metadata": {"v": 1},
    }
    assert body["stored_at"].endswith("Z")


async def test_get_returns_what_was_put(client: httpx.AsyncClient) -> None:
    await append_ok(client, event("A"))
    stored = (await put(client, position=1, state=[1, "two", None])).json()

    response = await client.get(URL)

    assert response.status_code == 200
    assert response.json() == stored
    assert stored["metadata"] == {}


async def test_get_of_a_missing_snapshot_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(URL), 404, "/problems/not-found")


async def test_delete_answers_204_and_removes_it(client: httpx.AsyncClient) -> None:
    await put(client, position=0, state=None)

    response = await client.delete(URL)

    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(URL)).status_code == 404


async def test_delete_of_a_missing_snapshot_is_204(client: httpx.AsyncClient) -> None:
    assert (await client.delete(URL)).status_code == 204


async def test_an_older_snapshot_does_not_replace_a_newer_one(client: httpx.AsyncClient) -> None:
    await append_ok(client, event("A"), event("A"), event("A"))
    await put(client, position=3, state="newer")

    response = await put(client, position=1, state="older")

    assert response.status_code == 200
    assert response.json()["state"] == "newer"
    assert (await client.get(URL)).json()["position"] == 3


async def test_position_beyond_the_head_is_a_validation_problem(
    client: httpx.AsyncClient,
) -> None:
    await append_ok(client, event("A"))

    response = await put(client, position=2, state=None)

    body = assert_problem(response, 422, "/problems/validation")
    assert body["errors"][0]["loc"] == ["body", "position"]
    assert (await client.get(URL)).status_code == 404


async def test_missing_state_is_a_validation_problem(client: httpx.AsyncClient) -> None:
    body = assert_problem(await put(client, position=0), 422, "/problems/validation")
    assert ["body", "state"] in [error["loc"] for error in body["errors"]]


async def test_name_over_255_characters_is_refused(client: httpx.AsyncClient) -> None:
    response = await put(client, f"/v1/snapshots/{'n' * 256}/k", position=0, state=None)

    body = assert_problem(response, 422, "/problems/validation")
    assert body["errors"][0]["loc"] == ["path", "name"]


async def test_snapshots_are_kept_per_name_and_key(client: httpx.AsyncClient) -> None:
    await put(client, "/v1/snapshots/course/c1", position=0, state=1)
    await put(client, "/v1/snapshots/course/c2", position=0, state=2)
    await put(client, "/v1/snapshots/student/c1", position=0, state=3)

    assert (await client.get("/v1/snapshots/course/c2")).json()["state"] == 2
    assert (await client.get("/v1/snapshots/student/c1")).json()["state"] == 3


async def read_from_snapshot(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post(
        "/v1/events/query", json={"snapshot": {"name": "course", "key": "c1"}, **body}
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_read_with_a_snapshot_returns_it_and_only_later_events(
    client: httpx.AsyncClient,
) -> None:
    await append_ok(client, event("A", "c:1"), event("A", "c:1"), event("A", "c:1"))
    await put(client, position=2, state={"count": 2})

    result = await read_from_snapshot(client, query={"items": [{"tags": ["c:1"]}]})

    assert [e["position"] for e in result["events"]] == [3]
    assert result["snapshot"]["state"] == {"count": 2}
    assert result["snapshot"]["position"] == 2
    assert result["snapshot_due"] is False
    assert result["marker"] == 3


async def test_read_after_beyond_the_snapshot_keeps_after(client: httpx.AsyncClient) -> None:
    await append_ok(client, event("A"), event("A"), event("A"))
    await put(client, position=1, state=None)

    result = await read_from_snapshot(client, after=2)

    assert [e["position"] for e in result["events"]] == [3]


async def test_read_with_a_missing_snapshot_reads_everything_with_null_snapshot(
    client: httpx.AsyncClient,
) -> None:
    await append_ok(client, event("A"), event("A"))

    result = await read_from_snapshot(client)

    assert [e["position"] for e in result["events"]] == [1, 2]
    assert result["snapshot"] is None
    assert result["snapshot_due"] is False


async def test_snapshot_is_due_when_the_events_read_reach_the_threshold() -> None:
    async with api_client(make_settings(snapshot_after_events=3)) as client:
        await append_ok(client, *(event("A") for _ in range(4)))
        await put(client, position=1, state=None)
        due = await read_from_snapshot(client)
        await put(client, position=2, state=None)
        not_due = await read_from_snapshot(client)

    assert len(due["events"]) == 3
    assert due["snapshot_due"] is True
    assert len(not_due["events"]) == 2
    assert not_due["snapshot_due"] is False


async def test_read_without_a_snapshot_has_no_snapshot_due(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/events/query", json={})

    assert "snapshot_due" not in response.json()
