"""Fixtures of the client library's tests: real service processes (`tests.support.live_server`)
on memory, SQLite and PostgreSQL, and stores of the library pointed at them.

One server per module and engine: the tests of a module share it, each on tags of its own
(`unique`), so that none sees another's events.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from eventstore_client import AsyncEventStore, EventStore
from tests.support.engines import ENGINE_PARAMS, database_url
from tests.support.live_server import live_server, settings_env


@pytest.fixture(scope="module", params=ENGINE_PARAMS)
def engine_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def base_url(engine_name: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A service on an empty store of ``engine_name``, for the module."""
    folder: Path = tmp_path_factory.mktemp(engine_name)
    database = asyncio.run(database_url(engine_name, folder))
    with live_server(settings_env(database, heartbeat_seconds="0.2")) as url:
        yield url


@pytest.fixture
def store(base_url: str) -> Iterator[EventStore]:
    with EventStore(base_url) as store:
        yield store


@pytest.fixture
async def async_store(base_url: str) -> AsyncIterator[AsyncEventStore]:
    async with AsyncEventStore(base_url) as store:
        yield store


@pytest.fixture
def unique() -> str:
    """A prefix for this test's ids and tags."""
    return uuid.uuid4().hex[:8]
