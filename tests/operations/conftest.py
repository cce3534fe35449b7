"""Stores for the operations tests: an empty one of each SQL kind, by name."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.support.engines import POSTGRES_URL_VARIABLE, postgres_unavailable, reset_postgres


async def empty_store(kind: str, tmp_path: Path, name: str = "store") -> str:
    """The URL of an empty store: a new SQLite file, or a PostgreSQL test database of its own
    (the test database's name with ``_name`` added, created and emptied by the test suite)."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / name}.db"
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        postgres_unavailable(f"{POSTGRES_URL_VARIABLE} is not set")
    parsed = make_url(url)
    named = parsed.set(database=f"{parsed.database}_{name}").render_as_string(hide_password=False)
    await reset_postgres(named)
    return named


KINDS = [pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)]
