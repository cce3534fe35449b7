"""Fixtures of the API tests: an app on the in-memory engine, and a client over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.api import api_client, append_ok, event


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with api_client() as client:
        yield client


@pytest.fixture
async def five(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """A store of five events: A(k:1) B(k:1) A(k:2) B(k:2, x:1) C."""
    await append_ok(
        client,
        event("A", "k:1"),
        event("B", "k:1"),
        event("A", "k:2"),
        event("B", "k:2", "x:1"),
        event("C"),
    )
    return client
