"""The request log: one line per request, and the request id that ties a client to it.

Deliberate choices:

- **One line per request, at its end**, from the outermost middleware of the app (so a 413, a
  CORS refusal or a stream is logged like the rest), on the ``app.requests`` logger at INFO:
  method, target, status, route template, duration, the name of the token the request was
  authorized as (never a token: tokens travel in a header, which is not logged), the request
  id, and for appends the positions stored (first and last: an append's positions are
  consecutive). It replaces uvicorn's access log, whose text it keeps at its start (client,
  ``"GET /path HTTP/1.1" 200``), so the text format says everything the JSON one does
  (`app.logs`). The target passes through `redact_tickets`; the route is a template.
- **The request id** (`app.api.request_id`) is accepted or made first, returned in the
  response's ``X-Request-ID`` and named in the line. The middleware wraps the whole app,
  Starlette's error middleware included (`app.main`), so that a 500 carries it too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.access.tokens import Principal
from app.api import request_id as ids
from app.api.access_log import redact_tickets
from app.api.metrics import UNMATCHED_ROUTE
from app.api.state import PRINCIPAL

logger = logging.getLogger("app.requests")

_POSITIONS_KEY = "eventstore.positions"


def record_positions(connection: HTTPConnection, positions: Sequence[int]) -> None:
    """Say, for the request log, which positions an append stored."""
    if positions:
        connection.scope[_POSITIONS_KEY] = (positions[0], positions[-1])


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = ids.accept(scope)
        encoded = request_id.encode()
        status = 500

        async def identified_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), (ids.HEADER, encoded)]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, identified_send)
        finally:
            if logger.isEnabledFor(logging.INFO):
                _log(scope, status, request_id, time.perf_counter() - started)


def _log(scope: Scope, status: int, request_id: str, seconds: float) -> None:
    route = getattr(scope.get("route"), "path", None)
    route = route if isinstance(route, str) else UNMATCHED_ROUTE
    path = scope.get("raw_path") or scope["path"].encode()
    target = path.decode("latin-1")
    if scope.get("query_string"):
        target += "?" + scope["query_string"].decode("latin-1")
    target = redact_tickets(target)
    client = scope.get("client")
    where = f"{client[0]}:{client[1]}" if client else "-"
    principal = scope.get(PRINCIPAL)
    token = principal.name if isinstance(principal, Principal) else None
    positions = scope.get(_POSITIONS_KEY)
    duration_ms = round(seconds * 1000, 3)
    fields: dict[str, object] = {
        "request_id": request_id,
        "method": scope["method"],
        "path": target,
        "route": route,
        "status": status,
        "duration_ms": duration_ms,
        "token": token,
        "client": where,
    }
    text = (
        f'{where} - "{scope["method"]} {target} HTTP/{scope.get("http_version", "1.1")}" '
        f"{status} route={route} duration_ms={duration_ms} token={token or '-'} "
        f"request_id={request_id}"
    )
    if positions is not None:
        fields["positions"] = list(positions)
        text += f" positions={positions[0]}-{positions[1]}"
    logger.info(text, extra={"fields": fields})
