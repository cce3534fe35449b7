"""The write transaction of a group commit: a batch of appends, decided in order, stored at once.

`decide_batch` runs inside the writer's transaction (the runner holds the writer lock, so no one
else commits meanwhile). It decides the requests in queue order, each as if those before it had
been committed, and answers each with its result or its own refusal; every answer is the one a
serial execution would give (the whole story: docs/design.md, "Group commit").

What the transaction itself has stored is not read back through SQL: earlier members' events
are held in memory (`Pending`), indexed by tag, type and id, and each member is checked against
both the database (positions up to the batch's start) and them. The database part of every
condition is independent of the other members, so all of them are checked before the members
are decided, eight to a statement (`first_matches`). That keeps the statements per batch to one
head read, one id lookup, one lookup of the batch's schemas, the condition checks, and at the
end two multi-row inserts and the discovery counts (`discovery.py`), instead of a few
statements per member: on PostgreSQL each is a round trip. Each member is checked against the
registered schemas after its replay check and before its condition (`event_schemas.py`). A
member that is refused was never added to the pending events, so it leaves no trace.

Should the database refuse the inserts (it cannot while the API refuses what the database cannot
store and the writer lock keeps ids and positions unique, but a database may have constraints or
triggers of its own), the runner raises the domain error and the transaction is rolled back;
the group committer then decides the members again one per transaction (`group_commit.py`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import orjson
from sqlalchemy import Connection, select

from app.domain import (
    AppendCondition,
    AppendResult,
    Event,
    EventInput,
    Query,
    QueryItem,
    RawJson,
    item_matches,
)
from app.errors import AppendConditionFailed, EventIdReused, SchemaViolation
from app.storage.event_schemas import refuse_violations
from app.storage.idempotency import replay_of
from app.storage.sql.compiled import raw_insert
from app.storage.sql.discovery import count_stored
from app.storage.sql.queries import first_matches
from app.storage.sql.rows import event_from_row, head_of
from app.storage.sql.schema_registry import schemas_of
from app.storage.sql.tables import event_tags, events

_ID_LOOKUP_CHUNK = 1000
"""Ids per lookup statement: far below every driver's limit on bound parameters."""


@dataclass(frozen=True, slots=True)
class AppendRequest:
    events: Sequence[EventInput]
    condition: AppendCondition | None


Outcome = AppendResult | Exception
"""What one request of a batch gets: its result, or the error raised to its caller."""


@dataclass
class Pending:
    """Events this transaction has stored so far, after the batch's starting head ``start``."""

    start: int
    events: list[Event] = field(default_factory=list)
    by_id: dict[UUID, Event] = field(default_factory=dict)
    appends: dict[int, int] = field(default_factory=dict)  # first position -> last
    by_tag: dict[str, list[int]] = field(default_factory=dict)  # ascending positions
    by_type: dict[str, list[int]] = field(default_factory=dict)

    @property
    def head(self) -> int:
        return self.start + len(self.events)

    def add(self, stored: Sequence[Event]) -> None:
        self.appends[stored[0].position] = stored[-1].position
        for event in stored:
            self.events.append(event)
            self.by_id[event.id] = event
            self.by_type.setdefault(event.type, []).append(event.position)
            for tag in event.tags:
                self.by_tag.setdefault(tag, []).append(event.position)

    def first_match(self, query: Query, after: int) -> int | None:
        """The lowest pending position above ``after`` whose event matches ``query``."""
        if not self.events:
            return None
        if query.matches_all:
            first = max(after, self.start) + 1
            return first if first <= self.head else None
        found = [
            position
            for item in query.items
            if (position := self._first_of_item(item, after)) is not None
        ]
        return min(found, default=None)

    def _first_of_item(self, item: QueryItem, after: int) -> int | None:
        # Candidates from the rarest tag of the item, or from its types; then the whole item.
        if item.tags:
            candidates = min((self.by_tag.get(tag, []) for tag in item.tags), key=len)
        else:
            candidates = sorted(p for t in item.types for p in self.by_type.get(t, []))
        for position in candidates[bisect_right(candidates, after) :]:
            event = self.events[position - self.start - 1]
            if item_matches(item, event.type, event.tags):
                return position
        return None


@dataclass
class Committed:
    """The committed events carrying an id of the batch, and where their appends began."""

    by_id: dict[UUID, Event]
    append_first: dict[int, int]  # position -> first position of its append

    @classmethod
    def with_ids(cls, conn: Connection, ids: Iterable[UUID | None]) -> Committed:
        wanted = list({event_id for event_id in ids if event_id is not None})
        found = cls({}, {})
        for start in range(0, len(wanted), _ID_LOOKUP_CHUNK):
            chunk = wanted[start : start + _ID_LOOKUP_CHUNK]
            for row in conn.execute(select(events).where(events.c.id.in_(chunk))):
                found.by_id[row.id] = event_from_row(row)
                found.append_first[row.position] = row.append_first
        return found


