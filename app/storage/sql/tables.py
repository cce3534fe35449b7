"""The schema, as SQLAlchemy Core tables; the Alembic migrations (`migrations/`) create it.

- ``events``: one row per event; ``position`` is the primary key (SQLite's rowid). Payloads are
  stored as the JSON text the client sent (re-serialised once), so they come back unchanged and
  PostgreSQL does not reorder keys as JSONB would. ``tags`` holds the event's tags as a JSON array
  for returning them; ``append_first`` is the position of the first event stored by the same
  append, which is how idempotent retries recognise "one earlier append".
- ``event_tags``: one row per (tag, event). Its primary key (tag, position) is the index that
  makes a tag lookup cost the number of events carrying the tag, not the size of the store.
- ``snapshots``: the latest folded state per (name, key).
- ``event_types``, ``tag_counts``, ``type_tag_counts``: how many events there are of each type
  (with the first and last position), carrying each tag, and each tag per type. Every append
  adds to them in its own transaction (`discovery.py`), so they are exact after any crash and
  answer discovery without a scan.
- ``event_schemas``: the JSON Schema registered per event type.

Names that discovery orders and ranges over (types, tags) compare by code point on both
databases: PostgreSQL's default collation would order them by the locale.
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


def _name(length: int) -> String:
    return String(length).with_variant(String(length, collation="C"), "postgresql")


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

event_types = Table(
    "event_types",
    metadata,
    Column("type", _name(255), primary_key=True),
    Column("event_count", BigInteger, nullable=False),
    Column("first_position", BigInteger, nullable=False),
    Column("last_position", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

tag_counts = Table(
    "tag_counts",
    metadata,
    Column("tag", _name(256), primary_key=True),
    Column("event_count", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

type_tag_counts = Table(
    "type_tag_counts",
    metadata,
    Column("type", _name(255), primary_key=True),
    Column("tag", _name(256), primary_key=True),
    Column("event_count", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

event_schemas = Table(
    "event_schemas",
    metadata,
    Column("type", _name(255), primary_key=True),
    Column("schema", Text, nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    sqlite_with_rowid=False,
)
