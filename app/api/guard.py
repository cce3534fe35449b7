"""Every route declares who may call it; `GuardedRoute` enforces it before anything else.

Deliberate choices:

- A route's access rule is its OpenAPI ``security``, given with ``openapi_extra``:
  ``needs(Scope.APPEND)`` or `OPEN`. What the document tells generated clients is therefore
  exactly what the service enforces, and a route that declares nothing cannot be built
  (`GuardedRoute` raises), so no endpoint is left open by omission.
- The check runs first in the route's handler: before the body is read or validated, so that a
  caller without a token learns nothing about the request and sends no body into the service
  for nothing. It is a route class, not a middleware, because the route knows its rule; no path
  has to be matched twice.
- ``needs(Scope.READ, ticket=True)`` (the stream) also accepts ``?ticket=``; nothing else does.
- The principal is kept in the request's scope for the routes that count per token
  (`app.api.state.principal_of`).
- `app.api.openapi` adds the security schemes and the 401/403 answers to the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import Request, Response

from app.access.tickets import TICKET_PARAMETER
from app.access.tokens import Scope
from app.api.json_body import StrictJsonRoute
from app.api.state import access_of, set_principal

BEARER = "bearerAuth"
TICKET = "streamTicket"

OPEN: dict[str, Any] = {"security": []}
"""The access rule of a route anyone may call (health, readiness)."""


def needs(scope: Scope, *, ticket: bool = False) -> dict[str, Any]:
    """The access rule of a route that needs ``scope`` (and also takes a stream ticket)."""
    security: list[dict[str, list[str]]] = [{BEARER: [scope.value]}]
    if ticket:
        security.append({TICKET: []})
    return {"security": security}


def _rule(openapi_extra: Mapping[str, Any] | None, where: str) -> tuple[Scope | None, bool]:
    """``(scope, takes ticket)`` of a route's declared security; scope None for an open route."""
    if openapi_extra is None or "security" not in openapi_extra:
        raise TypeError(f"{where} declares no access rule: give openapi_extra=needs(...) or OPEN")
    security = openapi_extra["security"]
    if not security:
        return None, False
    return Scope(security[0][BEARER][0]), any(TICKET in entry for entry in security)


class GuardedRoute(StrictJsonRoute):
    """The route class of every API router."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        scope, takes_ticket = _rule(self.openapi_extra, f"{sorted(self.methods or ())} {self.path}")
        if scope is None:
            return handler

        async def guarded_handler(request: Request) -> Response:
            access = access_of(request)
            if not access.is_open:
                authorization = request.headers.get("authorization")
                ticket = (
                    request.query_params.get(TICKET_PARAMETER)
                    if takes_ticket and authorization is None
                    else None
                )
                set_principal(
                    request, access.authorize(scope, authorization=authorization, ticket=ticket)
                )
            return await handler(request)

        return guarded_handler
