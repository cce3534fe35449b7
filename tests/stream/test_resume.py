"""Resuming with ``Last-Event-ID``: the stream goes on after the last event received, exactly once,
and the header wins over ``after``."""

from __future__ import annotations

import httpx
import pytest

from tests.support.engines import SQL_ENGINES
from tests.support.sse import open_stream, positions
from tests.support.streams import append, assert_delivered, event

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("engine_name", SQL_ENGINES)
async def test_reconnect_with_last_event_id_continues_after_it(client: httpx.AsyncClient) -> None:
    appended = await append(client, *(event("Counted", data=i) for i in range(20)))
    async with open_stream(client, {"after": 0}) as stream:
        before = await stream.take(7)
    # Appended while nobody listens: the resumed stream must catch up on them too.
    appended |= await append(client, event("Missed"), event("Missed"))
    last_id = before[-1].id
    assert last_id == "7"
    async with open_stream(client, headers={"Last-Event-ID": last_id}) as stream:
        after = await stream.through(22)
        appended |= await append(client, event("Live"))
        after += await stream.take(1)
    assert positions(after)[0] == 8
    assert_delivered(before + after, appended)


async def test_last_event_id_wins_over_after(client: httpx.AsyncClient) -> None:
    appended = await append(client, *(event("Counted", data=i) for i in range(20)))
    for after in (2, 15):  # before and beyond the header's position
        async with open_stream(client, {"after": after}, headers={"Last-Event-ID": "7"}) as stream:
            resumed = await stream.through(20)
        assert_delivered(resumed, {p: e for p, e in appended.items() if p > 7})