def decide_batch(conn: Connection, batch: Sequence[AppendRequest], now: datetime) -> list[Outcome]:
    """Decide ``batch`` in order, insert what is stored; one outcome per request."""
    pending = Pending(start=head_of(conn))
    committed = Committed.with_ids(conn, (event.id for r in batch for event in r.events))
    conflicts = _committed_conflicts(conn, batch, pending.start)
    schemas = schemas_of(conn, (event.type for r in batch for event in r.events))
    event_rows: list[dict[str, Any]] = []
    tag_rows: list[dict[str, Any]] = []
    outcomes: list[Outcome] = []
    for member, request in enumerate(batch):
        try:
            outcome: Outcome = _decide(
                conn, request, pending, committed, conflicts.get(member), schemas
            )
        except (AppendConditionFailed, EventIdReused, SchemaViolation) as refused:
            outcome = refused
        if isinstance(outcome, AppendResult) and not outcome.replayed:
            pending.add(_store(request.events, outcome.positions, now, event_rows, tag_rows))
        outcomes.append(outcome)
    _insert(conn, event_rows, tag_rows)
    count_stored(conn, event_rows, tag_rows)
    return outcomes


def _decide(
    conn: Connection,
    request: AppendRequest,
    pending: Pending,
    committed: Committed,
    committed_conflict: int | None,
    schemas: Mapping[str, RawJson],
) -> AppendResult:
    """The request's result if it is stored now, its replay, or its refusal (raised).
    ``committed_conflict``: the first committed event its condition matches, if any;
    ``schemas``: the registered schemas of the batch's event types."""
    replay = _replay(conn, request.events, pending, committed)
    if replay is not None:
        return replay
    refuse_violations(request.events, schemas)
    if request.condition is not None:
        conflict = committed_conflict
        if conflict is None:
            conflict = pending.first_match(
                request.condition.fail_if_events_match, request.condition.after or 0
            )
        if conflict is not None:
            raise AppendConditionFailed(head=pending.head, conflicting_position=conflict)
    first = pending.head + 1
    return AppendResult(positions=tuple(range(first, first + len(request.events))))


def _replay(
    conn: Connection,
    request: Sequence[EventInput],
    pending: Pending,
    committed: Committed,
) -> AppendResult | None:
    """The earlier result if ``request`` retries an earlier append (see idempotency.py)."""
    stored: dict[UUID, Event] = {}
    for event in request:
        if event.id is None:
            continue
        if event.id in pending.by_id:
            stored[event.id] = pending.by_id[event.id]
        elif event.id in committed.by_id:
            stored[event.id] = committed.by_id[event.id]
    if not stored:
        return None

    def is_one_append(first: int, last: int) -> bool:
        if first > pending.start:
            return pending.appends.get(first) == last
        if any(committed.append_first.get(p) != first for p in range(first, last + 1)):
            return False
        if last >= pending.start:
            return True  # what follows was stored by this batch: another append
        following = conn.execute(
            select(events.c.append_first).where(events.c.position == last + 1)
        ).scalar()
        return following != first

    return replay_of(request, stored, is_one_append)


def _committed_conflicts(
    conn: Connection, batch: Sequence[AppendRequest], start: int
) -> dict[int, int]:
    """For each member whose condition matches a committed event (at most ``start``, the head
    when the batch began): the first such position. Checked for the whole batch at once."""
    members = [
        (member, request.condition)
        for member, request in enumerate(batch)
        if request.condition is not None and (request.condition.after or 0) < start
    ]
    found = first_matches(
        conn,
        [(condition.fail_if_events_match, condition.after or 0) for _, condition in members],
        upper=start,
    )
    return {
        member: position
        for (member, _), position in zip(members, found, strict=True)
        if position is not None
    }


def _store(
    request: Sequence[EventInput],
    positions: Sequence[int],
    now: datetime,
    event_rows: list[dict[str, Any]],
    tag_rows: list[dict[str, Any]],
) -> list[Event]:
    """Add the rows of ``request`` at ``positions``; return its events as stored."""
    first = positions[0]
    stored = []
    for position, event in zip(positions, request, strict=True):
        event_id = event.id or uuid4()
        event_rows.append(
            {
                "position": position,
                "id": event_id,
                "type": event.type,
                "data": event.data,
                "tags": orjson.dumps(event.tags).decode(),
                "metadata": event.metadata,
                "recorded_at": now,
                "append_first": first,
            }
        )
        tag_rows.extend({"tag": tag, "position": position} for tag in event.tags)
        stored.append(
            Event(position, event_id, event.type, event.data, event.tags, event.metadata, now)
        )
    return stored


def _insert(
    conn: Connection, event_rows: list[dict[str, Any]], tag_rows: list[dict[str, Any]]
) -> None:
    if event_rows:
        raw_insert(events, conn.dialect).many(conn, event_rows)
    if tag_rows:
        raw_insert(event_tags, conn.dialect).many(conn, tag_rows)
