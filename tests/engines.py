"""Storage engines for tests, by name: one contract suite runs against each of them.

- ``memory``: the in-memory specification.
- ``sqlite``: a SQLite file in the test's temporary folder.
- ``postgres``: the database at ``EVENTSTORE_TEST_POSTGRES_URL``, its ``public`` schema dropped and
  recreated before each test (the engine's start-up migrates it). When that server cannot be
  reached the test is skipped, loudly, or fails when ``EVENTSTORE_REQUIRE_POSTGRES=1`` (CI).

Each factory builds an engine and does not start it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NoReturn

import asyncpg
import pytest
from sqlalchemy.engine import URL, make_url

from app.config import Settings
from app.storage.engine import EventStorageEngine
from app.storage.factory import build_engine

POSTGRES_URL_VARIABLE = "EVENTSTORE_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_VARIABLE = "EVENTSTORE_REQUIRE_POSTGRES"


async def database_url(name: str, tmp_path: Path) -> str:
    """The URL of an empty store of engine ``name`` (resetting the PostgreSQL test database)."""
    if name == "memory":
        return "memory://"
    if name == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/store.db"
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        postgres_unavailable(f"{POSTGRES_URL_VARIABLE} is not set")
    await reset_postgres(url)
    return url


async def new_engine(name: str, tmp_path: Path) -> EventStorageEngine:
    """An engine of kind ``name`` over an empty store, not started."""
    return build_engine(Settings(database_url=await database_url(name, tmp_path)))


ENGINE_PARAMS = [
    pytest.param("memory"),
    pytest.param("sqlite"),
    pytest.param("postgres", marks=pytest.mark.postgres),
]
"""For ``@pytest.fixture(params=ENGINE_PARAMS)``: test ids end in the engine's name."""


def postgres_unavailable(reason: str) -> NoReturn:
    if os.environ.get(REQUIRE_POSTGRES_VARIABLE) == "1":
        pytest.fail(f"PostgreSQL is required ({REQUIRE_POSTGRES_VARIABLE}=1): {reason}")
    pytest.skip(f"PostgreSQL TESTS NOT RUN: {reason}")


_unreachable: str | None = None  # remembered so that one dead server costs one connect timeout


async def reset_postgres(url: str) -> None:
    """Empty the test database: drop and recreate its ``public`` schema (tables, alembic_version).

    Creates the database first if the server does not have it.
    """
    global _unreachable
    if _unreachable is not None:
        postgres_unavailable(_unreachable)
    target = make_url(url).set(drivername="postgresql")
    try:
        try:
            connection = await _connect(target)
        except asyncpg.InvalidCatalogNameError:
            await _create_database(target)
            connection = await _connect(target)
    except (OSError, TimeoutError, asyncpg.PostgresError) as error:
        _unreachable = f"cannot connect to {target.render_as_string()}: {error!r}"
        postgres_unavailable(_unreachable)
    try:
        # A connection left open by an earlier test must not make this wait forever.
        await connection.execute("SET lock_timeout = '10s'")
        await connection.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")
    finally:
        await connection.close()


async def _connect(url: URL) -> Any:
    return await asyncpg.connect(url.render_as_string(hide_password=False), timeout=5)


async def _create_database(url: URL) -> None:
    connection = await _connect(url.set(database="postgres"))
    try:
        await connection.execute(f'CREATE DATABASE "{url.database}"')
    finally:
        await connection.close()
