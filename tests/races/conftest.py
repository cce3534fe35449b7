"""Fixtures of the race tests: real service processes (`tests.support.live_server`) on a SQLite
file, or on PostgreSQL where a test is parametrized with `tests.support.engines.SQL_ENGINES`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.support.engines import database_url
from tests.support.live_server import live_server
from tests.support.streams import service_env


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
