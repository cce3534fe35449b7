"""The in-memory engine: the executable specification every other engine must agree with.

Plain lists, no indexes, no cleverness: `tests/contract` runs the same suite against this engine
and the SQL ones. Discovery (types, tags, stats) is counted from the events at each call.
Nothing survives the process; use it for tests and experiments.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import uuid4

from app.domain import (
    AppendCondition,
    AppendResult,
    Event,
    EventInput,
    EventSchema,
    EventTypeInfo,
    Query,
    RawJson,
    ReadResult,
    Snapshot,
    SnapshotInput,
    StoreStats,
    TagCount,
    TagPage,
    matches,
)
from app.errors import AppendConditionFailed, PositionBeyondHead, StoredEventsViolateSchema
from app.storage.event_schemas import check_schema, refuse_violations, violations
from app.storage.idempotency import check_batch, replay_of
from app.storage.signal import CommitSignal


class MemoryEngine:
    batch_stats = None
    """Each append is its own commit: no batches to count."""

    def __init__(self) -> None:
        self._events: list[Event] = []  # the event at position p is self._events[p - 1]
        self._appends: dict[int, int] = {}  # first position of each append -> its last
        self._snapshots: dict[tuple[str, str], Snapshot] = {}
        self._schemas: dict[str, EventSchema] = {}
        self._signal = CommitSignal()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def drain(self, deadline: float) -> None:
        """Nothing to abandon: every operation finishes without waiting."""

    async def ping(self) -> None:
        return None

    async def head(self) -> int:
        return len(self._events)

    async def append(
        self, events: Sequence[EventInput], condition: AppendCondition | None = None
    ) -> AppendResult:
        check_batch(events)
        ids = {event.id for event in events if event.id is not None}
        stored = {stored.id: stored for stored in self._events if stored.id in ids}
        replay = replay_of(events, stored, lambda first, last: self._appends.get(first) == last)
        if replay is not None:
            return replay
        refuse_violations(events, {t: s.schema for t, s in self._schemas.items()})
        if condition is not None:
            after = max(condition.after or 0, 0)
            for stored_event in self._events[after:]:
                if matches(condition.fail_if_events_match, stored_event.type, stored_event.tags):
                    raise AppendConditionFailed(
                        head=len(self._events), conflicting_position=stored_event.position
                    )
        now = datetime.now(UTC)
        first = len(self._events) + 1
        for offset, event in enumerate(events):
            self._events.append(
                Event(
                    position=first + offset,
                    id=event.id or uuid4(),
                    type=event.type,
                    data=event.data,
                    tags=event.tags,
                    metadata=event.metadata,
                    recorded_at=now,
                )
            )
        self._appends[first] = len(self._events)
        self._signal.notify(len(self._events))
        return AppendResult(positions=tuple(range(first, len(self._events) + 1)))

    async def read(
        self,
        query: Query,
        *,
        after: int = 0,
        before: int | None = None,
        limit: int,
        backwards: bool = False,
    ) -> ReadResult:
        head = len(self._events)
        upper = head if before is None else min(head, before - 1)
        found = [
            e for e in self._events[max(after, 0) : max(upper, 0)] if matches(query, e.type, e.tags)
        ]
        if backwards:
            found.reverse()
        return ReadResult.of(
            found, head=head, after=after, before=before, limit=limit, backwards=backwards
        )

    async def wait_for_new(self, after: int, timeout: float) -> int:
        return await self._signal.wait(after, timeout)

    async def put_snapshot(self, snapshot: SnapshotInput) -> Snapshot:
        if snapshot.position > len(self._events):
            raise PositionBeyondHead(position=snapshot.position, head=len(self._events))
        slot = (snapshot.name, snapshot.key)
        current = self._snapshots.get(slot)
        if current is None or current.position <= snapshot.position:
            self._snapshots[slot] = current = Snapshot(
                name=snapshot.name,
                key=snapshot.key,
                position=snapshot.position,
                state=snapshot.state,
                metadata=snapshot.metadata,
                stored_at=datetime.now(UTC),
            )
        return current

    async def get_snapshot(self, name: str, key: str) -> Snapshot | None:
        return self._snapshots.get((name, key))

    async def delete_snapshot(self, name: str, key: str) -> None:
        self._snapshots.pop((name, key), None)

    async def event_types(self) -> list[EventTypeInfo]:
        found: dict[str, list[int]] = {}
        for event in self._events:
            found.setdefault(event.type, []).append(event.position)
        return [
            EventTypeInfo(name, len(at), at[0], at[-1], name in self._schemas)
            for name, at in sorted(found.items())
        ]

    async def tags(
        self,
        *,
        prefix: str = "",
        event_type: str | None = None,
        after: str | None = None,
        limit: int,
    ) -> TagPage:
        counts: dict[str, int] = {}
        for event in self._events:
            if event_type is None or event.type == event_type:
                for tag in event.tags:
                    if tag.startswith(prefix) and (after is None or tag > after):
                        counts[tag] = counts.get(tag, 0) + 1
        ordered = [TagCount(tag, counts[tag]) for tag in sorted(counts)]
        return TagPage(ordered[:limit], len(ordered) > limit)

    async def stats(self) -> StoreStats:
        events = self._events
        return StoreStats(
            events=len(events),
            head=len(events),
            first_recorded_at=events[0].recorded_at if events else None,
            last_recorded_at=events[-1].recorded_at if events else None,
            database_bytes=None,
        )

    async def get_schema(self, event_type: str) -> EventSchema | None:
        return self._schemas.get(event_type)

    async def put_schema(
        self, event_type: str, schema: RawJson, *, check_stored: bool = True
    ) -> EventSchema:
        check_schema(schema)
        if check_stored:
            stored = [(e.position, e.data) for e in self._events if e.type == event_type]
            found = violations(schema, stored)
            if found:
                raise StoredEventsViolateSchema(found)
        registered = EventSchema(event_type, schema, datetime.now(UTC))
        self._schemas[event_type] = registered
        return registered

    async def delete_schema(self, event_type: str) -> None:
        self._schemas.pop(event_type, None)
