"""The OpenAPI document: every way the service shapes it, in one place.

FastAPI writes the document from the routes; the routes declare their answers with
`problem_responses` and their hand-read headers with `header_parameter`, and `EventStoreApi`
finishes the document once, when it is first asked for:

- every 4xx/5xx body is declared as ``application/problem+json`` (FastAPI files the schemas of
  extra responses under the route's own media type), `use_problem_media_type`;
- the security schemes (a bearer token, the stream ticket) and the 401/403 answers of every
  operation that needs a token, `document_security`. A route's access rule *is* its
  ``security`` (`app.api.guard`), so what generated clients are told is what is enforced;
- the answers of the HTTP edge (`app.server`) and of `app.api.request_target`, which any
  operation may get before its route runs: 400, 408, 414, 431 and 503, `document_edge`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI

from app.access.tickets import TICKET_PARAMETER
from app.api.guard import BEARER, TICKET
from app.api.problems import PROBLEM_MEDIA_TYPE
from app.api.schemas import ConflictProblem, Problem, ValidationProblem


class EventStoreApi(FastAPI):
    """FastAPI, with the document shaped as above."""

    def openapi(self) -> dict[str, Any]:
        if not self.openapi_schema:
            document = use_problem_media_type(super().openapi())
            self.openapi_schema = document_edge(document_security(document))
        return self.openapi_schema


def header_parameter(name: str, description: str, *, max_length: int) -> dict[str, Any]:
    """An optional header of printable ASCII that a route reads itself (declaring it as a
    FastAPI parameter would cost every request: `app.api.state`)."""
    return {
        "name": name,
        "in": "header",
        "required": False,
        "schema": {"type": "string", "maxLength": max_length, "pattern": "^[\\x20-\\x7e]*$"},
        "description": description,
    }


_DESCRIPTIONS = {
    400: "The request could not be read.",
    404: "Not found (`/problems/not-found`).",
    409: "The append condition failed; nothing was stored (`/problems/append-condition-failed`).",
    413: "Over the configured size limits (`/problems/payload-too-large`).",
    422: "Malformed input (`/problems/validation`, with `errors`).",
    429: "Over a limit of the token or the service (`/problems/too-many-requests`); retry after "
    "`Retry-After` seconds.",
    503: "The database is not available; retry after `Retry-After` seconds.",
}


def problem_responses(
    *statuses: int, models: Mapping[int, Any] | None = None, **descriptions: str
) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entries of a route for the problems it can answer.

    ``models`` overrides the schema of a status (409 defaults to `ConflictProblem`, 422 to
    `ValidationProblem`, others to `Problem`); ``descriptions`` (keyed ``s422`` etc.) override a
    description. `use_problem_media_type` moves these schemas under ``application/problem+json``.
    """
    default_models: dict[int, Any] = {409: ConflictProblem, 422: ValidationProblem}
    chosen = {**default_models, **(models or {})}
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        response: dict[str, Any] = {
            "model": chosen.get(status, Problem),
            "description": descriptions.get(f"s{status}", _DESCRIPTIONS.get(status, "")),
        }
        if status in (429, 503):
            response["headers"] = {
                "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds."}
            }
        responses[status] = response
    return responses


def use_problem_media_type(openapi: dict[str, Any]) -> dict[str, Any]:
    """In an OpenAPI document, declare every 4xx/5xx body as ``application/problem+json``
    (FastAPI files the schemas of extra responses under the route's own media type)."""
    for path_item in openapi.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            for status, response in operation.get("responses", {}).items():
                content = response.get("content")
                if status[:1] in {"4", "5"} and content and "application/json" in content:
                    content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
    return openapi


_AUTH_RESPONSES: dict[str, dict[str, Any]] = {
    "401": {
        "description": "No token, or one that is not known (`/problems/unauthorized`).",
        "headers": {
            "WWW-Authenticate": {"schema": {"type": "string"}, "description": "`Bearer ...`"}
        },
    },
    "403": {"description": "The token lacks the scope this needs (`/problems/forbidden`)."},
}


def document_security(openapi: dict[str, Any]) -> dict[str, Any]:
    """Declare the security schemes, and the 401/403 problems of every guarded operation."""
    schemes = openapi.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes[BEARER] = {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token. Scopes (named in each operation's requirement): read, "
        "append, snapshot, metrics. With no tokens configured the service is open.",
    }
    schemes[TICKET] = {
        "type": "apiKey",
        "in": "query",
        "name": TICKET_PARAMETER,
        "description": "A stream ticket from `POST /v1/stream-tickets`, for EventSource "
        "(which cannot send headers); accepted by the stream only.",
    }
    problem = {"$ref": "#/components/schemas/Problem"}
    for path_item in openapi.get("paths", {}).values():
        for operation in path_item.values():
            if isinstance(operation, dict) and operation.get("security"):
                responses = operation.setdefault("responses", {})
                for status, response in _AUTH_RESPONSES.items():
                    responses[status] = {
                        **response,
                        "content": {PROBLEM_MEDIA_TYPE: {"schema": problem}},
                    }
                operation["responses"] = dict(sorted(responses.items()))
    return openapi


_EDGE_RESPONSES = {
    "400": "Not a valid HTTP/1.1 request, or a path or query string that is not UTF-8 once "
    "percent-decoded.",
    "408": "The request's line and headers, or its body, did not arrive in time "
    "(`EVENTSTORE_HEADER_TIMEOUT_SECONDS`, `EVENTSTORE_BODY_TIMEOUT_SECONDS`); the connection "
    "is closed.",
    "414": "The request line is longer than `EVENTSTORE_MAX_REQUEST_LINE_BYTES`.",
    "431": "The header fields are longer than `EVENTSTORE_MAX_HEADER_BYTES`.",
    "503": "Every connection the service serves has a request in progress "
    "(`EVENTSTORE_MAX_CONNECTIONS`); retry after `Retry-After` seconds.",
}
_EDGE_503 = (
    " Also answered, before the request is read, when every connection the service serves has "
    "a request in progress."
)


def document_edge(openapi: dict[str, Any]) -> dict[str, Any]:
    """Declare, on every operation, the problems the HTTP edge answers before any route runs
    (`app.server.protocol`); an operation that has a 503 of its own says both."""
    problem = {"$ref": "#/components/schemas/Problem"}
    retry_after = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds."}}
    for path_item in openapi.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            for status, description in _EDGE_RESPONSES.items():
                if status in responses:
                    if status == "503":
                        responses[status]["description"] += _EDGE_503
                    continue
                response: dict[str, Any] = {
                    "description": description,
                    "content": {PROBLEM_MEDIA_TYPE: {"schema": problem}},
                }
                if status == "503":
                    response["headers"] = retry_after
                responses[status] = response
            operation["responses"] = dict(sorted(responses.items()))
    return openapi
