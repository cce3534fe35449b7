"""The contract suite: every test here runs once per storage engine (see `tests.engines`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.storage.engine import EventStorageEngine
from tests.engines import ENGINE_PARAMS, new_engine


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
