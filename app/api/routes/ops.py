"""Operations: ``GET /v1/head``, ``/healthz``, ``/readyz``, ``/metrics``.

Deliberate choices:

- ``/healthz`` answers as long as the process serves HTTP; it touches no database, so that an
  orchestrator does not restart a healthy process during a database outage.
- ``/readyz`` pings the database (`engine.ping`): 200, or the 503 problem of
  `StorageUnavailable`, also when the database has not answered within
  ``EVENTSTORE_READY_TIMEOUT_SECONDS`` (1 s): a probe must answer whatever the database does
  (with a table locked, it waited for the whole lock), and sooner than the timeouts of the
  requests, which may wait for a lock for seconds.
- ``/readyz`` reads; it does not take the write lock. While another process holds a SQLite
  file's write lock (a backup, the ``sqlite3`` shell), reads, streams and ``/readyz`` answer and
  appends are 503 with ``Retry-After`` (tests/faults/test_database_faults.py). Taking the lock in
  the probe would queue it on the one writer thread behind real appends (a probe stuck for the
  busy timeout under load, appends delayed by probes), and a "not ready" instance stops
  receiving reads that it can serve; with one process per SQLite file there is no other replica
  to send the writes to anyway. The 503 of each refused append is the signal.
- All four are in the OpenAPI document (tag ``operations``), with clean operation ids.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response

from app.access.tokens import Scope
from app.api import examples, schemas
from app.api.encoding import json_response
from app.api.guard import OPEN, GuardedRoute, needs
from app.api.openapi import json_examples, problem_responses
from app.api.state import metrics_of, settings_of, store_of
from app.errors import StorageUnavailable

router = APIRouter(tags=["operations"], route_class=GuardedRoute)


@router.get(
    "/v1/head",
    operation_id="get_head",
    summary="The position of the last stored event",
    response_model=schemas.Head,
    openapi_extra=needs(Scope.READ),
    responses={200: json_examples(examples.HEAD), **problem_responses(503)},
)
async def get_head(request: Request) -> Response:
    """0 for an empty store."""
    return json_response({"head": await store_of(request).head()})


@router.get(
    "/healthz",
    operation_id="healthz",
    summary="The process is up",
    openapi_extra=OPEN,
    responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
)
async def healthz() -> Response:
    return json_response({"status": "ok"})


@router.get(
    "/readyz",
    operation_id="readyz",
    summary="The database answers",
    openapi_extra=OPEN,
    responses={
        200: {"content": {"application/json": {"example": {"status": "ready"}}}},
        **problem_responses(
            503,
            s503="The database does not answer, or not within `EVENTSTORE_READY_TIMEOUT_SECONDS`.",
        ),
    },
)
async def readyz(request: Request) -> Response:
    seconds = settings_of(request).ready_timeout_seconds
    try:
        async with asyncio.timeout(seconds):
            await store_of(request).ping()
    except TimeoutError:
        raise StorageUnavailable(f"the database did not answer within {seconds} s") from None
    return json_response({"status": "ready"})


@router.get(
    "/metrics",
    operation_id="metrics",
    summary="Prometheus metrics",
    openapi_extra=needs(Scope.METRICS),
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    registry = metrics_of(request)
    return Response(registry.render(), media_type=registry.content_type)
