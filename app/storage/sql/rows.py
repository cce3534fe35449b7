"""Rows of the SQL tables as domain values, and the head; shared by reads and appends."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, func, select

from app.domain import Event
from app.storage.sql.compiled import raw
from app.storage.sql.tables import events

_HEAD = select(func.max(events.c.position))


def head_of(conn: Connection) -> int:
    """The position of the last stored event; 0 for an empty store."""
    return int(raw(_HEAD, conn.dialect).scalar(conn, {}) or 0)


def utc(moment: datetime) -> datetime:
    # SQLite keeps no offset: every timestamp this store writes is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def event_from_row(row: Sequence[Any]) -> Event:
    # Unpacked by position: on a catch-up read of many rows, attribute access by name was the
    # largest cost of this function.
    position, event_id, event_type, data, tags, metadata, recorded_at, _append_first = tuple(row)
    return Event(
        position=position,
        id=event_id,
        type=event_type,
        data=data,
        tags=tuple(orjson.loads(tags)),
        metadata=metadata,
        recorded_at=utc(recorded_at),
    )
