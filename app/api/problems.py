"""The one place where errors become HTTP responses: RFC 9457 ``application/problem+json``.

Deliberate choices:

- `problem_for` maps every error to one problem; `install_problem_handlers` registers it for
  domain errors, request validation, Starlette's HTTP errors (unknown route, wrong method, ...)
  and, as the last resort, any other exception (500, logged here with the request line).
  Starlette's outermost error middleware re-raises an unexpected exception after the 500 is sent,
  so the server logs its traceback too.
- Problem types are those of the API contract, each explained at its own URI
  (`app.api.problem_types`). A status without a type of its own (400, 500, 503) uses
  ``about:blank`` with the status phrase as title, as RFC 9457 prescribes.
- A request body that is not JSON is a 415; a method the path does not take a 405 whose
  ``Allow`` lists every method of the path; a path with a trailing slash a 404 that names the
  path without it (the service redirects nothing).
- `errors` of a validation problem carry only ``loc``, ``msg`` and ``type``: never the input,
  which may be bytes, invalid UTF-8 or simply large, and never pydantic's ``ctx``/``url``.
- A bad position for a snapshot (`PositionBeyondHead`) is a validation problem with one error on
  ``body.position``, so that every ``/problems/validation`` has the same shape.
- `Unauthorized` is a 401 with ``WWW-Authenticate: Bearer realm="eventstore"`` (and
  ``error="invalid_token"`` when a credential was presented, as RFC 6750 says); `Forbidden` a
  403 naming the missing ``scope``; `TooManyRequests` a 429 with ``Retry-After``. None of them
  echoes the credential.
- `StorageUnavailable` is a 503 with ``Retry-After: 1``: the database was locked or unreachable
  for a moment; a retry soon is the right reaction. The driver's message is logged, not sent:
  it may name hosts and users. Every path logged here goes through
  `app.api.access_log.redact_tickets` first.
- Requests over the size limits raise `PayloadTooLarge` (`app.api.body_limit`,
  `app.api.request_limits`): a 413.
- `WriteRefused` (the database refused rows for a reason of its own: a constraint or trigger
  the service does not know) is a 422 ``/problems/write-refused``; the database's message is
  logged, not sent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match

from app.api import problem_types as types
from app.api.access_log import redact_tickets
from app.api.problem_types import ProblemType
from app.api.request_id import request_id_of
from app.domain import Violation
from app.errors import (
    AppendConditionFailed,
    EventIdReused,
    EventStoreError,
    Forbidden,
    InvalidSchema,
    NotFound,
    PayloadTooLarge,
    PositionBeyondHead,
    SchemaViolation,
    StorageUnavailable,
    StoredEventsViolateSchema,
    TooManyRequests,
    Unauthorized,
    UnsupportedMediaType,
    WriteRefused,
)

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
REALM = "eventstore"
RETRY_AFTER_SECONDS = 1

_TYPED_STATUSES = {
    404: types.NOT_FOUND,
    405: types.METHOD_NOT_ALLOWED,
    415: types.UNSUPPORTED_MEDIA_TYPE,
}


def problem_response(
    status: int,
    *,
    detail: str,
    problem: ProblemType | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """A problem of ``problem``'s type, or ``about:blank`` with the status phrase as title."""
    body = {
        "type": problem.uri if problem else "about:blank",
        "title": problem.title if problem else HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extensions,
    }
    return Response(
        orjson.dumps(body), status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE
    )


def validation_problem(errors: Sequence[Any]) -> Response:
    safe = [_safe_error(error) for error in errors]
    if safe:
        first = safe[0]
        where = ".".join(str(part) for part in first["loc"])
        detail = f"{where}: {first['msg']}" if where else first["msg"]
        if len(safe) > 1:
            detail += f" (and {len(safe) - 1} more)"
    else:
        detail = "the request is not valid"
    return problem_response(422, problem=types.VALIDATION, detail=detail, errors=safe)


def _safe_error(error: Any) -> dict[str, Any]:
    """One JSON-safe error item: ``loc`` of strings and integers, ``msg`` and ``type`` strings."""
    if not isinstance(error, Mapping):
        return {"loc": [], "msg": str(error), "type": "value_error"}
    loc_value = error.get("loc", ())
    parts = loc_value if isinstance(loc_value, list | tuple) else (loc_value,)
    loc = [p if isinstance(p, str | int) and not isinstance(p, bool) else str(p) for p in parts]
    msg = str(error.get("msg", ""))
    error_type = str(error.get("type", "value_error"))
    ctx = error.get("ctx")
    if error_type == "json_invalid" and isinstance(ctx, Mapping) and "error" in ctx:
        reason = str(ctx["error"])
        if reason not in msg:  # pydantic's message often says it already
            msg = f"{msg}: {reason}"
    return {"loc": loc, "msg": msg, "type": error_type}


