"""Snapshots: ``PUT``/``GET``/``DELETE /v1/snapshots/{name}/{key}``.

Deliberate choices:

- ``name`` and ``key`` are 1 to 255 characters without NUL, like event types, and without ``/``.
  A ``/`` sent percent-encoded (``%2F``) is decoded before routing, so such a name never
  reached the route (a 404: it could never be addressed); it is refused instead, at PUT as at
  GET and DELETE, with a 422 naming ``name`` or ``key`` (`refuse_slashes`, a route of its own
  after the real ones). Names are exact: invalid UTF-8 in the path is refused before any route
  (`app.api.request_target`), so ``%FF`` and ``%FE`` can no longer both become U+FFFD.
- ``state`` is required in a PUT (``null`` is a valid state, a forgotten one is a client bug);
  ``metadata`` defaults to ``{}``.
- A PUT answers 200 with the snapshot now stored, which is the older one when the stored
  snapshot is newer than the one sent: the client sees what a later read will start from.
- DELETE is idempotent: 204 whether or not a snapshot was stored.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from app.access.tokens import Scope
from app.api import conversion, examples, schemas
from app.api.encoding import json_response, snapshot_body
from app.api.guard import GuardedRoute, needs
from app.api.openapi import json_examples, problem_responses
from app.api.problem_models import ValidationProblem, WriteRefusedProblem
from app.api.state import store_of
from app.errors import SnapshotNotFound

router = APIRouter(tags=["snapshots"], route_class=GuardedRoute)

SNAPSHOT_PATH = "/v1/snapshots/{name}/{key}"
Name = Annotated[
    schemas.SnapshotNamePart,
    Path(description="The state's name.", openapi_examples={"course": {"value": "course-state"}}),
]
Key = Annotated[
    schemas.SnapshotNamePart,
    Path(description="Whose state it is.", openapi_examples={"c1": {"value": "c1"}}),
]


@router.put(
    SNAPSHOT_PATH,
    operation_id="put_snapshot",
    summary="Store a snapshot",
    response_model=schemas.Snapshot,
    openapi_extra=needs(Scope.SNAPSHOT),
    response_description="The snapshot now stored (the older one is kept when it is newer).",
    responses={
        200: json_examples(examples.SNAPSHOT),
        **problem_responses(
            413,
            415,
            422,
            503,
            models={422: ValidationProblem | WriteRefusedProblem},
            s422="Malformed input, or `position` above the head (`/problems/validation`); or a row "
            "the database itself refused (`/problems/write-refused`).",
        ),
    },
)
async def put_snapshot(
    name: Name,
    key: Key,
    body: Annotated[schemas.SnapshotPut, Body(openapi_examples=examples.SNAPSHOT_PUT)],
    request: Request,
) -> Response:
    """Store the state ``name`` of ``key``, folded up to ``position``, unless the stored one is
    newer."""
    stored = await store_of(request).put_snapshot(conversion.to_snapshot_input(name, key, body))
    return json_response(snapshot_body(stored))


@router.get(
    SNAPSHOT_PATH,
    operation_id="get_snapshot",
    summary="Load a snapshot",
    response_model=schemas.Snapshot,
    openapi_extra=needs(Scope.READ),
    responses={200: json_examples(examples.SNAPSHOT), **problem_responses(404, 422, 503)},
)
async def get_snapshot(name: Name, key: Key, request: Request) -> Response:
    snapshot = await store_of(request).get_snapshot(name, key)
    if snapshot is None:
        raise SnapshotNotFound(name, key)
    return json_response(snapshot_body(snapshot))


@router.delete(
    SNAPSHOT_PATH,
    operation_id="delete_snapshot",
    summary="Delete a snapshot",
    status_code=204,
    openapi_extra=needs(Scope.SNAPSHOT),
    response_class=Response,
    responses=problem_responses(
        422,
        503,
        models={422: ValidationProblem | WriteRefusedProblem},
        s422="Malformed input (`/problems/validation`), or a deletion the database itself "
        "refused (`/problems/write-refused`).",
    ),
)
async def delete_snapshot(name: Name, key: Key, request: Request) -> Response:
    await store_of(request).delete_snapshot(name, key)
    return Response(status_code=204)


SLASH = "must not contain '/' (sent as %2F)"


async def refuse_slashes(request: Request) -> Response:
    """A path under ``/v1/snapshots/`` that no snapshot route matched: a 422 when its name or
    key holds a ``%2F`` (decoded to ``/`` before routing), otherwise the 404 it was."""
    segments = request.scope.get("raw_path", b"").split(b"/")[3:]  # "", "v1", "snapshots"
    if len(segments) >= 2:
        errors = [
            {"loc": ("path", part), "msg": SLASH, "type": "slash"}
            for part, segment in zip(("name", "key"), segments[:2], strict=False)
            if b"%2f" in segment.lower()
        ]
        if errors and len(segments) == 2:
            raise RequestValidationError(errors)
    raise HTTPException(404)


for method, rule in (
    ("GET", needs(Scope.READ)),
    ("PUT", needs(Scope.SNAPSHOT)),
    ("DELETE", needs(Scope.SNAPSHOT)),
):
    router.add_api_route(
        "/v1/snapshots/{rest:path}",
        refuse_slashes,
        methods=[method],
        include_in_schema=False,
        openapi_extra=rule,
    )
