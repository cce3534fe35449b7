"""Fixtures of the hostile-input tests: an app on the in-memory engine, and a client over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.api import api_client


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with api_client() as client:
        yield client
