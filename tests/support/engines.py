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
from typing import NoReturn

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from app.config import Settings
from app.storage.factory import build_engine
from app.storage.protocol import EventStorageEngine
from tests.support.postgres import recreate_schema

POSTGRES_URL_VARIABLE = "EVENTSTORE_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_VARIABLE = "EVENTSTORE_REQUIRE_POSTGRES"


async def database_url(name: str, tmp_path: Path) -> str:
    """The URL of an empty store of engine ``name`` (resetting the PostgreSQL test database)."""
    if name == "memory":
        return "memory://"
    if name == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
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

SQL_ENGINES = [pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)]
"""The engines a real service process runs on, for ``@pytest.mark.parametrize("engine_name",
SQL_ENGINES)`` in the suites that start servers (streams, races, faults)."""


def postgres_unavailable(reason: str) -> NoReturn:
    if os.environ.get(REQUIRE_POSTGRES_VARIABLE) == "1":
        pytest.fail(f"PostgreSQL is required ({REQUIRE_POSTGRES_VARIABLE}=1): {reason}")
    pytest.skip(f"PostgreSQL TESTS NOT RUN: {reason}")


_unreachable: str | None = None  # remembered so that one dead server costs one connect timeout


async def reset_postgres(url: str) -> None:
    """Empty the test database (`recreate_schema`), or skip (fail in CI) when the server cannot
    be reached."""
    global _unreachable
    if _unreachable is not None:
        postgres_unavailable(_unreachable)
    try:
        await recreate_schema(url)
    except (OSError, TimeoutError, asyncpg.PostgresError) as error:
        target = make_url(url).set(drivername="postgresql").render_as_string()
        _unreachable = f"cannot reset {target}: {error!r}"
        postgres_unavailable(_unreachable)
