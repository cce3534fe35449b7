"""The JSON Schema of an event type's data: ``GET``/``PUT``/``DELETE
/v1/event-types/{type}/schema``.

Deliberate choices:

- The body of a PUT is the schema itself (Draft 2020-12), so a schema file is sent as it is.
  One that is not a valid schema is a 422 validation problem at the place in the body that is
  wrong.
- A schema that events already stored do not satisfy is refused, 409
  ``/problems/stored-events-violate-schema`` naming the first of them, unless the request says
  ``check_stored=false``: then it applies to the events appended from now on, and stored events
  stay as they are (events are never changed).
- Registering, replacing and deleting need scope ``admin``: a schema decides what every later
  append may say. Reading one needs ``read``.
- An event type may hold ``/``: the path takes everything between ``/v1/event-types/`` and
  ``/schema``.
- A PUT answers 200 with the schema now registered; a DELETE 204, whether or not there was one.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, Response
from pydantic import StrictBool

from app.access.tokens import Scope
from app.api import discovery_models as models
from app.api import examples
from app.api.encoding import json_response, schema_body
from app.api.guard import GuardedRoute, needs
from app.api.openapi import json_examples, problem_responses
from app.api.problem_models import StoredEventsViolateSchemaProblem
from app.api.schemas import EventTypeName
from app.api.state import store_of
from app.domain import dump_json
from app.errors import NotFound

router = APIRouter(tags=["event types"], route_class=GuardedRoute)

SCHEMA_PATH = "/v1/event-types/{event_type:path}/schema"
EventType = Annotated[
    EventTypeName,
    Path(
        description="The event type (it may hold `/`).",
        openapi_examples={"course": {"value": "CourseDefined"}},
    ),
]


@router.put(
    SCHEMA_PATH,
    operation_id="put_event_schema",
    summary="Register the JSON Schema of an event type's data",
    response_model=models.EventTypeSchema,
    openapi_extra=needs(Scope.ADMIN),
    responses={
        200: json_examples(examples.EVENT_SCHEMA),
        **problem_responses(
            409,
            413,
            415,
            422,
            503,
            models={409: StoredEventsViolateSchemaProblem},
            s409="Stored events of the type do not satisfy the schema; it was not registered "
            "(`/problems/stored-events-violate-schema`).",
            s422="The body is not a valid JSON Schema (Draft 2020-12), or a bad parameter "
            "(`/problems/validation`).",
        ),
    },
)
async def put_event_schema(
    event_type: EventType,
    schema: Annotated[dict[str, Any] | StrictBool, Body(openapi_examples=examples.SCHEMA_PUT)],
    request: Request,
    check_stored: Annotated[
        bool,
        Query(
            description="false: register it for the events appended from now on only, "
            "without checking those already stored."
        ),
    ] = True,
) -> Response:
    """From now on, an append with an event of this type whose data does not satisfy the
    schema is refused (422 `/problems/event-schema-violation`); replaces any schema the type
    had."""
    registered = await store_of(request).put_schema(
        event_type, dump_json(schema), check_stored=check_stored
    )
    return json_response(schema_body(registered))


@router.get(
    SCHEMA_PATH,
    operation_id="get_event_schema",
    summary="The JSON Schema of an event type's data",
    response_model=models.EventTypeSchema,
    openapi_extra=needs(Scope.READ),
    responses={
        200: json_examples(examples.EVENT_SCHEMA),
        **problem_responses(404, 422, 503, s404="No schema is registered for this type."),
    },
)
async def get_event_schema(event_type: EventType, request: Request) -> Response:
    registered = await store_of(request).get_schema(event_type)
    if registered is None:
        raise NotFound(f"no schema is registered for the event type {event_type!r}")
    return json_response(schema_body(registered))


@router.delete(
    SCHEMA_PATH,
    operation_id="delete_event_schema",
    summary="Stop checking an event type's data",
    status_code=204,
    openapi_extra=needs(Scope.ADMIN),
    response_class=Response,
    responses=problem_responses(422, 503),
)
async def delete_event_schema(event_type: EventType, request: Request) -> Response:
    await store_of(request).delete_schema(event_type)
    return Response(status_code=204)
