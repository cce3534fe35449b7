"""The problem bodies, one model per problem type, for the OpenAPI document only.

Each model pins its ``type`` and ``status`` (``const`` in JSON Schema), so that a generated
client can tell the problems of one operation apart by either: in TypeScript,
``if (error.status === 409) error.conflicting_position`` type-checks. The bodies themselves are
built by `app.api.problems` from the catalogue of `app.api.problem_types`; tests check that they
match these models.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue


class Problem(BaseModel):
    """An RFC 9457 problem."""

    type: str = Field(
        description="What kind of problem; a URI that the service resolves to a page that "
        "explains it (`about:blank` for a status without a type of its own)."
    )
    title: str = Field(description="The type's name.")
    status: int = Field(description="The HTTP status.")
    detail: str = Field(description="What happened, for a person.")


def _example(
    problem_type: str, title: str, status: int, detail: str, **more: JsonValue
) -> ConfigDict:
    body: dict[str, JsonValue] = {
        "type": problem_type,
        "title": title,
        "status": status,
        "detail": detail,
        **more,
    }
    return ConfigDict(json_schema_extra={"examples": [body]})


class ValidationErrorItem(BaseModel):
    """One finding of a validation problem."""

    loc: list[str | int] = Field(
        description="Where: `body`, `query`, `path` or `header`, then the field and index."
    )
    msg: str = Field(description="What is wrong with it.")
    type: str = Field(description="A stable name of the finding, e.g. `missing`, `too_long`.")


class ValidationProblem(Problem):
    model_config = _example(
        "/problems/validation",
        "Invalid request",
        422,
        "body.events.0.type: Field required",
        errors=[{"loc": ["body", "events", 0, "type"], "msg": "Field required", "type": "missing"}],
    )
    type: Literal["/problems/validation"]
    status: Literal[422]
    errors: list[ValidationErrorItem] = Field(description="Every finding, each once.")


class EventIdReusedProblem(Problem):
    model_config = _example(
        "/problems/event-id-reused",
        "Event id reused",
        422,
        "event id 0b8f3f0e-3c1a-4c5e-9a53-1f0b9e1c2d3e is already stored with different content",
    )
    type: Literal["/problems/event-id-reused"]
    status: Literal[422]


class WriteRefusedProblem(Problem):
    model_config = _example(
        "/problems/write-refused",
        "Write refused",
        422,
        "the database refused to store this request (a constraint or trigger of its own); "
        "nothing was stored",
    )
    type: Literal["/problems/write-refused"]
    status: Literal[422]


class ConflictProblem(Problem):
    model_config = _example(
        "/problems/append-condition-failed",
        "Append condition failed",
        409,
        "event at position 3 matches the append condition; nothing was stored",
        head=5,
        conflicting_position=3,
    )
    type: Literal["/problems/append-condition-failed"]
    status: Literal[409]
    head: int = Field(description="The position of the last stored event.")
    conflicting_position: int = Field(
        description="The first event after `condition.after` that matches the condition."
    )


class RequestViolation(BaseModel):
    """Why one event of the append does not satisfy its type's schema."""

    event: int = Field(description="The event's index in the request's `events`.")
    pointer: str = Field(description="Where in its data: a JSON pointer (`` for the data itself).")
    message: str = Field(description="What is wrong there (the value itself is not repeated).")


class StoredViolation(BaseModel):
    """Why one stored event does not satisfy a schema offered for its type."""

    position: int = Field(description="The stored event's position.")
    pointer: str = Field(description="Where in its data: a JSON pointer.")
    message: str = Field(description="What is wrong there.")


class EventSchemaViolationProblem(Problem):
    model_config = _example(
        "/problems/event-schema-violation",
        "Event schema violation",
        422,
        "event 0, /capacity: [value] is less than the minimum of 1",
        violations=[
            {"event": 0, "pointer": "/capacity", "message": "[value] is less than the minimum of 1"}
        ],
    )
    type: Literal["/problems/event-schema-violation"]
    status: Literal[422]
    violations: list[RequestViolation] = Field(description="At most 100, in request order.")


