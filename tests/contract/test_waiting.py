"""wait_for_new: wakes when the head moves past ``after``, or returns the head at the timeout."""

from __future__ import annotations

import time

import anyio
import pytest

from app.storage.protocol import EventStorageEngine
from tests.support.events import new_event

pytestmark = pytest.mark.anyio


async def test_wakes_promptly_when_an_event_is_appended(engine: EventStorageEngine) -> None:
    await engine.append([new_event()])
    woken_with: list[int] = []

    async def wait() -> None:
        woken_with.append(await engine.wait_for_new(1, timeout=30))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(wait)
            await anyio.sleep(0.1)
            assert woken_with == []
            await engine.append([new_event()])

    assert woken_with == [2]


async def test_returns_at_once_when_the_head_is_already_past(engine: EventStorageEngine) -> None:
    await engine.append([new_event(), new_event()])

    with anyio.fail_after(5):
        head = await engine.wait_for_new(0, timeout=30)

    assert head == 2


async def test_returns_the_head_after_the_timeout(engine: EventStorageEngine) -> None:
    await engine.append([new_event(), new_event()])
    started = time.monotonic()

    with anyio.fail_after(5):
        head = await engine.wait_for_new(2, timeout=0.3)

    assert head == 2
    assert time.monotonic() - started >= 0.25
