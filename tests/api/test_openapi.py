"""The OpenAPI document: operation ids, problem media types, response shapes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

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
        "list_event_types",
        "list_tags",
        "get_stats",
        "put_event_schema",
        "get_event_schema",
        "delete_event_schema",
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

    route = {"200", "201", "401", "403", "409", "413", "415", "422", "429", "503"}
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
            schema = responses[status]["content"]["application/problem+json"]["schema"]
            model = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
            assert model["properties"]["status"]["const"] == int(status), (name, status)
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


async def test_every_operation_declares_who_may_call_it(document: dict[str, Any]) -> None:
    """A token, or none (an open service), for every operation that is not open; the scopes
    it needs in ``x-scopes``; ``security: []`` where anyone may call."""
    declared = {
        operation_id: (operation.get("security"), operation.get("x-scopes"))
        for operation_id, operation in operations(document).items()
    }

    assert document["security"] == [{"bearerAuth": []}, {}]
    assert declared == {
        "append_events": (None, ["append"]),
        "read_events": (None, ["read"]),
        "list_events": (None, ["read"]),
        "stream_events": (None, ["read"]),
        "put_snapshot": (None, ["snapshot"]),
        "get_snapshot": (None, ["read"]),
        "delete_snapshot": (None, ["snapshot"]),
        "get_head": (None, ["read"]),
        "create_stream_ticket": (None, ["read"]),
        "list_event_types": (None, ["read"]),
        "list_tags": (None, ["read"]),
        "get_stats": (None, ["read"]),
        "put_event_schema": (None, ["admin"]),
        "get_event_schema": (None, ["read"]),
        "delete_event_schema": (None, ["admin"]),
        "healthz": ([], None),
        "readyz": ([], None),
        "metrics": (None, ["metrics"]),
    }
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["streamTicket"]["in"] == "query"
    assert schemes["streamTicket"]["name"] == "ticket"


async def test_guarded_operations_declare_401_and_403(document: dict[str, Any]) -> None:
    for operation_id, operation in operations(document).items():
        statuses = set(operation["responses"])
        if "x-scopes" in operation:
            assert {"401", "403"} <= statuses, operation_id
            assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
        else:
            assert not {"401", "403"} & statuses, operation_id