class StoredEventsViolateSchemaProblem(Problem):
    model_config = _example(
        "/problems/stored-events-violate-schema",
        "Stored events violate the schema",
        409,
        'position 4, its data: "capacity" is a required property; the schema was not registered',
        violations=[{"position": 4, "pointer": "", "message": '"capacity" is a required property'}],
    )
    type: Literal["/problems/stored-events-violate-schema"]
    status: Literal[409]
    violations: list[StoredViolation] = Field(description="Those of the first offending events.")


class PayloadTooLargeProblem(Problem):
    model_config = _example(
        "/problems/payload-too-large",
        "Payload too large",
        413,
        "the request body is over the limit of 4194304 bytes",
    )
    type: Literal["/problems/payload-too-large"]
    status: Literal[413]


class NotFoundProblem(Problem):
    model_config = _example(
        "/problems/not-found", "Not found", 404, "no snapshot 'course-state' for key 'c1'"
    )
    type: Literal["/problems/not-found"]
    status: Literal[404]


class UnsupportedMediaTypeProblem(Problem):
    model_config = _example(
        "/problems/unsupported-media-type",
        "Unsupported media type",
        415,
        "the body must be JSON, sent with Content-Type: application/json (got text/plain)",
    )
    type: Literal["/problems/unsupported-media-type"]
    status: Literal[415]


class UnauthorizedProblem(Problem):
    model_config = _example(
        "/problems/unauthorized",
        "Unauthorized",
        401,
        "this endpoint needs a token: send Authorization: Bearer <token>",
    )
    type: Literal["/problems/unauthorized"]
    status: Literal[401]


class ForbiddenProblem(Problem):
    model_config = _example(
        "/problems/forbidden",
        "Forbidden",
        403,
        "this token lacks the scope 'append'",
        scope="append",
    )
    type: Literal["/problems/forbidden"]
    status: Literal[403]
    scope: str = Field(description="The scope the operation needs.")


class TooManyRequestsProblem(Problem):
    model_config = _example(
        "/problems/too-many-requests",
        "Too many requests",
        429,
        "this token has 1000 streams open, its limit",
    )
    type: Literal["/problems/too-many-requests"]
    status: Literal[429]


class UnavailableProblem(Problem):
    model_config = _example(
        "about:blank", "Service Unavailable", 503, "the database is not available; retry later"
    )
    type: Literal["about:blank"]
    status: Literal[503]


class BadRequestProblem(Problem):
    model_config = _example(
        "about:blank",
        "Bad Request",
        400,
        "the path or query string is not UTF-8 once percent-decoded",
    )
    type: Literal["about:blank"]
    status: Literal[400]


class RequestTimeoutProblem(Problem):
    model_config = _example(
        "about:blank", "Request Timeout", 408, "the request's headers did not arrive in time"
    )
    type: Literal["about:blank"]
    status: Literal[408]


class UriTooLongProblem(Problem):
    model_config = _example(
        "about:blank", "URI Too Long", 414, "the request line is longer than 16384 bytes"
    )
    type: Literal["about:blank"]
    status: Literal[414]


class HeadersTooLargeProblem(Problem):
    model_config = _example(
        "about:blank",
        "Request Header Fields Too Large",
        431,
        "the header fields are longer than 16384 bytes",
    )
    type: Literal["about:blank"]
    status: Literal[431]


EDGE_BY_STATUS: dict[int, type[Problem]] = {
    400: BadRequestProblem,
    408: RequestTimeoutProblem,
    414: UriTooLongProblem,
    431: HeadersTooLargeProblem,
    503: UnavailableProblem,
}
"""The problems the HTTP edge may answer to any request, before a route runs."""

BY_STATUS: dict[int, type[Problem]] = {
    401: UnauthorizedProblem,
    403: ForbiddenProblem,
    404: NotFoundProblem,
    409: ConflictProblem,
    413: PayloadTooLargeProblem,
    415: UnsupportedMediaTypeProblem,
    422: ValidationProblem,
    429: TooManyRequestsProblem,
    503: UnavailableProblem,
}
"""The problem of each status an operation declares, unless it declares others."""
