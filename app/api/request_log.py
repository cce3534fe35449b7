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
- **The request id** is the client's ``X-Request-ID`` when it is a plain identifier
  (`REQUEST_ID`: up to 128 letters, digits and ``._:-``, enough for UUIDs and trace ids, and
  nothing that could forge a log line or a header), otherwise a new random one; either way it
  is returned in the response's ``X-Request-ID`` and stands in every line logged about the
  request. An unusable one is not echoed anywhere.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Sequence

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.access.tokens import Principal
from app.api.access_log import redact_tickets
from app.api.metrics import UNMATCHED_ROUTE
from app.api.state import PRINCIPAL

logger = logging.getLogger("app.requests")

HEADER = b"x-request-id"
REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_ID_KEY = "eventstore.request_id"
_POSITIONS_KEY = "eventstore.positions"


def request_id_of(connection: HTTPConnection) -> str | None:
    value = connection.scope.get(_ID_KEY)
    return value if isinstance(value, str) else None


def record_positions(connection: HTTPConnection, positions: Sequence[int]) -> None:
    """Say, for the request log, which positions an append stored."""
    if positions:
        connection.scope[_POSITIONS_KEY] = (positions[0], positions[-1])


def accepted_request_id(headers: Sequence[tuple[bytes, bytes]]) -> str:
    """The client's ``X-Request-ID`` if it is usable (see the module docstring), or a new one."""
    for name, value in headers:
        if name == HEADER:
            text = value.decode("latin-1")
            if REQUEST_ID.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = accepted_request_id(scope.get("headers", ()))
        scope[_ID_KEY] = request_id
        encoded = request_id.encode()
        status = 500

        async def identified_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (name, value)
                    for name, value in message.get("headers", ())
                    if name.lower() != HEADER
                ]
                message = {**message, "headers": [*headers, (HEADER, encoded)]}
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
