"""Alembic migrations of the store's schema, applied at start-up by `upgrade(connection)`.

There is no alembic.ini: the store configures Alembic in code and hands it a live connection,
so the same path serves SQLite (sync) and PostgreSQL (through AsyncConnection.run_sync). To write
a new revision, add a module under versions/ following r0001_initial.py.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

SCRIPT_LOCATION = Path(__file__).resolve().parent


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Bring the schema on ``connection`` to ``revision``, the latest by default (commits when
    done)."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
