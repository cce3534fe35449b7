"""Fixtures of the stream tests: real uvicorn processes (`tests.support.live_server`) on a SQLite
file, or on PostgreSQL where a test is parametrized with ``SQL_ENGINES`` (`tests.support.engines`).

httpx's ASGITransport buffers a whole response body, which never ends for a stream: these tests
always talk to a real server over real sockets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.support.engines import database_url
from tests.support.live_server import live_server
from tests.support.streams import Serve, client_for, service_env


@pytest.fixture
def engine_name() -> str:
    return "sqlite"


@pytest.fixture
async def database(engine_name: str, tmp_path: Path) -> str:
    """The URL of an empty store."""
    return await database_url(engine_name, tmp_path)


@pytest.fixture
def serve(database: str) -> Iterator[Serve]:
    """Starts servers on ``database`` (`STREAM_DEFAULTS`, then each ``EVENTSTORE_<NAME>`` from
    keyword arguments); stops them after the test."""
    with ExitStack() as servers:

        def start(**settings: str) -> str:
            url: str = servers.enter_context(live_server(service_env(database, **settings)))
            return url

        yield start


@pytest.fixture
def base_url(serve: Serve) -> str:
    """A server with the default stream settings."""
    return serve()


@pytest.fixture
async def client(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(base_url) as client:
        yield client
