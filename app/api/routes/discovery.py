"""Discovery: ``GET /v1/event-types``, ``GET /v1/tags``, ``GET /v1/stats``.

Deliberate choices:

- Every answer is read from counts the store maintains at append (`app.storage.sql.discovery`),
  so its cost does not grow with the store: the figures are in docs/performance.md.
- Event types are answered whole (a store has few of them); tags are paged by name with
  ``after`` and ``limit`` (a store may have millions), and ``limit`` above
  ``EVENTSTORE_MAX_READ_LIMIT`` is that maximum, as for events.
- Scope ``read``: discovery says no more than reading the events would.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.access.tokens import Scope
from app.api import discovery_models as models
from app.api import examples
from app.api.encoding import event_types_body, json_response, stats_body, tags_body
from app.api.guard import GuardedRoute, needs
from app.api.openapi import json_examples, problem_responses
from app.api.state import settings_of, store_of

router = APIRouter(tags=["discovery"], route_class=GuardedRoute)


@router.get(
    "/v1/event-types",
    operation_id="list_event_types",
    summary="The event types of the store",
    response_model=models.EventTypes,
    openapi_extra=needs(Scope.READ),
    responses={200: json_examples(examples.EVENT_TYPES), **problem_responses(503)},
)
async def list_event_types(request: Request) -> Response:
    """Every event type stored, in name order, with how many events it has, the positions of
    the first and the last, and whether a schema is registered for it."""
    return json_response(event_types_body(await store_of(request).event_types()))


@router.get(
    "/v1/tags",
    operation_id="list_tags",
    summary="The tags of the store",
    response_model=models.Tags,
    openapi_extra=needs(Scope.READ),
    responses={200: json_examples(examples.TAGS), **problem_responses(422, 503)},
)
async def list_tags(params: Annotated[models.TagsParams, Query()], request: Request) -> Response:
    """Tags in name order with the number of events carrying each, a page at a time; only
    those that start with ``prefix``, and only on the events of ``type`` when it is given."""
    store, settings = store_of(request), settings_of(request)
    limit = settings.max_read_limit
    if params.limit is not None:
        limit = min(limit, params.limit)
    page = await store.tags(
        prefix=params.prefix, event_type=params.event_type, after=params.after, limit=limit
    )
    return json_response(tags_body(page))


@router.get(
    "/v1/stats",
    operation_id="get_stats",
    summary="The figures of the store",
    response_model=models.Stats,
    openapi_extra=needs(Scope.READ),
    responses={200: json_examples(examples.STATS), **problem_responses(503)},
)
async def get_stats(request: Request) -> Response:
    """How many events, the head, when the first and last were stored, and the database's
    size where the database can tell."""
    return json_response(stats_body(await store_of(request).stats()))
