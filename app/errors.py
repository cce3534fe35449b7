"""Every error the service reports on purpose; `app.api.problems` maps each to one HTTP problem.

The storage layer raises most of them, having translated its driver's errors; access control
and the request limits raise the rest. No FastAPI import here: storage and the command-line
tools use these without the web stack.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.domain import Violation


class EventStoreError(Exception):
    """Base of every error the service reports to its callers on purpose."""


class AppendConditionFailed(EventStoreError):
    """An event matching the append condition lies after its ``after``; nothing was stored."""

    def __init__(self, *, head: int, conflicting_position: int) -> None:
        super().__init__(f"event at position {conflicting_position} matches the append condition")
        self.head = head
        self.conflicting_position = conflicting_position


class EventIdReused(EventStoreError):
    """An event id of the request is already stored, and the request is not a replay of the
    append that stored it."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class PositionBeyondHead(EventStoreError):
    """A snapshot claims to be folded up to a position the store has not reached."""

    def __init__(self, *, position: int, head: int) -> None:
        super().__init__(f"position {position} is beyond the head {head}")
        self.position = position
        self.head = head


class NotFound(EventStoreError):
    """What was asked for is not stored (a snapshot, a schema)."""


class SnapshotNotFound(NotFound):
    def __init__(self, name: str, key: str) -> None:
        super().__init__(f"no snapshot {name!r} for key {key!r}")


class SchemaViolation(EventStoreError):
    """Events of the request do not satisfy their types' schemas; nothing was stored.
    ``violations`` name each event by its index in the request."""

    def __init__(self, violations: Sequence[Violation]) -> None:
        super().__init__(f"{len(violations)} schema violation(s); nothing was stored")
        self.violations = list(violations)


class InvalidSchema(EventStoreError):
    """A schema offered for registration is not a valid JSON Schema (Draft 2020-12)."""

    def __init__(self, pointer: str, detail: str) -> None:
        super().__init__(detail)
        self.pointer = pointer
        self.detail = detail


class StoredEventsViolateSchema(EventStoreError):
    """A schema offered for registration is not satisfied by events already stored (its
    ``violations`` name them by position); it was not registered."""

    def __init__(self, violations: Sequence[Violation]) -> None:
        first = violations[0].event
        super().__init__(f"the event at position {first} does not satisfy this schema")
        self.violations = list(violations)


class WriteRefused(EventStoreError):
    """The database refused to store rows for a reason of its own (a constraint or trigger the
    service does not know of); nothing of the write was stored."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class StorageUnavailable(EventStoreError):
    """The database could not be reached or gave up (locked, connection lost). Retry later."""


class PayloadTooLarge(EventStoreError):
    """The request is over a configured size limit (body bytes, events per append)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class UnsupportedMediaType(EventStoreError):
    """A request body that is not JSON (by its ``Content-Type``)."""

    def __init__(self, content_type: str | None) -> None:
        super().__init__(
            "the body must be JSON, sent with Content-Type: application/json "
            f"(got {content_type or 'none'})"
        )
        self.content_type = content_type


class Unauthorized(EventStoreError):
    """No credential, or one the service does not know (or an expired stream ticket).

    ``invalid_token`` says whether a credential was presented: RFC 6750 names the error only then.
    """

    def __init__(self, detail: str, *, invalid_token: bool) -> None:
        super().__init__(detail)
        self.detail = detail
        self.invalid_token = invalid_token


class Forbidden(EventStoreError):
    """A known credential without the scope the request needs."""

    def __init__(self, scope: str) -> None:
        super().__init__(f"this token lacks the scope {scope!r}")
        self.scope = scope


class TooManyRequests(EventStoreError):
    """Over a per-token or total limit (open streams, append rate). Retry after ``retry_after``
    seconds."""

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after
