"""The initial schema: events, event_tags, snapshots (see app/storage/tables.py).

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "events",
        sa.Column("position", position, primary_key=True, autoincrement=False),
        sa.Column("id", sa.Uuid(as_uuid=True), nullable=False),
        sa.Column("type", sa.String(255), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("append_first", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("id", name="uq_events_id"),
    )
    op.create_index("ix_events_type_position", "events", ["type", "position"])
    op.create_table(
        "event_tags",
        sa.Column("tag", sa.String(256), primary_key=True),
        sa.Column("position", sa.BigInteger(), primary_key=True),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "snapshots",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("snapshots")
    op.drop_table("event_tags")
    op.drop_index("ix_events_type_position", table_name="events")
    op.drop_table("events")
