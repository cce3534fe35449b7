"""Export: the store as records (`records.py`), streamed a page at a time.

Deliberate choices:

- **Constant memory.** Events are read in pages of `PAGE_SIZE` by position (a keyset, never an
  offset), each page in its own short read transaction, and each line is written before the
  next page is read: the memory an export takes does not depend on the size of the store.
  Snapshots and schemas are read the same way, by key.
- **A consistent cut.** The head is read first; only events up to it are exported, and under
  the writer lock every position up to a head that was seen is committed and never changes.
  So an export taken while the service appends is exactly the log up to that head. Snapshots
  are read after the events: one stored meanwhile may name a position past the exported head,
  and is left out (`End` counts what was written).
- Rows are turned into lines without parsing a payload (`records.fragment`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Connection, bindparam, select

from app.domain import Query
from app.storage.sql.compiled import raw
from app.storage.sql.operations.database import reading
from app.storage.sql.operations.records import FORMAT, fragment, line, timestamp
from app.storage.sql.queries import matching_events
from app.storage.sql.rows import head_of
from app.storage.sql.tables import event_schemas, events, snapshots

PAGE_SIZE = 2000

_EVENT_PAGE = (
    select(events)
    .where(events.c.position > bindparam("after"), events.c.position <= bindparam("upper"))
    .order_by(events.c.position)
    .limit(bindparam("limit"))
)
_SCHEMAS = select(event_schemas).order_by(event_schemas.c.type)


def export_lines(
    conn: Connection,
    *,
    query: Query | None = None,
    query_json: Any = None,
    after: int = 0,
    upper: int | None = None,
    include_snapshots: bool = True,
    progress: Callable[[int], None] | None = None,
    started: Callable[[int | None], None] | None = None,
) -> Iterator[bytes]:
    """The lines of an export of the events with ``after < position <= upper`` (the head when
    None) matching ``query`` (all when None; ``query_json`` is how the header shows it), then
    of the snapshots and schemas unless ``include_snapshots`` is false. ``started(total)`` is
    told how many events will follow (None for a query), ``progress(n)`` every page."""
    with reading(conn):
        head = head_of(conn)
    upper = head if upper is None else min(upper, head)
    after = min(after, upper)
    total = upper - after if query is None else None
    if started is not None:
        started(total)
    yield line(
        {
            "kind": "header",
            "format": FORMAT,
            "head": head,
            "after": after,
            "upper": upper,
            "query": query_json,
            "events": total,
        }
    )
    exported = 0
    last = after
    while last < upper:
        with reading(conn):
            rows = _page(conn, query, after=last, upper=upper)
        if not rows:
            break
        for row in rows:
            yield _event_line(row)
        exported += len(rows)
        last = rows[-1][0]
        if progress is not None:
            progress(len(rows))
    written_snapshots = written_schemas = 0
    if include_snapshots:
        for snapshot_line in _snapshot_lines(conn, upper):
            written_snapshots += 1
            yield snapshot_line
        with reading(conn):
            schema_rows = conn.execute(_SCHEMAS).all()
        for schema_row in schema_rows:
            written_schemas += 1
            yield line(
                {
                    "kind": "schema",
                    "type": schema_row.type,
                    "schema": fragment(schema_row.schema),
                    "registered_at": timestamp(schema_row.registered_at),
                }
            )
    yield line(
        {
            "kind": "end",
            "events": exported,
            "snapshots": written_snapshots,
            "schemas": written_schemas,
        }
    )


def _page(conn: Connection, query: Query | None, *, after: int, upper: int) -> Any:
    if query is None:
        params = {"after": after, "upper": upper, "limit": PAGE_SIZE}
        return raw(_EVENT_PAGE, conn.dialect).rows(conn, params)
    statement, params = matching_events(
        query, after=after, upper=upper, limit=PAGE_SIZE, backwards=False
    )
    return raw(statement, conn.dialect).rows(conn, params)


def _event_line(row: Any) -> bytes:
    position, event_id, event_type, data, tags, metadata, recorded_at, append_first = tuple(row)
    return line(
        {
            "kind": "event",
            "position": position,
            "id": str(event_id),
            "type": event_type,
            "tags": fragment(tags),
            "data": fragment(data),
            "metadata": fragment(metadata),
            "recorded_at": timestamp(recorded_at),
            "append": append_first,
        }
    )


def _snapshot_lines(conn: Connection, upper: int) -> Iterator[bytes]:
    """Snapshots at positions up to ``upper``, a page of names at a time."""
    after: tuple[str, str] | None = None
    while True:
        statement = select(snapshots).order_by(snapshots.c.name, snapshots.c.key).limit(PAGE_SIZE)
        if after is not None:
            statement = statement.where(
                (snapshots.c.name > after[0])
                | ((snapshots.c.name == after[0]) & (snapshots.c.key > after[1]))
            )
        with reading(conn):
            rows = conn.execute(statement).all()
        for row in rows:
            if row.position <= upper:
                yield line(
                    {
                        "kind": "snapshot",
                        "name": row.name,
                        "key": row.key,
                        "position": row.position,
                        "state": fragment(row.state),
                        "metadata": fragment(row.metadata),
                        "stored_at": timestamp(row.stored_at),
                    }
                )
        if len(rows) < PAGE_SIZE:
            return
        after = (rows[-1].name, rows[-1].key)
