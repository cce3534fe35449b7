"""The OpenAPI document: operation ids, problem media types, response shapes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.openapi import DOCUMENT, render

pytestmark = pytest.mark.anyio


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    openapi: dict[str, Any] = response.json()
    return openapi


def operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        operation["operationId"]: operation
        for path_item in document["paths"].values()
        for operation in path_item.values()
    }


async def test_document_is_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")


async def test_operation_ids_are_clean(document: dict[str, Any]) -> None:
    assert set(operations(document)) == {
        "append_events",
        "read_events",
        "list_events",
        "stream_events",
        "put_snapshot",
        "get_snapshot",
        "delete_snapshot",
        "get_head",
        "create_stream_ticket",
        "healthz",
        "readyz",
        "metrics",
    }


async def test_error_responses_are_problem_json(document: dict[str, Any]) -> None:
    for operation_id, operation in operations(document).items():
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                assert set(response["content"]) == {"application/problem+json"}, operation_id


async def test_append_declares_its_outcomes(document: dict[str, Any]) -> None:
    responses = operations(document)["append_events"]["responses"]

    route = {"200", "201", "401", "403", "409", "413", "422", "429", "503"}
    assert set(responses) == route | EDGE
    conflict = responses["409"]["content"]["application/problem+json"]["schema"]
    assert conflict == {"$ref": "#/components/schemas/ConflictProblem"}
    assert "Idempotent-Replayed" in responses["200"]["headers"]


EDGE = {"400", "408", "414", "431", "503"}
"""What the HTTP edge may answer to any request, before its route runs."""


async def test_every_operation_declares_the_answers_of_the_edge(document: dict[str, Any]) -> None:
    for name, operation in operations(document).items():
        responses = operation["responses"]
        assert set(responses) >= EDGE, name
        for status in EDGE:
            content = responses[status]["content"]
            assert content["application/problem+json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"
            }, (name, status)
        assert "Retry-After" in responses["503"]["headers"], name
    head = operations(document)["get_head"]["responses"]["503"]["description"]
    assert "database" in head
    assert "connection" in head


async def test_read_response_schema_documents_snapshot_due_as_optional(
    document: dict[str, Any],
) -> None:
    schema = document["components"]["schemas"]["ReadResponse"]

    assert schema["properties"]["snapshot_due"]["type"] == "boolean"
    assert "snapshot_due" not in schema["required"]
    assert "snapshot" in schema["required"]


async def test_list_events_documents_repeatable_type_and_tag(document: dict[str, Any]) -> None:
    parameters = {p["name"]: p for p in operations(document)["list_events"]["parameters"]}

    assert set(parameters) == {"type", "tag", "after", "before", "limit", "backwards"}
    assert parameters["type"]["schema"]["type"] == "array"


def test_the_committed_document_is_current() -> None:
    assert DOCUMENT.read_text() == render(), "run: scripts/export-openapi"


async def test_every_operation_declares_who_may_call_it(document: dict[str, Any]) -> None:
    """Generated clients learn from ``security`` which token an operation needs."""
    scopes = {
        operation_id: operation["security"]
        for operation_id, operation in operations(document).items()
    }

    assert scopes == {
        "append_events": [{"bearerAuth": ["append"]}],
        "read_events": [{"bearerAuth": ["read"]}],
        "list_events": [{"bearerAuth": ["read"]}],
        "stream_events": [{"bearerAuth": ["read"]}, {"streamTicket": []}],
        "put_snapshot": [{"bearerAuth": ["snapshot"]}],
        "get_snapshot": [{"bearerAuth": ["read"]}],
        "delete_snapshot": [{"bearerAuth": ["snapshot"]}],
        "get_head": [{"bearerAuth": ["read"]}],
        "create_stream_ticket": [{"bearerAuth": ["read"]}],
        "healthz": [],
        "readyz": [],
        "metrics": [{"bearerAuth": ["metrics"]}],
    }
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["streamTicket"]["in"] == "query"
    assert schemes["streamTicket"]["name"] == "ticket"


async def test_guarded_operations_declare_401_and_403(document: dict[str, Any]) -> None:
    for operation_id, operation in operations(document).items():
        statuses = set(operation["responses"])
        if operation["security"]:
            assert {"401", "403"} <= statuses, operation_id
            assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
        else:
            assert not {"401", "403"} & statuses, operation_id
