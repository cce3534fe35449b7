"""Stream tickets: short-lived read-only credentials for browsers' EventSource.

EventSource cannot send an ``Authorization`` header, so a page asks ``POST /v1/stream-tickets``
(with its token, scope ``read``) for a ticket and opens ``/v1/events/stream?ticket=...``.

Deliberate choices:

- A ticket is signed, not stored: ``itsdangerous`` signs the token's name and the expiry time
  with HMAC-SHA256 under the ticket secret. Nothing to clean up, and any instance that shares
  the secret (``EVENTSTORE_STREAM_TICKET_SECRET``) accepts it. Without a configured secret each
  process makes a random one, so its tickets are good only on that process and not after a
  restart.
- It carries no token, only the token's name. When used it is checked again against the tokens
  configured now: a ticket of a token that was removed, or lost its ``read`` scope, is refused.
- It is reusable until it expires, so that EventSource can reconnect with ``Last-Event-ID``, and
  it grants only ``read`` on the stream (the route layer accepts it nowhere else). A stream opened
  with it ends when it expires.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from itsdangerous import BadData, URLSafeSerializer

from app.access.tokens import Principal, Scope, TokenRegistry

_SALT = "eventstore.stream-ticket"
TICKET_PARAMETER = "ticket"
"""The query parameter a ticket travels in, on ``/v1/events/stream``."""


@dataclass(frozen=True)
class Ticket:
    ticket: str
    expires_in: int


class TicketIssuer:
    def __init__(
        self,
        registry: TokenRegistry,
        *,
        lifetime_seconds: int,
        secret: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._registry = registry
        self._lifetime = lifetime_seconds
        self._serializer = URLSafeSerializer(secret or secrets.token_bytes(32), salt=_SALT)
        self._clock = clock

    def use(self, registry: TokenRegistry) -> None:
        """Check tickets against the tokens of ``registry`` from now on."""
        self._registry = registry

    def issue(self, principal: Principal) -> Ticket:
        expires_at = round(self._clock() + self._lifetime, 3)
        ticket = self._serializer.dumps({"sub": principal.name, "exp": expires_at})
        return Ticket(ticket=ticket, expires_in=self._lifetime)

    def redeem(self, ticket: str) -> Principal | None:
        """The read-only principal of a valid, unexpired ticket whose token still reads; or None."""
        try:
            payload = self._serializer.loads(ticket)
        except BadData:
            return None
        if not isinstance(payload, dict):
            return None
        name, expires_at = payload.get("sub"), payload.get("exp")
        if not isinstance(name, str) or not isinstance(expires_at, int | float):
            return None
        if self._clock() >= expires_at:
            return None
        principal = self._registry.by_name(name)
        if principal is None or not principal.has(Scope.READ):
            return None
        return Principal(name, frozenset({Scope.READ}), ticket_expires_at=float(expires_at))
