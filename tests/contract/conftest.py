"""The contract suite: every test here runs once per storage engine (see `tests.engines`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.storage.protocol import EventStorageEngine
from tests.support.engines import ENGINE_PARAMS, new_engine
from tests.support.events import new_event


@pytest.fixture(params=ENGINE_PARAMS)
async def engine(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[EventStorageEngine]:
    """A started engine over an empty store, closed after the test."""
    store = await new_engine(request.param, tmp_path)
    await store.start()
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def store(engine: EventStorageEngine) -> EventStorageEngine:
    """The engine holding positions 1..10; odd positions have type Odd, even ones Even
    (the read and marker tests)."""
    await engine.append([new_event("Even" if p % 2 == 0 else "Odd") for p in range(1, 11)])
    return engine
