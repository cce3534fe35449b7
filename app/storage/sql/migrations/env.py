"""Alembic environment: runs online, on the connection given by `migrations.upgrade`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from app.storage.sql.tables import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations through app.storage.sql.migrations.upgrade(connection)")

context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
