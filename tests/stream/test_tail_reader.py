"""`app.streaming` in-process, on the in-memory engine: catch-up joins the live feed without a gap
or a duplicate, a subscription that lags falls back to catch-up, and stopping the tail ends every
subscription."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
import pytest

from app.api.encoding import event_json
from app.domain import MATCH_ALL, EventInput, Query, ReadResult
from app.storage.memory import MemoryEngine
from app.streaming import Delivery, Subscription, TailReader

pytestmark = pytest.mark.anyio

WAIT = 5.0


class YieldingEngine(MemoryEngine):
    """The in-memory engine, with a suspension point in every read, as a database has: other
    tasks (the tail, writers) run while a subscription reads its history."""

    async def read(
        self,
        query: Query,
        *,
        after: int = 0,
        before: int | None = None,
        limit: int,
        backwards: bool = False,
    ) -> ReadResult:
        await asyncio.sleep(0)
        return await super().read(
            query, after=after, before=before, limit=limit, backwards=backwards
        )


async def store(engine: MemoryEngine, count: int) -> None:
    """``count`` events in one append."""
    await engine.append([EventInput(type="Happened") for _ in range(count)])


@asynccontextmanager
async def running_tail(engine: MemoryEngine, **options: int) -> AsyncIterator[TailReader]:
    tail = TailReader(engine, event_json, **options)
    await tail.start()
    try:
        yield tail
    finally:
        await tail.close()


async def one_by_one(subscription: Subscription) -> AsyncIterator[Delivery]:
    """The subscription's deliveries one at a time, as its batches bring them."""
    async for batch in subscription.batches():
        for delivery in batch:
            yield delivery


def subscribe(tail: TailReader, after: int) -> AsyncIterator[Delivery]:
    return one_by_one(tail.subscribe(MATCH_ALL, after=after))


async def take(deliveries: AsyncIterator[Delivery], count: int) -> list[int]:
    with anyio.fail_after(WAIT):
        return [(await anext(deliveries)).position for _ in range(count)]


async def until(condition: Callable[[], bool]) -> None:
    with anyio.fail_after(WAIT):
        while not condition():  # noqa: ASYNC110 - nothing to wait on: poll
            await asyncio.sleep(0.001)


async def test_subscriber_joining_while_the_tail_is_behind_gets_history_then_live() -> None:
    engine = YieldingEngine()
    await store(engine, 5)
    async with running_tail(engine, batch_size=3) as tail:
        await store(engine, 10)  # the tail has not run since it started at 5
        assert (tail.position, await engine.head()) == (5, 15)
        deliveries = subscribe(tail, 2)
        assert await take(deliveries, 13) == list(range(3, 16))
        await store(engine, 2)
        assert await take(deliveries, 2) == [16, 17]


async def test_writes_during_catch_up_arrive_once_in_order() -> None:
    engine = YieldingEngine()
    await store(engine, 40)

    async def write() -> None:
        for size in [1, 3, 1, 7, 2] * 6:
            await store(engine, size)
            await asyncio.sleep(0)

    async with running_tail(engine, batch_size=4) as tail, anyio.create_task_group() as tg:
        deliveries = subscribe(tail, 0)
        tg.start_soon(write)
        assert await take(deliveries, 40 + 14 * 6) == list(range(1, 40 + 14 * 6 + 1))


async def test_lagging_subscriber_falls_back_to_catch_up_without_gap_or_duplicate() -> None:
    engine = YieldingEngine()
    async with running_tail(engine, batch_size=4, max_buffered=3) as tail:
        deliveries = subscribe(tail, 0)
        await store(engine, 2)
        assert await take(deliveries, 1) == [1]  # live, with 2 buffered
        assert tail.subscribers == 1
        await store(engine, 10)  # while the subscriber is not reading
        await until(lambda: tail.position == 12)
        assert tail.subscribers == 0  # it overflowed its buffer and left the live feed
        assert await take(deliveries, 11) == list(range(2, 13))  # caught up from the store
        await store(engine, 1)
        assert await take(deliveries, 1) == [13]
        assert tail.subscribers == 1  # live again


async def test_stopping_the_tail_ends_every_subscription() -> None:
    engine = YieldingEngine()
    async with running_tail(engine) as tail:
        waiting = subscribe(tail, 0)
        catching_up = subscribe(tail, 0)
        await store(engine, 3)
        assert await take(waiting, 3) == [1, 2, 3]  # live, waiting for more
        assert await take(catching_up, 1) == [1]  # in its history read of 1..3
        with anyio.fail_after(WAIT):
            pending = asyncio.ensure_future(anext(waiting))
            await asyncio.sleep(0.01)
            assert not pending.done()
            await tail.close()
            with pytest.raises(StopAsyncIteration):
                await pending
            # One catching up ends too, at the latest after the history batch at hand.
            assert [d.position async for d in catching_up] in ([], [2, 3])
            assert [d async for d in subscribe(tail, 0)] == []
