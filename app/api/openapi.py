"""The OpenAPI document: every way the service shapes it, in one place.

FastAPI writes the document from the routes; the routes declare their answers with
`problem_responses` and their hand-read headers with `header_parameter`, and `EventStoreApi`
finishes the document once, when it is first asked for:

- every 4xx/5xx body is declared as ``application/problem+json`` (FastAPI files the schemas of
  extra responses under the route's own media type), `use_problem_media_type`;
- the security schemes (a bearer token, the stream ticket) and the 401/403 answers of every
  operation that needs a token, `document_security`;
- the answers of the HTTP edge (`app.server`) and of `app.api.request_target`, which any
  operation may get before its route runs: 400, 408, 414, 431 and 503, `document_edge`;
- the defaults of request bodies are stated in words, not as ``default``, `defaults_in_words`.

A route's access rule is declared as its ``security`` (`app.api.guard`) and published from it,
so what generated clients are told is what is enforced.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from app.access.tickets import TICKET_PARAMETER
from app.api.guard import BEARER, TICKET
from app.api.problem_models import (
    BY_STATUS,
    EDGE_BY_STATUS,
    ForbiddenProblem,
    UnauthorizedProblem,
)
from app.api.problems import PROBLEM_MEDIA_TYPE

REF_TEMPLATE = "#/components/schemas/{model}"


class EventStoreApi(FastAPI):
    """FastAPI, with the document shaped as above."""

    def openapi(self) -> dict[str, Any]:
        if not self.openapi_schema:
            document = use_problem_media_type(super().openapi())
            self.openapi_schema = document_edge(document_security(defaults_in_words(document)))
        return self.openapi_schema


def json_examples(examples: Mapping[str, Any]) -> dict[str, Any]:
    """A response's ``content`` showing ``examples`` (its schema comes from the route)."""
    return {"content": {"application/json": {"examples": dict(examples)}}}


def _request_schemas(openapi: dict[str, Any]) -> set[str]:
    """The component schemas a request body uses, directly or inside another."""
    schemas = openapi.get("components", {}).get("schemas", {})
    found: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(REF_TEMPLATE.format(model="")):
                name = ref.rsplit("/", 1)[1]
                if name not in found:
                    found.add(name)
                    visit(schemas.get(name))
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    for path_item in openapi.get("paths", {}).values():
        for operation in path_item.values():
            if isinstance(operation, dict):
                visit(operation.get("requestBody"))
    return found


def defaults_in_words(openapi: dict[str, Any]) -> dict[str, Any]:
    """In the schemas of request bodies, say each property's default in its description rather
    than as ``default``. In a request a default means "optional", but openapi-typescript (with
    its default flags) makes every property that has a ``default`` required, so that a
    TypeScript client would have to send ``after: 0, backwards: false`` with every read."""
    schemas = openapi.get("components", {}).get("schemas", {})
    for name in _request_schemas(openapi):
        for prop in schemas.get(name, {}).get("properties", {}).values():
            if "default" in prop:
                default = json.dumps(prop.pop("default"))
                described = prop.get("description", "").rstrip()
                prop["description"] = f"{described} Default: `{default}`.".strip()
    return openapi


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
    415: "The body is not JSON (`/problems/unsupported-media-type`).",
    422: "Malformed input (`/problems/validation`, with `errors`).",
    429: "Over a limit of the token or the service (`/problems/too-many-requests`); retry after "
    "`Retry-After` seconds.",
    503: "The database is not available; retry after `Retry-After` seconds.",
}


