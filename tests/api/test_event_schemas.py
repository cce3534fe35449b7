"""The JSON Schemas of event types over HTTP: registration, appends refused by them, the
problems that say why."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.api.problem_models import (
    EventSchemaViolationProblem,
    StoredEventsViolateSchemaProblem,
    ValidationProblem,
)
from tests.support.api import append, append_ok, assert_problem, event

pytestmark = pytest.mark.anyio

COURSE: dict[str, Any] = {
    "type": "object",
    "properties": {"capacity": {"type": "integer", "minimum": 1}},
    "required": ["capacity"],
}
SCHEMA = "/v1/event-types/CourseDefined/schema"


async def test_a_registered_schema_is_answered_back(client: httpx.AsyncClient) -> None:
    put = await client.put(SCHEMA, json=COURSE)
    got = await client.get(SCHEMA)

    assert put.status_code == 200
    assert put.json() == got.json()
    assert got.json()["type"] == "CourseDefined"
    assert got.json()["schema"] == COURSE
    assert got.json()["registered_at"].endswith("Z")
    types = (await client.get("/v1/event-types")).json()["event_types"]
    assert types == []  # no events of the type yet: discovery lists stored types


async def test_an_append_that_breaks_the_schema_is_a_422_naming_each_violation(
    client: httpx.AsyncClient,
) -> None:
    await client.put(SCHEMA, json=COURSE)

    response = await append(
        client,
        event("CourseDefined", data={"capacity": 3}),
        event("CourseDefined", data={"capacity": 0}),
        event("CourseDefined", data={"seats": 3}),
    )

    body = assert_problem(response, 422, "/problems/event-schema-violation")
    EventSchemaViolationProblem.model_validate(body)
    assert [(v["event"], v["pointer"]) for v in body["violations"]] == [(1, "/capacity"), (2, "")]
    assert body["detail"].startswith("event 1, /capacity:")
    assert (await client.get("/v1/head")).json() == {"head": 0}


async def test_a_schema_that_is_not_a_schema_is_a_422_at_its_place(
    client: httpx.AsyncClient,
) -> None:
    response = await client.put(SCHEMA, json={"properties": {"capacity": {"minimum": "one"}}})

    body = assert_problem(response, 422, "/problems/validation")
    ValidationProblem.model_validate(body)
    assert body["errors"][0]["loc"] == ["body", "properties", "capacity", "minimum"]
    assert body["errors"][0]["type"] == "invalid_schema"
    assert (await client.get(SCHEMA)).status_code == 404


async def test_a_schema_stored_events_break_is_a_409_unless_for_future_events_only(
    client: httpx.AsyncClient,
) -> None:
    await append_ok(client, event("CourseDefined", data={"capacity": 2}), event("CourseDefined"))

    refused = await client.put(SCHEMA, json=COURSE)
    future_only = await client.put(SCHEMA, json=COURSE, params={"check_stored": "false"})

    body = assert_problem(refused, 409, "/problems/stored-events-violate-schema")
    StoredEventsViolateSchemaProblem.model_validate(body)
    assert body["violations"][0]["position"] == 2
    assert future_only.status_code == 200
    assert_problem(
        await append(client, event("CourseDefined")), 422, "/problems/event-schema-violation"
    )


async def test_a_type_with_a_slash_has_its_schema_and_delete_is_idempotent(
    client: httpx.AsyncClient,
) -> None:
    path = "/v1/event-types/billing/InvoiceSent/schema"

    assert (await client.put(path, json={"type": "object"})).status_code == 200
    assert (await client.get(path)).json()["type"] == "billing/InvoiceSent"
    assert_problem(
        await append(client, event("billing/InvoiceSent", data=[1])),
        422,
        "/problems/event-schema-violation",
    )
    assert (await client.delete(path)).status_code == 204
    assert (await client.delete(path)).status_code == 204
    assert_problem(await client.get(path), 404, "/problems/not-found")
    await append_ok(client, event("billing/InvoiceSent", data=[1]))
