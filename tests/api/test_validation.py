"""Malformed requests: 422 /problems/validation with JSON-safe `errors`."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.api import append, assert_problem, error_locs, event

pytestmark = pytest.mark.anyio

VALIDATION = "/problems/validation"


async def assert_nothing_stored(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/head")).json() == {"head": 0}


async def test_missing_type_names_the_field(client: httpx.AsyncClient) -> None:
    response = await append(client, {"data": 1})

    body = assert_problem(response, 422, VALIDATION)
    assert ["body", "events", 0, "type"] in error_locs(body)
    assert all(set(error) == {"loc", "msg", "type"} for error in body["errors"])
    await assert_nothing_stored(client)


async def test_empty_type_is_refused(client: httpx.AsyncClient) -> None:
    body = assert_problem(await append(client, event("")), 422, VALIDATION)
    assert ["body", "events", 0, "type"] in error_locs(body)


async def test_type_of_255_characters_is_accepted(client: httpx.AsyncClient) -> None:
    assert (await append(client, event("T" * 255))).status_code == 201


async def test_type_over_255_characters_is_refused(client: httpx.AsyncClient) -> None:
    body = assert_problem(await append(client, event("T" * 256)), 422, VALIDATION)
    assert ["body", "events", 0, "type"] in error_locs(body)


async def test_tag_over_256_characters_is_refused(client: httpx.AsyncClient) -> None:
    body = assert_problem(await append(client, event("A", "t" * 257)), 422, VALIDATION)
    assert ["body", "events", 0, "tags", 0] in error_locs(body)


async def test_empty_tag_is_refused(client: httpx.AsyncClient) -> None:
    assert_problem(await append(client, event("A", "")), 422, VALIDATION)


@pytest.mark.parametrize(
    "bad_event",
    [{"type": "A\x00B"}, {"type": "A", "tags": ["k:\x00"]}],
    ids=["type", "tag"],
)
async def test_nul_character_in_type_or_tag_is_refused(
    client: httpx.AsyncClient, bad_event: dict[str, Any]
) -> None:
    assert_problem(await append(client, bad_event), 422, VALIDATION)
    await assert_nothing_stored(client)


async def test_empty_events_list_is_refused(client: httpx.AsyncClient) -> None:
    body = assert_problem(await append(client), 422, VALIDATION)
    assert ["body", "events"] in error_locs(body)


async def test_metadata_must_be_an_object(client: httpx.AsyncClient) -> None:
    body = assert_problem(await append(client, event("A", metadata=[1])), 422, VALIDATION)
    assert ["body", "events", 0, "metadata"] in error_locs(body)


async def test_id_must_be_a_uuid(client: httpx.AsyncClient) -> None:
    body = assert_problem(await append(client, event("A", id="not-a-uuid")), 422, VALIDATION)
    assert ["body", "events", 0, "id"] in error_locs(body)


async def test_misspelled_condition_is_refused_not_ignored(client: httpx.AsyncClient) -> None:
    response = await append(client, event("A"), conditon={"fail_if_events_match": {"items": []}})

    body = assert_problem(response, 422, VALIDATION)
    assert ["body", "conditon"] in error_locs(body)
    assert body["errors"][0]["type"] == "extra_forbidden"
    await assert_nothing_stored(client)


async def test_unknown_field_in_an_event_is_refused(client: httpx.AsyncClient) -> None:
    body = assert_problem(await append(client, event("A", tag=["x"])), 422, VALIDATION)
    assert ["body", "events", 0, "tag"] in error_locs(body)


async def test_query_item_with_neither_types_nor_tags_is_refused(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/v1/events/query", json={"query": {"items": [{}]}})

    body = assert_problem(response, 422, VALIDATION)
    assert ["body", "query", "items", 0] in error_locs(body)


async def test_condition_item_with_neither_types_nor_tags_is_refused(
    client: httpx.AsyncClient,
) -> None:
    condition: dict[str, Any] = {"fail_if_events_match": {"items": [{"types": [], "tags": []}]}}

    response = await append(client, event("A"), condition=condition)

    assert_problem(response, 422, VALIDATION)
    await assert_nothing_stored(client)


async def test_negative_after_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/events/query", json={"after": -1})

    body = assert_problem(response, 422, VALIDATION)
    assert ["body", "after"] in error_locs(body)


async def test_bad_json_is_a_validation_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/events", content=b'{"events": [', headers={"content-type": "application/json"}
    )

    body = assert_problem(response, 422, VALIDATION)
    assert body["errors"][0]["type"] == "json_invalid"


async def test_malformed_json_names_its_line_and_column(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/events",
        content=b'{"events": [\n  {"type": "A",}\n]}',
        headers={"content-type": "application/json"},
    )

    body = assert_problem(response, 422, VALIDATION)
    assert body["errors"] == [
        {
            "loc": ["body"],
            "msg": "invalid JSON: trailing comma is not allowed at line 2, column 15",
            "type": "json_invalid",
        }
    ]


@pytest.mark.parametrize(
    "payload",
    [b"NaN", b"Infinity", b"-Infinity", b"1e999", b'"\\ud800"'],
    ids=["nan", "infinity", "minus-infinity", "overflow", "lone-surrogate"],
)
async def test_json_the_store_could_not_keep_unchanged_is_refused(
    client: httpx.AsyncClient, payload: bytes
) -> None:
    body = b'{"events": [{"type": "A", "data": ' + payload + b"}]}"

    response = await client.post(
        "/v1/events", content=body, headers={"content-type": "application/json"}
    )

    assert_problem(response, 422, VALIDATION)
    await assert_nothing_stored(client)


async def test_invalid_utf8_body_is_a_validation_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/events",
        content=b'{"events": [{"type": "\xff\xfe"}]}',
        headers={"content-type": "application/json"},
    )

    assert_problem(response, 422, VALIDATION)


async def test_a_body_that_is_not_json_is_a_415_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/events",
        content=b'{"events": [{"type": "A"}]}',
        headers={"content-type": "text/plain"},
    )

    body = assert_problem(response, 415, "/problems/unsupported-media-type")
    assert "application/json" in body["detail"]
    assert "text/plain" in body["detail"]
    await assert_nothing_stored(client)


async def test_invalid_utf8_under_a_wrong_content_type_does_not_break_the_handler(
    client: httpx.AsyncClient,
) -> None:
    response = await client.put(
        "/v1/snapshots/s/k", content=b"\xff\xfe\x00garbage", headers={"content-type": "text/x"}
    )

    assert_problem(response, 415, "/problems/unsupported-media-type")


async def test_missing_body_is_a_validation_problem(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/events")

    body = assert_problem(response, 422, VALIDATION)
    assert ["body"] in error_locs(body)


async def test_body_that_is_not_an_object_is_a_validation_problem(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/v1/events", json=[{"type": "A"}])

    assert_problem(response, 422, VALIDATION)


async def test_a_stream_query_that_is_not_json_says_why_once(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/events/stream", params={"query": "{nope", "live": "false"})

    body = assert_problem(response, 422, VALIDATION)
    [error] = body["errors"]
    assert error["loc"] == ["query", "query"]
    reason = "key must be a string at line 1 column 2"
    assert error["msg"].count(reason) == 1