def problem_responses(
    *statuses: int, models: Mapping[int, Any] | None = None, **descriptions: str
) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entries of a route for the problems it can answer.

    ``models`` overrides the schema of a status (by default the problem model of the status,
    `app.api.problem_models.BY_STATUS`); ``descriptions`` (keyed ``s422`` etc.) override a
    description. `use_problem_media_type` moves these schemas under ``application/problem+json``.
    """
    chosen = {**BY_STATUS, **(models or {})}
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        response: dict[str, Any] = {
            "model": chosen[status],
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


_AUTH_RESPONSES: dict[str, tuple[str, type[BaseModel], str]] = {
    "401": (
        "No token, or one that is not known (`/problems/unauthorized`).",
        UnauthorizedProblem,
        '`Bearer realm="eventstore"`, with `error="invalid_token"` when one was sent.',
    ),
    "403": (
        "The token lacks the scope this needs (`/problems/forbidden`).",
        ForbiddenProblem,
        "",
    ),
}


SCOPES = "x-scopes"
"""The extension naming the scopes a guarded operation needs (`document_security`)."""


def document_security(openapi: dict[str, Any]) -> dict[str, Any]:
    """Declare the security schemes, who may call each operation, and the 401/403 problems of
    every guarded one.

    A route declares its rule as its ``security`` (`app.api.guard`). In the document, a
    guarded operation's rule becomes the document's own requirement, a bearer token or none
    (``[{"bearerAuth": []}, {}]``), with the scopes it needs in ``x-scopes`` and its
    description; an open one keeps ``security: []``. Why not the scopes in each operation's
    ``security``: a service with no tokens configured is open, and openapi-python-client makes
    every operation that has a ``security`` of its own demand an authenticated client, so that
    an open service would need an invented token."""
    components = openapi.setdefault("components", {})
    schemes = components.setdefault("securitySchemes", {})
    schemes[BEARER] = {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token. Scopes (each operation names those it needs in "
        "`x-scopes`): read, append, snapshot, admin, metrics. With no tokens configured the "
        "service is open and needs none.",
    }
    schemes[TICKET] = {
        "type": "apiKey",
        "in": "query",
        "name": TICKET_PARAMETER,
        "description": "A stream ticket from `POST /v1/stream-tickets`, for EventSource "
        "(which cannot send headers); accepted by the stream only.",
    }
    schemas = components.setdefault("schemas", {})
    for _, model, _ in _AUTH_RESPONSES.values():
        schemas[model.__name__] = model.model_json_schema(ref_template=REF_TEMPLATE)
    for path_item in openapi.get("paths", {}).values():
        for operation in path_item.values():
            if isinstance(operation, dict) and operation.get("security"):
                scopes = operation.pop("security")[0][BEARER]
                operation[SCOPES] = scopes
                needed = ", ".join(f"`{scope}`" for scope in scopes)
                operation["description"] = (
                    f"{operation.get('description', '')}\n\nNeeds a token with scope {needed} "
                    "when the service has tokens."
                ).strip()
                responses = operation.setdefault("responses", {})
                for status, (description, model, header) in _AUTH_RESPONSES.items():
                    response: dict[str, Any] = {
                        "description": description,
                        "content": {
                            PROBLEM_MEDIA_TYPE: {
                                "schema": {"$ref": REF_TEMPLATE.format(model=model.__name__)}
                            }
                        },
                    }
                    if header:
                        response["headers"] = {
                            "WWW-Authenticate": {
                                "schema": {"type": "string"},
                                "description": header,
                            }
                        }
                    responses[status] = response
                operation["responses"] = dict(sorted(responses.items()))
    openapi["security"] = [{BEARER: []}, {}]
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
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    for model in EDGE_BY_STATUS.values():
        schemas[model.__name__] = model.model_json_schema(ref_template=REF_TEMPLATE)
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
                model = EDGE_BY_STATUS[int(status)]
                response: dict[str, Any] = {
                    "description": description,
                    "content": {
                        PROBLEM_MEDIA_TYPE: {
                            "schema": {"$ref": REF_TEMPLATE.format(model=model.__name__)}
                        }
                    },
                }
                if status == "503":
                    response["headers"] = retry_after
                responses[status] = response
            operation["responses"] = dict(sorted(responses.items()))
    return openapi
