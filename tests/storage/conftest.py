"""Fixtures of the storage tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.config import Settings
from app.storage.factory import build_engine
from app.storage.protocol import EventStorageEngine
from tests.support.engines import SQL_ENGINES, database_url


@pytest.fixture(params=SQL_ENGINES)
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty store of each SQL engine (SQLite, then PostgreSQL)."""
    return await database_url(request.param, tmp_path)


@pytest.fixture
async def postgres_url(tmp_path: Path) -> str:
    """The URL of an empty PostgreSQL database of this test's own."""
    return await database_url("postgres", tmp_path)


@pytest.fixture
async def replicas(postgres_url: str) -> AsyncIterator[list[EventStorageEngine]]:
    """Two engines on one database, started together, as two service replicas would be."""
    engines = [build_engine(Settings(database_url=postgres_url)) for _ in range(2)]
    await asyncio.gather(*(engine.start() for engine in engines))
    yield engines
    for engine in engines:
        await engine.close()
