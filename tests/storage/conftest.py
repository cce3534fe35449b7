"""Fixtures of the storage tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.engines import SQL_ENGINES, database_url


@pytest.fixture(params=SQL_ENGINES)
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty store of each SQL engine (SQLite, then PostgreSQL)."""
    return await database_url(request.param, tmp_path)
