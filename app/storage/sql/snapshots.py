"""The snapshot transactions: get, put (unless the stored one is newer), delete."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.engine import Row

from app.domain import Snapshot, SnapshotInput
from app.errors import PositionBeyondHead
from app.storage.sql.rows import head_of, utc
from app.storage.sql.tables import snapshots


def _snapshot(row: Row[Any]) -> Snapshot:
    return Snapshot(
        name=row.name,
        key=row.key,
        position=row.position,
        state=row.state,
        metadata=row.metadata,
        stored_at=utc(row.stored_at),
    )


def get_snapshot(conn: Connection, name: str, key: str) -> Snapshot | None:
    row = conn.execute(
        select(snapshots).where(snapshots.c.name == name, snapshots.c.key == key)
    ).first()
    return None if row is None else _snapshot(row)


def put_snapshot(conn: Connection, snapshot: SnapshotInput, now: datetime) -> Snapshot:
    """Store ``snapshot`` unless the stored one is newer; the one now stored."""
    head = head_of(conn)
    if snapshot.position > head:
        raise PositionBeyondHead(position=snapshot.position, head=head)
    current = get_snapshot(conn, snapshot.name, snapshot.key)
    if current is not None and current.position > snapshot.position:
        return current
    stored = Snapshot(
        name=snapshot.name,
        key=snapshot.key,
        position=snapshot.position,
        state=snapshot.state,
        metadata=snapshot.metadata,
        stored_at=now,
    )
    values = {
        "position": stored.position,
        "state": stored.state,
        "metadata": stored.metadata,
        "stored_at": stored.stored_at,
    }
    if current is None:
        conn.execute(insert(snapshots).values(name=stored.name, key=stored.key, **values))
    else:
        conn.execute(
            update(snapshots)
            .where(snapshots.c.name == stored.name, snapshots.c.key == stored.key)
            .values(**values)
        )
    return stored


def delete_snapshot(conn: Connection, name: str, key: str) -> None:
    conn.execute(delete(snapshots).where(snapshots.c.name == name, snapshots.c.key == key))
