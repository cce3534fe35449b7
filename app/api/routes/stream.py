"""``GET /v1/events/stream``: committed events as server-sent events, resumable by position.

Deliberate choices:

- Parameters are checked before the stream starts: a bad one is an ordinary 4xx problem, not a
  stream that ends at once. ``type``/``tag`` (one query item) and ``query`` (a JSON Query) are
  exclusive; ``Last-Event-ID`` (sent by EventSource on reconnect) wins over ``after``; without
  either the stream starts at the current head (only new events).
- Each event is one message, ``id: <position>`` and ``data: <event JSON>``, encoded once per
  process by the tail reader (`app.streaming`) and shared by every stream that wants it. With
  ``event_names=true`` each message also says ``event: <its type>``, so that a page can
  ``addEventListener("CourseDefined", ...)``; such messages no longer reach ``onmessage``, which
  is why it is not the default.
- ``live=false`` ends after the events that existed when the stream started (the head then).
- Access: scope ``read``, by bearer token or by a stream ticket (``?ticket=``, see
  `app.access.tickets`). A stream opened with a ticket ends when the ticket expires; EventSource
  then reconnects and is refused (401), and the page mints a new ticket. Every stream holds a
  slot of `app.access.limits.StreamSlots` from the moment it is accepted until its response
  ends, however it ends (`EventStream` releases it).
- Heartbeats are SSE comments every ``EVENTSTORE_HEARTBEAT_SECONDS``. A stream ends cleanly after
  ``EVENTSTORE_STREAM_MAX_SECONDS`` (the client reconnects with ``Last-Event-ID``), when the
  service shuts down, and when its client accepts no data for
  ``EVENTSTORE_STREAM_SEND_TIMEOUT_SECONDS``.
- At shutdown the tail reader ends every stream's messages (`app.main.ShutdownNotice`), so the
  response ends with its terminating chunk. sse-starlette also watches uvicorn's exit, and used
  to cancel the response at once: 20 of 20 streams ended with an incomplete chunked body and an
  "ASGI callable returned without completing response" error each. It now first gives the
  stream `SHUTDOWN_GRACE_SECONDS` to end by itself (served by ``uvicorn app.main:app``, without
  the notice, streams are still cut off after that).
- The maximum lifetime is checked while the stream waits for its next event, never across a
  ``yield``: the generator runs in the task that sends its messages, so a timeout spanning the
  ``yield`` would fire in whatever that task awaits meanwhile (sse-starlette's send to a slow
  client) and cancel the response half-way through a chunk, instead of ending the stream. A
  stream may so run past its lifetime by the events already at hand (a history batch, or its
  live buffer).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sse_starlette import EventSourceResponse
from sse_starlette.sse import SendTimeoutError
from starlette.types import Receive, Send
from starlette.types import Scope as ASGIScope

from app.access.limits import Slot
from app.access.tokens import Scope
from app.api import conversion, examples, schemas
from app.api.guard import GuardedRoute, needs
from app.api.openapi import problem_responses
from app.api.state import access_of, principal_of, settings_of, store_of, tail_of
from app.config import Settings
from app.domain import Query as DomainQuery
from app.streaming import Delivery, TailReader

logger = logging.getLogger(__name__)

router = APIRouter(tags=["events"], route_class=GuardedRoute)


class EventStream(EventSourceResponse):
    """An SSE response that holds a stream slot until it ends. One whose client stopped reading
    is cut off quietly: that is the send timeout doing its job, not an error of the application
    (the client resumes with Last-Event-ID)."""

    def __init__(self, messages: AsyncIterator[bytes], slot: Slot, **options: Any) -> None:
        super().__init__(messages, **options)
        self.slot = slot

    async def __call__(self, scope: ASGIScope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except SendTimeoutError:
            logger.info("stream cut off: its client accepted no data for %ss", self.send_timeout)
        finally:
            self.slot.release()


SHUTDOWN_GRACE_SECONDS = 1.0
"""How long sse-starlette lets a stream end by itself once it sees uvicorn exit; ours are ended
by the shutdown notice about 0.1 s after the signal."""

STREAM_DESCRIPTION = (
    "A `text/event-stream`: one message per matching event, `id: <position>` and "
    "`data: <Event as one line of JSON>`, in position order; SSE comments as heartbeats."
)


def stream_query(types: list[str], tags: list[str], query: str | None) -> DomainQuery:
    """The stream's query from ``type``/``tag`` or ``query`` (the app's limits are checked by
    the models, `app.api.request_limits`)."""
    if query is not None:
        if types or tags:
            raise conversion.invalid(("query", "query"), "give either type/tag or query, not both")
        try:
            parsed = schemas.Query.model_validate_json(query)
        except ValidationError as error:
            raise RequestValidationError(
                [{**e, "loc": ("query", "query", *e["loc"])} for e in error.errors()]
            ) from error
        return conversion.to_query(parsed)
    return conversion.query_of_parameters(types, tags)


MAX_POSITION_DIGITS = 30
"""Far beyond any position. Without a bound, a header of more than 4300 digits made ``int()``
raise (a 500 instead of a 422)."""


def resume_position(last_event_id: str | None) -> int | None:
    if last_event_id is None:
        return None
    if not last_event_id.isdecimal() or len(last_event_id) > MAX_POSITION_DIGITS:
        raise conversion.invalid(
            ("header", "last-event-id"), "must be a position (a non-negative integer)"
        )
    return int(last_event_id)


async def _messages(
    tail: TailReader,
    query: DomainQuery,
    *,
    after: int,
    live_until: int | None,
    ends_at: float,
    named: bool,
    settings: Settings,
) -> AsyncIterator[bytes]:
    """The stream's messages, a batch of them per write; ``live_until`` None follows the store
    live until ``ends_at`` (epoch seconds); ``named`` gives each its event type as its name."""
    encode = _named if named else _unnamed
    if live_until is not None:
        async for batch in tail.history(
            query, after=after, through=live_until, batch=settings.stream_batch_size
        ):
            yield encode(batch)
        return
    subscription = tail.subscribe(query, after)
    deliveries = subscription.batches()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + (ends_at - time.time())
    try:
        while True:
            # The lifetime bounds the wait for the next event, never the yield: see the module
            # docstring.
            try:
                async with asyncio.timeout_at(deadline):
                    batch = await anext(deliveries)
            except (TimeoutError, StopAsyncIteration):
                # The lifetime or the ticket is over (the client reconnects with
                # Last-Event-ID), or the tail reader stopped (the service is shutting down).
                return
            yield encode(batch)
    finally:
        subscription.close()


def _unnamed(batch: list[Delivery]) -> bytes:
    return b"".join(delivery.message for delivery in batch)


def _named(batch: list[Delivery]) -> bytes:
    return b"".join(delivery.named for delivery in batch)


@router.get(
    "/v1/events/stream",
    operation_id="stream_events",
    summary="Stream events as server-sent events",
    response_class=EventStream,
    status_code=200,
    responses={
        200: {
            "content": {
                "text/event-stream": {
                    "schema": {
                        "type": "string",
                        "description": "Server-sent events: per matching event `id: <position>`, "
                        "`event: <type>` with `event_names=true`, and `data: <the Event as "
                        "one line of JSON>` (schema `Event`), then a blank line; comment "
                        "lines (`: ping ...`) as heartbeats.",
                    },
                    "example": examples.STREAM,
                }
            }
        },
        **problem_responses(422, 429, 503),
    },
    response_description=STREAM_DESCRIPTION,
    openapi_extra=needs(Scope.READ, ticket=True),
)
async def stream_events(
    params: Annotated[schemas.StreamParams, Query()],
    request: Request,
    last_event_id: Annotated[
        str | None, Header(description="Sent by EventSource on reconnect; wins over `after`.")
    ] = None,
) -> EventStream:
    """Every matching event after the start position, in position order, each exactly once,
    across catch-up, live delivery and reconnects."""
    store, tail, settings = store_of(request), tail_of(request), settings_of(request)
    query = stream_query(params.types, params.tags, params.query)
    start = resume_position(last_event_id)
    if start is None:
        start = params.after
    principal = principal_of(request)
    ends_at = time.time() + settings.stream_max_seconds
    if principal.ticket_expires_at is not None:
        ends_at = min(ends_at, principal.ticket_expires_at)
    slot = access_of(request).streams.acquire(principal)
    try:
        head = await store.head() if start is None or not params.live else None
    except BaseException:
        slot.release()
        raise
    messages = _messages(
        tail,
        query,
        after=start if start is not None else (head or 0),
        live_until=None if params.live else head,
        ends_at=ends_at,
        named=params.event_names,
        settings=settings,
    )
    return EventStream(
        messages,
        slot,
        ping=settings.heartbeat_seconds,
        send_timeout=settings.stream_send_timeout_seconds,
        sep="\n",
        shutdown_grace_period=SHUTDOWN_GRACE_SECONDS,
    )
