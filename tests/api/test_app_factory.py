"""create_app does no I/O; the lifespan builds, starts and closes the engine."""

from __future__ import annotations

import pytest

from app.__main__ import mask_password
from app.config import Settings
from app.main import create_app
from app.storage.memory import MemoryEngine
from app.storage.protocol import EventStorageEngine
from tests.support.api import make_settings, running_app

pytestmark = pytest.mark.anyio


class RecordingEngine(MemoryEngine):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def start(self) -> None:
        self.calls.append("start")

    async def close(self) -> None:
        self.calls.append("close")


def test_create_app_builds_no_engine() -> None:
    def refuse(settings: Settings) -> EventStorageEngine:
        raise AssertionError("the engine must be built in the lifespan, not by create_app")

    create_app(make_settings(database_url="sqlite:////no/such.db"), build_store=refuse)


async def test_lifespan_starts_the_engine_and_closes_it() -> None:
    engine = RecordingEngine()

    async with running_app(make_settings(), store=engine) as running:
        assert running.state["store"] is engine
        assert engine.calls == ["start"]

    assert engine.calls == ["start", "close"]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+asyncpg://user:s3cret@db:5432/es", "postgresql+asyncpg://user:***@db:5432/es"),
        ("postgresql+asyncpg://user@db/es", "postgresql+asyncpg://user@db/es"),
        ("sqlite:///eventstore.db", "sqlite:///eventstore.db"),
    ],
)
def test_start_up_line_masks_the_database_password(url: str, shown: str) -> None:
    assert mask_password(url) == shown
