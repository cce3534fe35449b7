"""Append and read events: ``POST /v1/events``, ``POST /v1/events/query``, ``GET /v1/events``.

Thin on purpose: convert the wire models, call the storage engine, encode the result.

Deliberate choices:

- More than ``max_events_per_append`` events is a 413 (a size limit, like the body bytes);
  more than ``max_query_items`` items, or ``max_values_per_item`` types or tags in one item, is a
  422 validation problem pointing at the offending list: the request is well within the size
  limits, but its query is one the server will not run. The models count these lists before
  validating their elements (`app.api.request_limits`).
- ``X-Correlation-ID`` / ``X-Causation-ID`` are read from the request and declared in the OpenAPI
  document by hand, not as FastAPI header parameters (see app/api/state.py on per-request cost).
  Each is at most 255 printable ASCII characters (422 naming the header otherwise). They are
  written into each event's metadata as
  ``correlation_id`` / ``causation_id`` unless the event's metadata already has them; then the
  ``metadata_tag_keys`` tags are derived (so a correlation id can become a tag too). A retry of
  an idempotent append must send the same headers, or its metadata differs (422 id reused).
- A read with a snapshot reads from ``max(after, snapshot.position)``; ``snapshot_due`` is true
  when the events returned reach ``snapshot_after_events``. Without a stored snapshot the read
  starts at ``after``, and ``snapshot`` is null.
- ``limit`` absent, null or above ``max_read_limit`` is ``max_read_limit``.
- The query parameters of ``GET /v1/events`` stay declared as one model
  (``Annotated[ListEventsParams, Query()]``), so that FastAPI documents every parameter as
  before, but FastAPI's request handler does not parse them: the route takes nothing else, so
  `app.api.direct_route` calls it directly with the model parsed by `app.api.query_parameters`,
  exactly as FastAPI would have parsed it (same values, same refusals, checked against FastAPI
  by ``tests/api/test_query_parameters.py``). A one-tag read went from 2.54 to 2.08 million
  instructions (0.82; `bench/request_cost.py`, callgrind). The stream's parameters
  (``GET /v1/events/stream``) share the model's fields but are parsed by FastAPI: that route
  also takes ``Last-Event-ID`` as a header parameter, and a stream is parsed once per stream.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response

from app.access.tokens import Scope
from app.api import conversion, examples, schemas
from app.api.encoding import REPLAYED_HEADER, append_response, read_response
from app.api.guard import GuardedRoute, needs
from app.api.openapi import header_parameter, json_examples, problem_responses
from app.api.problem_models import (
    EventIdReusedProblem,
    EventSchemaViolationProblem,
    ValidationProblem,
    WriteRefusedProblem,
)
from app.api.request_log import record_positions
from app.api.state import metrics_of, settings_of, store_of
from app.config import Settings
from app.domain import Query as DomainQuery
from app.domain import ReadResult
from app.errors import AppendConditionFailed
from app.storage.protocol import EventStorageEngine

router = APIRouter(tags=["events"], route_class=GuardedRoute)

CORRELATION_HEADER = "X-Correlation-ID"
CAUSATION_HEADER = "X-Causation-ID"


@router.post(
    "/v1/events",
    operation_id="append_events",
    summary="Append events",
    status_code=201,
    response_model=schemas.AppendResponse,
    response_description="Stored, at consecutive positions.",
    openapi_extra={
        **needs(Scope.APPEND),
        "parameters": [
            header_parameter(
                CORRELATION_HEADER,
                "Recorded as `metadata.correlation_id` unless present. At most 255 printable "
                "ASCII characters.",
                max_length=conversion.MAX_TRACE_ID_LENGTH,
            ),
            header_parameter(
                CAUSATION_HEADER,
                "Recorded as `metadata.causation_id` unless present. At most 255 printable "
                "ASCII characters.",
                max_length=conversion.MAX_TRACE_ID_LENGTH,
            ),
        ],
    },
    responses={
        201: json_examples(examples.APPENDED),
        200: {
            "model": schemas.AppendResponse,
            "description": "A retry of an earlier append (every id given, same content): its "
            "original result.",
            "headers": {
                REPLAYED_HEADER: {"schema": {"type": "string", "enum": ["true"]}},
            },
            **json_examples(examples.REPLAYED),
        },
        **problem_responses(
            409,
            413,
            415,
            422,
            429,
            503,
            models={
                422: ValidationProblem
                | EventIdReusedProblem
                | EventSchemaViolationProblem
                | WriteRefusedProblem
            },
            s422="Malformed input (`/problems/validation`), an event id already stored by "
            "another append (`/problems/event-id-reused`), data that breaks its type's schema "
            "(`/problems/event-schema-violation`), or rows the database itself refused "
            "(`/problems/write-refused`).",
        ),
    },
)
async def append_events(
    body: Annotated[schemas.AppendRequest, Body(openapi_examples=examples.APPEND)],
    request: Request,
) -> Response:
    """Store the events atomically, in order, at consecutive positions, or none of them."""
    store, settings, metrics = store_of(request), settings_of(request), metrics_of(request)
    headers = request.headers
    correlation_id = conversion.trace_id(headers.get(CORRELATION_HEADER), CORRELATION_HEADER)
    causation_id = conversion.trace_id(headers.get(CAUSATION_HEADER), CAUSATION_HEADER)
    events = [
        conversion.to_event_input(
            event,
            index=index,
            correlation_id=correlation_id,
            causation_id=causation_id,
            metadata_tag_keys=settings.metadata_tag_keys,
        )
        for index, event in enumerate(body.events)
    ]
    condition = conversion.to_append_condition(body.condition)
    try:
        result = await store.append(events, condition)
    except AppendConditionFailed:
        metrics.record_conflict()
        raise
    metrics.record_append(result)
    record_positions(request, result.positions)
    return append_response(result)


@router.post(
    "/v1/events/query",
    operation_id="read_events",
    summary="Read events matching a query",
    response_model=schemas.ReadResponse,
    openapi_extra=needs(Scope.READ),
    responses={200: json_examples(examples.READ_RESULTS), **problem_responses(413, 415, 422, 503)},
)
async def read_events(
    request: Request,
    body: Annotated[
        schemas.ReadRequest,
        Body(default_factory=schemas.ReadRequest, openapi_examples=examples.READ),
    ],
) -> Response:
    """Events matching ``query`` with ``after < position < before``, in position order (reversed
    when ``backwards``), at most ``limit``; page on with ``after = marker``. The body is optional:
    none (or ``{}``) reads every event."""
    store, settings = store_of(request), settings_of(request)
    query = conversion.to_query(body.query)
    if body.snapshot is None:
        return read_response(await _read(store, settings, query, body))
    snapshot = await store.get_snapshot(body.snapshot.name, body.snapshot.key)
    after = body.after if snapshot is None else max(body.after, snapshot.position)
    result = await _read(store, settings, query, body, after=after)
    due = len(result.events) >= settings.snapshot_after_events
    return read_response(result, snapshot=snapshot, snapshot_due=due)


@router.get(
    "/v1/events",
    operation_id="list_events",
    summary="Read events (query parameters)",
    response_model=schemas.ReadResponse,
    openapi_extra=needs(Scope.READ),
    responses={200: json_examples(examples.LIST_RESULTS), **problem_responses(422, 503)},
)
async def list_events(
    params: Annotated[schemas.ListEventsParams, Query()], request: Request
) -> Response:
    """The same read for curl: the ``type``s and ``tag``s form one query item; with neither,
    every event matches. Unknown parameters are refused (422)."""
    store, settings = store_of(request), settings_of(request)
    query = conversion.query_of_parameters(params.types, params.tags)
    return read_response(await _read(store, settings, query, params))


def _clamp(limit: int | None, settings: Settings) -> int:
    return settings.max_read_limit if limit is None else min(limit, settings.max_read_limit)


async def _read(
    store: EventStorageEngine,
    settings: Settings,
    query: DomainQuery,
    request: schemas.ReadRequest | schemas.ListEventsParams,
    *,
    after: int | None = None,
) -> ReadResult:
    return await store.read(
        query,
        after=request.after if after is None else after,
        before=request.before,
        limit=_clamp(request.limit, settings),
        backwards=request.backwards,
    )
