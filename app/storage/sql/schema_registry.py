"""The JSON Schemas of event types, kept in ``event_schemas`` (`tables.py`).

Deliberate choices:

- **Checked against what the batch stores, in its transaction.** `schemas_of` reads the schemas
  of the types a batch is about to store, inside the batch's write transaction (one lookup by
  key per batch), so an append is always checked against the schemas registered when it
  commits, on every replica at once: there is no cache to go stale. Compiled validators are
  cached by the schema's text (`app.storage.event_schemas`).
- **Registering checks the stored events in two steps.** The events of the type up to the head
  are read and checked outside any lock (`stored_violations`, a page at a time over the
  ``(type, position)`` index); then the write transaction, under the writer lock, checks only
  what was appended since and stores the schema (`register`). Appends are held only for that
  last step, however many events the type already has.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select

from app.domain import EventSchema, RawJson, Violation
from app.errors import StoredEventsViolateSchema
from app.storage.event_schemas import MAX_VIOLATIONS, violations
from app.storage.sql.compiled import raw
from app.storage.sql.rows import head_of, utc
from app.storage.sql.tables import event_schemas, events

PAGE = 1000
"""Stored events checked per read when a schema is registered."""

_SCHEMA = select(event_schemas).where(event_schemas.c.type == bindparam("type"))
_DATA = (
    select(events.c.position, events.c.data)
    .where(
        events.c.type == bindparam("type"),
        events.c.position > bindparam("after"),
        events.c.position <= bindparam("upper"),
    )
    .order_by(events.c.position)
    .limit(bindparam("limit"))
)


def schemas_of(conn: Connection, types: Iterable[str]) -> dict[str, RawJson]:
    """The schemas registered for ``types``, by type (types without one are left out)."""
    wanted = sorted(set(types))
    if not wanted:
        return {}
    rows = conn.execute(
        select(event_schemas.c.type, event_schemas.c.schema).where(event_schemas.c.type.in_(wanted))
    )
    return {row.type: row.schema for row in rows}


def get_schema(conn: Connection, event_type: str) -> EventSchema | None:
    row = conn.execute(_SCHEMA, {"type": event_type}).first()
    if row is None:
        return None
    return EventSchema(row.type, row.schema, utc(row.registered_at))


def stored_violations(
    conn: Connection, event_type: str, schema: RawJson, *, after: int, upper: int
) -> tuple[list[Violation], int]:
    """The violations of ``schema`` by the stored events of ``event_type`` in ``(after,
    upper]``, one page of them (the first violations found, or none), and the last position
    checked."""
    rows: Any = raw(_DATA, conn.dialect).rows(
        conn, {"type": event_type, "after": after, "upper": upper, "limit": PAGE}
    )
    if not rows:
        return [], upper
    return violations(schema, rows, limit=MAX_VIOLATIONS), rows[-1][0]


def register(
    conn: Connection, event_type: str, schema: RawJson, now: datetime, *, checked_to: int | None
) -> EventSchema:
    """Store ``schema`` for ``event_type`` (replacing any), once the stored events after
    ``checked_to`` satisfy it (None: do not check them). Runs under the writer lock."""
    if checked_to is not None:
        head = head_of(conn)
        after = checked_to
        while after < head:
            found, after = stored_violations(conn, event_type, schema, after=after, upper=head)
            if found:
                raise StoredEventsViolateSchema(found)
    conn.execute(delete(event_schemas).where(event_schemas.c.type == event_type))
    conn.execute(event_schemas.insert().values(type=event_type, schema=schema, registered_at=now))
    return EventSchema(event_type, schema, now)


def unregister(conn: Connection, event_type: str) -> None:
    conn.execute(delete(event_schemas).where(event_schemas.c.type == event_type))
