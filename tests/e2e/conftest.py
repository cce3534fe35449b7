"""End-to-end tests: the whole service over HTTP (ASGI), on every storage engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.api import api_client, make_settings
from tests.support.engines import ENGINE_PARAMS, database_url


@pytest.fixture(params=ENGINE_PARAMS)
async def client(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(database_url=await database_url(request.param, tmp_path))
    async with api_client(settings) as client:
        yield client
