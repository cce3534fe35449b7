"""The storage engine protocol: everything the API needs from a store, and nothing else.

Keyword-only options keep call sites readable; only domain values cross this boundary (no
SQLAlchemy type, no pydantic model). Every engine must pass `tests/contract`, which is written
against `MemoryEngine`, the executable specification.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from app.domain import (
    AppendCondition,
    AppendResult,
    EventInput,
    EventSchema,
    EventTypeInfo,
    Query,
    RawJson,
    ReadResult,
    Snapshot,
    SnapshotInput,
    StoreStats,
    TagPage,
)


@dataclass(slots=True)
class BatchStats:
    """Counters of an engine that group-commits appends, read by /metrics at scrape time:
    batches committed, the appends decided in them, the most in one."""

    batches: int = 0
    requests: int = 0
    largest: int = 0


class EventStorageEngine(Protocol):
    @property
    def batch_stats(self) -> BatchStats | None:
        """The group-commit counters; None for an engine that commits each append alone."""

    async def start(self) -> None:
        """Open connections and make sure the schema is current."""

    async def close(self) -> None:
        """Release every connection."""

    def drain(self, deadline: float) -> None:
        """The service is shutting down: work on the database not finished by the event-loop
        time ``deadline`` is abandoned with StorageUnavailable, and an append answered so was
        not stored (nor ever will be); an append already committing is waited for. Work asked
        for after ``deadline`` is refused at once."""

    async def append(
        self, events: Sequence[EventInput], condition: AppendCondition | None = None
    ) -> AppendResult:
        """Store ``events`` atomically at consecutive positions, or nothing.

        Raises AppendConditionFailed when the condition fails, EventIdReused when an id is
        already stored and the request is not a replay of that earlier append (a replay returns
        the earlier result with ``replayed`` set, whatever the condition says or the schemas
        registered since), and SchemaViolation when an event's data does not satisfy its type's
        schema (`event_schemas.py`). Schemas are checked before the condition.
        """

    async def read(
        self,
        query: Query,
        *,
        after: int = 0,
        before: int | None = None,
        limit: int,
        backwards: bool = False,
    ) -> ReadResult:
        """Events matching ``query`` with ``after < position < before``, at most ``limit``."""

    async def head(self) -> int:
        """The position of the last stored event; 0 for an empty store."""

    async def wait_for_new(self, after: int, timeout: float) -> int:
        """Wait until the head moves past ``after`` or ``timeout`` seconds pass; return the head.

        Wakes on commits made through this engine; engines that can be shared by several
        processes also poll, so that a commit made elsewhere is seen within the timeout, and on
        PostgreSQL are woken by the other processes' commits (LISTEN/NOTIFY).
        """

    async def put_snapshot(self, snapshot: SnapshotInput) -> Snapshot:
        """Store ``snapshot`` unless the stored one is newer; return the one now stored.

        Raises PositionBeyondHead when ``snapshot.position`` is above the head.
        """

    async def get_snapshot(self, name: str, key: str) -> Snapshot | None: ...

    async def delete_snapshot(self, name: str, key: str) -> None: ...

    async def ping(self) -> None:
        """Raise StorageUnavailable unless the database answers."""

    async def event_types(self) -> list[EventTypeInfo]:
        """Every event type stored, in name order: its count, its first and last positions,
        and whether a schema is registered for it."""

    async def tags(
        self,
        *,
        prefix: str = "",
        event_type: str | None = None,
        after: str | None = None,
        limit: int,
    ) -> TagPage:
        """The tags of stored events that start with ``prefix``, in name order after
        ``after``, with the number of events carrying each; only the events of
        ``event_type`` when it is given."""

    async def stats(self) -> StoreStats: ...

    async def get_schema(self, event_type: str) -> EventSchema | None: ...

    async def put_schema(
        self, event_type: str, schema: RawJson, *, check_stored: bool = True
    ) -> EventSchema:
        """Register ``schema`` for the data of ``event_type``'s events, replacing any. Raises
        InvalidSchema, and StoredEventsViolateSchema when ``check_stored`` and an event already
        stored does not satisfy it (then nothing changes)."""

    async def delete_schema(self, event_type: str) -> None: ...
