"""Discovery: the event types, the tags and the figures of a store, answered without a scan.

Deliberate choices:

- **Counted at append, in the same transaction.** `count_stored` adds the events a batch stores
  to ``event_types``, ``tag_counts`` and ``type_tag_counts`` (`tables.py`) with one multi-row
  upsert per table, before the batch commits: the counts are exact whenever the events are,
  after a crash too, and the writer lock keeps concurrent appends from interleaving. What this
  costs an append is measured in docs/performance.md ("Discovery").
- **Read by key.** Types and tags are read in name order from the primary keys of those tables:
  a page of tags with a prefix costs the page, however many tags the store holds. Tags are
  paged by name (``after`` the last one seen); a prefix is the range of names from the prefix
  on, so the scan stops at the first name without it.
- **Figures**: the number of events is the head (positions have no holes); the first and last
  timestamps are two lookups by position; the database's size is what it says of itself
  (SQLite's pages, PostgreSQL's ``pg_database_size``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, select, text

from app.domain import EventTypeInfo, StoreStats, TagCount, TagPage
from app.storage.sql.compiled import raw, raw_count_upsert
from app.storage.sql.rows import head_of, utc
from app.storage.sql.tables import event_schemas, event_types, events, tag_counts, type_tag_counts


def count_stored(
    conn: Connection, event_rows: Sequence[Mapping[str, Any]], tag_rows: Sequence[Mapping[str, Any]]
) -> None:
    """Add the events of ``event_rows`` (and their ``tag_rows``) to the counts."""
    if not event_rows:
        return
    types: dict[str, list[int]] = {}  # type -> [count, first, last]
    type_of: dict[int, str] = {}
    for row in event_rows:
        position, event_type = row["position"], row["type"]
        type_of[position] = event_type
        counted = types.get(event_type)
        if counted is None:
            types[event_type] = [1, position, position]
        else:
            counted[0] += 1
            counted[2] = position
    raw_count_upsert(event_types, conn.dialect).many(
        conn,
        [
            {"type": name, "event_count": c, "first_position": first, "last_position": last}
            for name, (c, first, last) in types.items()
        ],
    )
    if not tag_rows:
        return
    tags = Counter(row["tag"] for row in tag_rows)
    pairs = Counter((type_of[row["position"]], row["tag"]) for row in tag_rows)
    raw_count_upsert(tag_counts, conn.dialect).many(
        conn, [{"tag": tag, "event_count": c} for tag, c in tags.items()]
    )
    raw_count_upsert(type_tag_counts, conn.dialect).many(
        conn, [{"type": t, "tag": tag, "event_count": c} for (t, tag), c in pairs.items()]
    )


_TYPES = (
    select(
        event_types.c.type,
        event_types.c.event_count,
        event_types.c.first_position,
        event_types.c.last_position,
        event_schemas.c.type.is_not(None),
    )
    .outerjoin(event_schemas, event_schemas.c.type == event_types.c.type)
    .order_by(event_types.c.type)
)


def read_event_types(conn: Connection) -> list[EventTypeInfo]:
    rows = raw(_TYPES, conn.dialect).rows(conn, {})
    return [EventTypeInfo(t, n, first, last, bool(schema)) for t, n, first, last, schema in rows]


def _tag_page(table: Any) -> Any:
    return (
        select(table.c.tag, table.c.event_count)
        .where(table.c.tag >= bindparam("prefix"), table.c.tag > bindparam("after"))
        .order_by(table.c.tag)
        .limit(bindparam("limit"))
    )


_TAGS = _tag_page(tag_counts)
_TYPE_TAGS = _tag_page(type_tag_counts).where(type_tag_counts.c.type == bindparam("type"))


def read_tags(
    conn: Connection, *, prefix: str, event_type: str | None, after: str | None, limit: int
) -> TagPage:
    params: dict[str, Any] = {"prefix": prefix, "after": after or "", "limit": limit + 1}
    if event_type is None:
        rows = raw(_TAGS, conn.dialect).rows(conn, params)
    else:
        rows = raw(_TYPE_TAGS, conn.dialect).rows(conn, {**params, "type": event_type})
    matching = []
    for tag, count in rows:
        if not tag.startswith(prefix):
            break  # past the range of names that start with the prefix
        matching.append(TagCount(tag, count))
    return TagPage(matching[:limit], len(matching) > limit)


_RECORDED_AT = select(events.c.recorded_at).where(events.c.position == bindparam("position"))


def read_stats(conn: Connection) -> StoreStats:
    head = head_of(conn)
    recorded = raw(_RECORDED_AT, conn.dialect)
    first = recorded.scalar(conn, {"position": 1}) if head else None
    last = recorded.scalar(conn, {"position": head}) if head else None
    return StoreStats(
        events=head,
        head=head,
        first_recorded_at=utc(first) if first is not None else None,
        last_recorded_at=utc(last) if last is not None else None,
        database_bytes=_database_bytes(conn),
    )


def _database_bytes(conn: Connection) -> int | None:
    if conn.dialect.name == "postgresql":
        return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
    if conn.dialect.name == "sqlite":
        pages = conn.execute(text("PRAGMA page_count")).scalar_one()
        size = conn.execute(text("PRAGMA page_size")).scalar_one()
        return int(pages) * int(size)
    return None