def problem_for(request: Request, exc: Exception) -> Response:
    """The problem response for ``exc``."""
    match exc:
        case AppendConditionFailed():
            return problem_response(
                409,
                problem=types.APPEND_CONDITION_FAILED,
                detail=f"{exc}; nothing was stored",
                head=exc.head,
                conflicting_position=exc.conflicting_position,
            )
        case EventIdReused():
            return problem_response(422, problem=types.EVENT_ID_REUSED, detail=exc.detail)
        case SchemaViolation():
            return problem_response(
                422,
                problem=types.EVENT_SCHEMA_VIOLATION,
                detail=_first_violation(exc.violations, "event"),
                violations=[
                    {"event": v.event, "pointer": v.pointer, "message": v.message}
                    for v in exc.violations
                ],
            )
        case StoredEventsViolateSchema():
            return problem_response(
                409,
                problem=types.STORED_EVENTS_VIOLATE_SCHEMA,
                detail=f"{_first_violation(exc.violations, 'position')}; the schema was not "
                "registered",
                violations=[
                    {"position": v.event, "pointer": v.pointer, "message": v.message}
                    for v in exc.violations
                ],
            )
        case InvalidSchema():
            return validation_problem(
                [
                    {
                        "loc": ("body", *_pointer_parts(exc.pointer)),
                        "msg": f"not a valid JSON Schema (Draft 2020-12): {exc.detail}",
                        "type": "invalid_schema",
                    }
                ]
            )
        case PositionBeyondHead():
            return validation_problem(
                [{"loc": ("body", "position"), "msg": str(exc), "type": "position_beyond_head"}]
            )
        case PayloadTooLarge():
            return problem_response(413, problem=types.PAYLOAD_TOO_LARGE, detail=exc.detail)
        case UnsupportedMediaType():
            return problem_response(415, problem=types.UNSUPPORTED_MEDIA_TYPE, detail=str(exc))
        case WriteRefused():
            logger.warning("the database refused a write on %s: %s", _described(request), exc)
            return problem_response(
                422,
                problem=types.WRITE_REFUSED,
                detail="the database refused to store this request (a constraint or trigger of "
                "its own); nothing was stored",
            )
        case NotFound():
            return problem_response(404, problem=types.NOT_FOUND, detail=str(exc))
        case Unauthorized():
            challenge = f'Bearer realm="{REALM}"'
            if exc.invalid_token:
                challenge += ', error="invalid_token"'
            return problem_response(
                401,
                problem=types.UNAUTHORIZED,
                detail=exc.detail,
                headers={"WWW-Authenticate": challenge},
            )
        case Forbidden():
            return problem_response(403, problem=types.FORBIDDEN, detail=str(exc), scope=exc.scope)
        case TooManyRequests():
            return problem_response(
                429,
                problem=types.TOO_MANY_REQUESTS,
                detail=exc.detail,
                headers={"Retry-After": str(exc.retry_after)},
            )
        case StorageUnavailable():
            logger.warning("storage unavailable on %s: %s", _described(request), exc)
            return problem_response(
                503,
                detail="the database is not available; retry later",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        case RequestValidationError():
            return validation_problem(exc.errors())
        case HTTPException():
            detail = str(exc.detail)
            headers = dict(exc.headers or {})
            if exc.status_code == 404 and detail == HTTPStatus.NOT_FOUND.phrase:
                detail = _no_route(request)
            elif exc.status_code == 405:
                allowed = _allowed_methods(request, request.scope["path"])
                headers["Allow"] = ", ".join(allowed)
                detail = f"{request.method} is not allowed here; allowed: {', '.join(allowed)}"
            return problem_response(
                exc.status_code,
                problem=_TYPED_STATUSES.get(exc.status_code),
                detail=detail,
                headers=headers,
            )
        case _:
            logger.error(
                "unexpected %s on %s", type(exc).__name__, _described(request), exc_info=exc
            )
            return problem_response(500, detail="an unexpected error occurred; it was logged")


def _described(request: Request) -> str:
    """``POST /v1/events (request <id>)``: the request as the service's lines about it name
    it, with the id the request log and the client (``X-Request-ID``) know it by."""
    return (
        f"{request.method} {redact_tickets(request.url.path)} "
        f"(request {request_id_of(request) or '-'})"
    )


HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
"""The methods the service tells apart (in ``Allow``, and in the metrics' labels)."""


def _first_violation(violations: Sequence[Violation], what: str) -> str:
    first = violations[0]
    where = first.pointer or "its data"
    more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
    return f"{what} {first.event}, {where}: {first.message}{more}"


def _pointer_parts(pointer: str) -> list[str]:
    """The reference tokens of a JSON pointer (RFC 6901)."""
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]


def _no_route(request: Request) -> str:
    """Why nothing matched; paths have no trailing slash, and one sent with it hears so."""
    detail = f"no route matches {request.method} {request.url.path}"
    path = request.scope["path"]
    if len(path) > 1 and path.endswith("/") and _allowed_methods(request, path.rstrip("/")):
        detail += f"; paths have no trailing slash: {path.rstrip('/')}"
    return detail


def _allowed_methods(request: Request, path: str) -> list[str]:
    """Every method some route accepts on ``path`` (Starlette's ``Allow`` names only those of
    the first route that matched the path, e.g. POST but not GET on ``/v1/events``)."""
    routes: list[BaseRoute] = request.app.router.routes
    base = {"type": "http", "path": path, "root_path": "", "headers": []}
    return [
        method
        for method in HTTP_METHODS
        if any(route.matches({**base, "method": method})[0] is Match.FULL for route in routes)
    ]


async def _handle(request: Request, exc: Exception) -> Response:
    return problem_for(request, exc)


def install_problem_handlers(app: FastAPI) -> None:
    for exc_class in (EventStoreError, RequestValidationError, HTTPException, Exception):
        app.add_exception_handler(exc_class, _handle)
