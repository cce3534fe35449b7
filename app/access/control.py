"""`AccessControl`: the one decision of who may do what, made before a request is handled.

Deliberate choices:

- With no token configured the service is open: every request acts as `ANONYMOUS`, which holds
  every scope, and credentials are not looked at (so a client configured with a token keeps
  working against a local, open instance). Only the total stream limit applies.
- ``Authorization: Bearer <token>`` is the credential everywhere. A stream ticket (``?ticket=``)
  is looked at only where the route allows it (the stream), and only without a bearer token.
- No credential, a malformed header, an unknown token or a bad or expired ticket are
  `Unauthorized` (401); a known token without the scope is `Forbidden` (403). Appends then take
  from the token's rate (`AppendRate`, 429 when over).
- ``/metrics`` needs the ``metrics`` scope unless ``EVENTSTORE_METRICS_PUBLIC`` is set.
- Built at start-up (`from_settings` reads the tokens file), kept in the service's state
  (`app.api.state`). A worker among several counts streams and appends in the table it shares
  with the others (`app.access.shared_limits`), so that the limits hold for the whole service.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from app.access.limits import AppendRate, Slot, StreamSlots
from app.access.shared_limits import (
    SharedAppendRate,
    SharedLimitsTable,
    SharedStreamSlots,
)
from app.access.tickets import TicketIssuer
from app.access.tokens import ANONYMOUS, Principal, Scope, TokenRegistry
from app.config import Settings
from app.errors import Forbidden, Unauthorized

_BEARER = "bearer"


class Streams(Protocol):
    total: int
    per_token: int

    @property
    def open_streams(self) -> int: ...

    def acquire(self, principal: Principal) -> Slot: ...


class Appends(Protocol):
    def take(self, principal: Principal) -> None: ...


@dataclass(frozen=True)
class SharedLimits:
    """Where a worker among several keeps its limits: the table, and its column in it."""

    table: SharedLimitsTable
    worker: int


class AccessControl:
    def __init__(
        self,
        registry: TokenRegistry,
        tickets: TicketIssuer,
        streams: Streams,
        *,
        append_rate: Appends | None = None,
        metrics_public: bool = False,
    ) -> None:
        self.registry = registry
        self.tickets = tickets
        self.streams = streams
        self.append_rate = append_rate
        self.metrics_public = metrics_public

    @classmethod
    def from_settings(
        cls, settings: Settings, *, shared: SharedLimits | None = None
    ) -> AccessControl:
        """Raises `TokenConfigError` for a tokens configuration that cannot be used. With
        ``shared``, the limits are counted for the whole service there."""
        registry = TokenRegistry.load(settings.api_tokens, settings.api_tokens_file)
        secret = settings.stream_ticket_secret
        tickets = TicketIssuer(
            registry,
            lifetime_seconds=settings.stream_ticket_seconds,
            secret=secret.get_secret_value() if secret is not None else None,
        )
        total, per_token = settings.max_streams, settings.max_streams_per_token
        rate, burst = settings.append_rate_per_token, settings.append_burst_per_token
        streams: Streams
        append_rate: Appends | None
        if shared is None:
            streams = StreamSlots(total=total, per_token=per_token)
            append_rate = AppendRate(rate=rate, burst=burst) if rate else None
        else:
            streams = SharedStreamSlots(
                shared.table, shared.worker, total=total, per_token=per_token
            )
            append_rate = SharedAppendRate(shared.table, rate=rate, burst=burst) if rate else None
        return cls(
            registry,
            tickets,
            streams,
            append_rate=append_rate,
            metrics_public=settings.metrics_public,
        )

    def use(self, registry: TokenRegistry) -> None:
        """Check requests against ``registry`` from now on (a reload of the tokens)."""
        self.registry = registry
        self.tickets.use(registry)

    @property
    def is_open(self) -> bool:
        return self.registry.is_open

    def authorize(
        self, scope: Scope, *, authorization: str | None, ticket: str | None = None
    ) -> Principal:
        """The principal allowed ``scope`` by these credentials; raises `Unauthorized`,
        `Forbidden` or `TooManyRequests`. ``ticket`` is given only where tickets are accepted."""
        if self.is_open or (scope is Scope.METRICS and self.metrics_public):
            return ANONYMOUS
        principal = self._authenticate(authorization, ticket)
        if not principal.has(scope):
            raise Forbidden(scope.value)
        if scope is Scope.APPEND and self.append_rate is not None:
            self.append_rate.take(principal)
        return principal

    def _authenticate(self, authorization: str | None, ticket: str | None) -> Principal:
        if authorization is not None:
            scheme, _, token = authorization.strip().partition(" ")
            token = token.strip()
            if scheme.lower() != _BEARER or not token:
                raise Unauthorized(
                    "the Authorization header must be 'Bearer <token>'", invalid_token=True
                )
            principal = self.registry.authenticate(token)
            if principal is None:
                raise Unauthorized("the token is not known", invalid_token=True)
            return principal
        if ticket is not None:
            principal = self.tickets.redeem(ticket)
            if principal is None:
                raise Unauthorized(
                    "the stream ticket is not valid or has expired", invalid_token=True
                )
            return principal
        raise Unauthorized(
            "this endpoint needs a token: send Authorization: Bearer <token>", invalid_token=False
        )
