"""The errors the stores raise: one class per problem type of the contract, each carrying the
problem body it was told.

Choices:
- The class is picked by the problem's ``type`` (``/problems/append-condition-failed`` ->
  ``AppendConditionFailed``), and for ``about:blank`` problems by the status (503 ->
  ``ServiceUnavailable``), so an ``except`` names what happened, not a status code.
- Every error keeps the whole body (``problem``) and the status; the members some types add
  (``head`` and ``conflicting_position``, ``errors``, ``violations``, ``scope``,
  ``Retry-After``) are attributes as well.
- A request that never got an answer (connection refused or reset, a timeout) after the
  store's retries is ``EventStoreUnavailable``, with httpx's error as its ``__cause__``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = [
    "AppendConditionFailed",
    "BadRequest",
    "EventIdReused",
    "EventSchemaViolation",
    "EventStoreError",
    "EventStoreUnavailable",
    "Forbidden",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "ProblemError",
    "ServerError",
    "ServiceUnavailable",
    "StoredEventsViolateSchema",
    "TooManyRequests",
    "Unauthorized",
    "UnsupportedMediaType",
    "ValidationFailed",
    "WriteRefused",
    "problem_error",
]


class EventStoreError(Exception):
    """Anything the client library raises about the service."""


class EventStoreUnavailable(EventStoreError):
    """No answer from the service (connection refused or reset, timed out), after retries."""


class ProblemError(EventStoreError):
    """The service answered with an RFC 9457 problem."""

    problem_type: ClassVar[str | None] = None

    def __init__(
        self, status: int, problem: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> None:
        self.status = status
        self.problem: dict[str, Any] = dict(problem)
        self.headers: dict[str, str] = dict(headers or {})
        self.type: str = str(self.problem.get("type", "about:blank"))
        self.title: str = str(self.problem.get("title", ""))
        self.detail: str = str(self.problem.get("detail", ""))
        super().__init__(f"{status} {self.title}: {self.detail}".rstrip(": "))

    @property
    def retry_after(self) -> float | None:
        """The ``Retry-After`` header in seconds, when sent."""
        value = self.headers.get("retry-after")
        try:
            return None if value is None else float(value)
        except ValueError:
            return None


class Unauthorized(ProblemError):
    problem_type = "/problems/unauthorized"


class Forbidden(ProblemError):
    problem_type = "/problems/forbidden"

    @property
    def scope(self) -> str | None:
        scope = self.problem.get("scope")
        return None if scope is None else str(scope)


class NotFound(ProblemError):
    problem_type = "/problems/not-found"


class MethodNotAllowed(ProblemError):
    problem_type = "/problems/method-not-allowed"


class AppendConditionFailed(ProblemError):
    """An event matching the condition's query was stored after its ``after``; nothing of the
    append was stored. ``conflicting_position`` is the first such event, ``head`` the head
    when it was decided."""

    problem_type = "/problems/append-condition-failed"

    @property
    def head(self) -> int:
        return int(self.problem["head"])

    @property
    def conflicting_position(self) -> int:
        return int(self.problem["conflicting_position"])


class PayloadTooLarge(ProblemError):
    problem_type = "/problems/payload-too-large"


class UnsupportedMediaType(ProblemError):
    problem_type = "/problems/unsupported-media-type"


class ValidationFailed(ProblemError):
    problem_type = "/problems/validation"

    @property
    def errors(self) -> list[dict[str, Any]]:
        return list(self.problem.get("errors") or [])


class EventIdReused(ProblemError):
    """An id of the append is stored already, not as this exact append."""

    problem_type = "/problems/event-id-reused"


class StoredEventsViolateSchema(ProblemError):
    problem_type = "/problems/stored-events-violate-schema"

    @property
    def violations(self) -> list[dict[str, Any]]:
        return list(self.problem.get("violations") or [])


class EventSchemaViolation(ProblemError):
    problem_type = "/problems/event-schema-violation"

    @property
    def violations(self) -> list[dict[str, Any]]:
        return list(self.problem.get("violations") or [])


class WriteRefused(ProblemError):
    problem_type = "/problems/write-refused"


class TooManyRequests(ProblemError):
    problem_type = "/problems/too-many-requests"


class BadRequest(ProblemError):
    """400, 408, 414, 431: the request could not be read as sent."""


class ServiceUnavailable(ProblemError):
    """503: the database is not available or the service is shutting down; retried by the
    stores before it is raised."""


class ServerError(ProblemError):
    """500 or another status the contract does not name."""


_BY_TYPE: dict[str, type[ProblemError]] = {
    cls.problem_type: cls
    for cls in (
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        AppendConditionFailed,
        PayloadTooLarge,
        UnsupportedMediaType,
        ValidationFailed,
        EventIdReused,
        StoredEventsViolateSchema,
        EventSchemaViolation,
        WriteRefused,
        TooManyRequests,
    )
    if cls.problem_type is not None
}
_BY_STATUS: dict[int, type[ProblemError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    408: BadRequest,
    413: PayloadTooLarge,
    414: BadRequest,
    415: UnsupportedMediaType,
    422: ValidationFailed,
    429: TooManyRequests,
    431: BadRequest,
    503: ServiceUnavailable,
}


def problem_error(status: int, body: Any, headers: Mapping[str, str] | None = None) -> ProblemError:
    """The error for an answer of ``status`` with ``body`` (a problem, or anything else)."""
    problem: dict[str, Any] = (
        dict(body) if isinstance(body, Mapping) else {"title": "", "detail": str(body)[:200]}
    )
    problem.setdefault("status", status)
    kind = str(problem.get("type", "about:blank"))
    # The type is relative to the service; accept an absolute one too.
    path = kind[kind.index("/problems/") :] if "/problems/" in kind else kind
    cls = _BY_TYPE.get(path) or _BY_STATUS.get(status, ServerError)
    return cls(status, problem, headers)
