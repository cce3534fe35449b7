"""``POST /v1/stream-tickets``: a short-lived, read-only credential for EventSource.

Deliberate choices:

- Needs scope ``read``, by bearer token only: a ticket cannot mint tickets, so one leaked from
  a URL cannot be stretched past its expiry.
- 200 with ``{"ticket", "expires_in"}`` (seconds), and ``Cache-Control: no-store``, as for any
  credential (RFC 6749 answers tokens so).
- In the open mode a ticket is issued too, so that a page works unchanged against an open
  instance; the stream does not look at it there. See `app.access.tickets`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.access.tokens import Scope
from app.api import examples, schemas
from app.api.encoding import json_response
from app.api.guard import GuardedRoute, needs
from app.api.openapi import json_examples
from app.api.state import access_of, principal_of

router = APIRouter(tags=["streams"], route_class=GuardedRoute)


@router.post(
    "/v1/stream-tickets",
    operation_id="create_stream_ticket",
    summary="Get a ticket to open the stream from a browser",
    response_model=schemas.StreamTicket,
    openapi_extra=needs(Scope.READ),
    responses={200: json_examples(examples.TICKET)},
)
async def create_stream_ticket(request: Request) -> Response:
    """A ticket accepted as ``?ticket=`` by ``GET /v1/events/stream`` until it expires, for
    EventSource, which cannot send an Authorization header. It can read the stream only."""
    ticket = access_of(request).tickets.issue(principal_of(request))
    return json_response(
        {"ticket": ticket.ticket, "expires_in": ticket.expires_in},
        headers={"Cache-Control": "no-store"},
    )
