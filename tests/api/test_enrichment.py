"""Correlation headers and metadata-derived tags, written at append."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.api import api_client, append, assert_problem, event, make_settings

pytestmark = pytest.mark.anyio


async def stored_events(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = (await client.get("/v1/events")).json()["events"]
    return events


async def test_correlation_headers_are_recorded_in_each_event(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/events",
        json={"events": [event("A", metadata={"user": "u1"}), event("B")]},
        headers={"X-Correlation-ID": "corr-1", "X-Causation-ID": "cause-1"},
    )
    assert response.status_code == 201

    metadata = [e["metadata"] for e in await stored_events(client)]

    assert metadata == [
        {"user": "u1", "correlation_id": "corr-1", "causation_id": "cause-1"},
        {"correlation_id": "corr-1", "causation_id": "cause-1"},
    ]


async def test_correlation_ids_already_in_metadata_are_kept(client: httpx.AsyncClient) -> None:
    sent = event("A", metadata={"correlation_id": "mine", "causation_id": "also-mine"})
    await client.post(
        "/v1/events",
        json={"events": [sent]},
        headers={"X-Correlation-ID": "header", "X-Causation-ID": "header"},
    )

    metadata = (await stored_events(client))[0]["metadata"]

    assert metadata == {"correlation_id": "mine", "causation_id": "also-mine"}


async def test_without_headers_metadata_is_unchanged(client: httpx.AsyncClient) -> None:
    await append(client, event("A", metadata={"x": 1}))

    assert (await stored_events(client))[0]["metadata"] == {"x": 1}


async def test_metadata_tag_keys_add_key_value_tags_beside_client_tags() -> None:
    settings = make_settings(metadata_tag_keys=["tenant", "region", "shard", "beta", "obj"])
    metadata = {"tenant": "t1", "shard": 7, "beta": True, "obj": {"no": 1}, "other": "x"}
    async with api_client(settings) as client:
        await append(client, event("A", "course:c1", "tenant:t1", metadata=metadata))

        tags = (await stored_events(client))[0]["tags"]

    assert tags == ["course:c1", "tenant:t1", "shard:7", "beta:true"]


async def test_derived_tags_are_queryable() -> None:
    async with api_client(make_settings(metadata_tag_keys=["tenant"])) as client:
        await append(client, event("A", metadata={"tenant": "t1"}), event("A"))

        found = await client.get("/v1/events", params={"tag": "tenant:t1"})

    assert [e["position"] for e in found.json()["events"]] == [1]


async def test_correlation_id_can_become_a_tag() -> None:
    async with api_client(make_settings(metadata_tag_keys=["correlation_id"])) as client:
        await client.post(
            "/v1/events", json={"events": [event("A")]}, headers={"X-Correlation-ID": "c-9"}
        )

        tags = (await stored_events(client))[0]["tags"]

    assert tags == ["correlation_id:c-9"]


async def test_derived_tag_over_256_characters_is_a_validation_problem() -> None:
    async with api_client(make_settings(metadata_tag_keys=["tenant"])) as client:
        response = await append(client, event("A", metadata={"tenant": "t" * 250}))

    body = assert_problem(response, 422, "/problems/validation")
    assert body["errors"][0]["loc"] == ["body", "events", 0, "metadata", "tenant"]


@pytest.mark.parametrize("header", ["X-Correlation-ID", "X-Causation-ID"])
@pytest.mark.parametrize(
    "value",
    ["x" * 256, "tab\there", "bell\x07", "caf\xe9", "x" * 256 * 1024],
    ids=["256-chars", "tab", "control", "latin-1", "256-kib"],
)
async def test_a_trace_header_over_255_printable_ascii_characters_is_refused(
    client: httpx.AsyncClient, header: str, value: str
) -> None:
    """Its value is copied into every event: a 256 KB header on a 45 KB body stored 250 MB."""
    response = await client.post(
        "/v1/events",
        json={"events": [event("A")] * 100},
        headers={header.encode(): value.encode("latin-1")},
    )

    body = assert_problem(response, 422, "/problems/validation")
    assert [error["loc"] for error in body["errors"]] == [["header", header.lower()]]
    assert value not in response.text
    assert (await client.get("/v1/head")).json() == {"head": 0}


async def test_a_trace_header_of_255_printable_ascii_characters_is_recorded(
    client: httpx.AsyncClient,
) -> None:
    value = ("".join(chr(code) for code in range(0x21, 0x7F)) + " ") * 3  # every one of them
    response = await client.post(
        "/v1/events",
        json={"events": [event("A")]},
        headers={"X-Correlation-ID": value[:255], "X-Causation-ID": ""},
    )
    assert response.status_code == 201, response.text

    [stored] = await stored_events(client)

    assert stored["metadata"] == {"correlation_id": value[:255], "causation_id": ""}
