"""Fixtures of the worker tests: a service of two worker processes (`python -m app` with
``EVENTSTORE_WORKERS=2``) on a SQLite file or on PostgreSQL, with tokens and small limits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.engines import SQL_ENGINES, database_url
from tests.support.live_server import ServiceProcess, service_process, settings_env
from tests.support.workers import Connection, serving_workers

READER = "reader-secret"
WRITER = "writer-secret"
TOKENS = {READER: ["read"], WRITER: ["read", "append", "metrics"]}
STREAMS_PER_TOKEN = 2
APPEND_BURST = 3


@pytest.fixture(params=SQL_ENGINES)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return asyncio.run(database_url(str(request.param), tmp_path))


def workers_env(database: str, **settings: str) -> dict[str, str]:
    """Two workers on ``database``, the tokens, small limits; ``settings`` override them."""
    defaults = {
        "workers": "2",
        "api_tokens": json.dumps(TOKENS),
        "max_streams_per_token": str(STREAMS_PER_TOKEN),
        "append_rate_per_token": "0.001",
        "append_burst_per_token": str(APPEND_BURST),
        "heartbeat_seconds": "0.2",
        "shutdown_grace_seconds": "2",
    }
    return settings_env(database, **{**defaults, **settings})


@pytest.fixture
def service(database: str) -> Iterator[ServiceProcess]:
    with service_process("app", workers_env(database), inherit_settings=False) as running:
        serving_workers(running.pid, running.port, 2)
        yield running


@pytest.fixture(autouse=True)
def _close_connections() -> Iterator[None]:
    yield
    Connection.close_all()
