"""The read transaction: a page of the events matching a query, with the head and the marker.

The head is read first and bounds the events. Under the writer lock every position up to an
observed head is already committed, so the marker of a read never runs ahead of what it saw, on
PostgreSQL's READ COMMITTED as on SQLite's snapshot reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from app.domain import Query, ReadResult
from app.storage.sql.compiled import raw
from app.storage.sql.queries import matching_events
from app.storage.sql.rows import event_from_row, head_of


def read_events(
    conn: Connection,
    query: Query,
    *,
    after: int,
    before: int | None,
    limit: int,
    backwards: bool,
) -> ReadResult:
    head = head_of(conn)
    upper = head if before is None else min(head, before - 1)
    rows: Sequence[Sequence[Any]] = []
    if upper > after:
        stmt, params = matching_events(
            query, after=after, upper=upper, limit=limit + 1, backwards=backwards
        )
        rows = raw(stmt, conn.dialect).rows(conn, params)
    found = [event_from_row(row) for row in rows]
    return ReadResult.of(
        found, head=head, after=after, before=before, limit=limit, backwards=backwards
    )
