"""Discovery and schemas: counts per event type, per tag and per (type, tag), maintained by
every append; the JSON Schemas registered per event type (see app/storage/sql/tables.py).

The counts of a store that already holds events are filled from them here, once: a scan of
``events`` and ``event_tags`` at the upgrade, measured in docs/performance.md.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def _name(length: int) -> sa.types.TypeEngine[str]:
    # Compared and ordered by code point on both databases (PostgreSQL's default collation
    # would order by the locale, and prefixes would not be ranges).
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "event_types",
        sa.Column("type", _name(255), primary_key=True),
        sa.Column("event_count", sa.BigInteger(), nullable=False),
        sa.Column("first_position", sa.BigInteger(), nullable=False),
        sa.Column("last_position", sa.BigInteger(), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "tag_counts",
        sa.Column("tag", _name(256), primary_key=True),
        sa.Column("event_count", sa.BigInteger(), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "type_tag_counts",
        sa.Column("type", _name(255), primary_key=True),
        sa.Column("tag", _name(256), primary_key=True),
        sa.Column("event_count", sa.BigInteger(), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "event_schemas",
        sa.Column("type", _name(255), primary_key=True),
        sa.Column("schema", sa.Text(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sqlite_with_rowid=False,
    )
    op.execute(
        "INSERT INTO event_types (type, event_count, first_position, last_position) "
        "SELECT type, count(*), min(position), max(position) FROM events GROUP BY type"
    )
    op.execute(
        "INSERT INTO tag_counts (tag, event_count) "
        "SELECT tag, count(*) FROM event_tags GROUP BY tag"
    )
    op.execute(
        "INSERT INTO type_tag_counts (type, tag, event_count) "
        "SELECT e.type, t.tag, count(*) FROM event_tags t "
        "JOIN events e ON e.position = t.position GROUP BY e.type, t.tag"
    )


def downgrade() -> None:
    op.drop_table("event_schemas")
    op.drop_table("type_tag_counts")
    op.drop_table("tag_counts")
    op.drop_table("event_types")
