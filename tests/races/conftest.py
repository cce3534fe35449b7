"""Fixtures of the race tests: real service processes (`tests.support.live_server`) on a SQLite
file, or on PostgreSQL where a test is parametrized with ``ENGINES`` (PostgreSQL marked
``postgres``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.engines import database_url
from tests.stream.helpers import service_env
from tests.support.live_server import live_server

ENGINES = [pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)]
"""For ``@pytest.mark.parametrize("engine_name", ENGINES)``."""


@pytest.fixture
async def database(engine_name: str, tmp_path: Path) -> str:
    """The URL of an empty store of ``engine_name``."""
    return await database_url(engine_name, tmp_path)


@pytest.fixture
def server_count() -> int:
    """How many service processes `servers` starts; a test module overrides it."""
    return 1


@pytest.fixture
def servers(database: str, server_count: int) -> Iterator[list[str]]:
    """The base URLs of ``server_count`` service processes sharing ``database``."""
    with ExitStack() as stack:
        yield [
            stack.enter_context(live_server(service_env(database, heartbeat_seconds="0.2")))
            for _ in range(server_count)
        ]
