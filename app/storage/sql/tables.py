"""The schema, as SQLAlchemy Core tables; the Alembic migrations (`migrations/`) create it.

- ``events``: one row per event; ``position`` is the primary key (SQLite's rowid). Payloads are
  stored as the JSON text the client sent (re-serialised once), so they come back unchanged and
  PostgreSQL does not reorder keys as JSONB would. ``tags`` holds the event's tags as a JSON array
  for returning them; ``append_first`` is the position of the first event stored by the same
  append, which is how idempotent retries recognise "one earlier append".
- ``event_tags``: one row per (tag, event). Its primary key (tag, position) is the index that
  makes a tag lookup cost the number of events carrying the tag, not the size of the store.
- ``snapshots``: the latest folded state per (name, key).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)

metadata = MetaData()

# SQLite only aliases the rowid for a column declared exactly INTEGER PRIMARY KEY.
PositionType = BigInteger().with_variant(Integer(), "sqlite")

events = Table(
    "events",
    metadata,
    Column("position", PositionType, primary_key=True, autoincrement=False),
    Column("id", Uuid(as_uuid=True), nullable=False),
    Column("type", String(255), nullable=False),
    Column("data", Text, nullable=False),
    Column("tags", Text, nullable=False),
    Column("metadata", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("append_first", BigInteger, nullable=False),
    UniqueConstraint("id", name="uq_events_id"),
    Index("ix_events_type_position", "type", "position"),
)

event_tags = Table(
    "event_tags",
    metadata,
    Column("tag", String(256), primary_key=True),
    Column("position", BigInteger, primary_key=True),
    sqlite_with_rowid=False,
)

snapshots = Table(
    "snapshots",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("state", Text, nullable=False),
    Column("metadata", Text, nullable=False),
    Column("stored_at", DateTime(timezone=True), nullable=False),
)
