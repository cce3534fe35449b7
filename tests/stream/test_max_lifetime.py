"""``EVENTSTORE_STREAM_MAX_SECONDS``: a stream ends cleanly (a complete response) when its time is
up, and the client resumes with ``Last-Event-ID`` without a gap."""

from __future__ import annotations

import asyncio
import time

import anyio
import pytest

from app.api.encoding import event_json
from app.api.routes.stream import _messages
from app.domain import MATCH_ALL, EventInput
from app.storage.memory import MemoryEngine
from app.streaming import TailReader
from tests.support.api import make_settings
from tests.support.sse import WAIT, open_stream
from tests.support.streams import Appended, Serve, append, assert_delivered, client_for, event

pytestmark = pytest.mark.anyio


async def test_stream_ends_cleanly_at_its_maximum_lifetime_then_resumes(serve: Serve) -> None:
    async with client_for(serve(stream_max_seconds="1")) as client:
        appended = await append(client, *(event("Early") for _ in range(5)))
        started = anyio.current_time()
        async with open_stream(client, {"after": 0}) as stream:
            first = await stream.take(5)
            appended |= await append(client, event("Live"))
            first += await stream.take(1)
            first += await stream.rest(timeout=5)  # httpx raises if the body is cut short
            assert stream.ended
        assert 0.9 < anyio.current_time() - started < 4
        appended |= await append(client, event("Meanwhile"))
        async with open_stream(client, headers={"Last-Event-ID": str(first[-1].id)}) as stream:
            second = await stream.through(max(appended))
    assert_delivered(first + second, appended)


async def test_slow_reader_also_gets_a_clean_end_then_resumes(serve: Serve) -> None:
    # Big events, read slowly through a small socket buffer: when the time is up the server is
    # most likely waiting for the client to take data, not for events.
    base_url = serve(stream_max_seconds="1", stream_batch_size="2")
    async with client_for(base_url, receive_buffer=2**16) as client:
        appended: Appended = {}
        for i in range(24):
            appended |= await append(client, event("Big", data={"i": i, "pad": "x" * 2**19}))
        async with open_stream(client, {"after": 0}) as stream:
            first = []
            while (message := await stream.next_event()) is not None:
                first.append(message)
                await anyio.sleep(0.1)
        assert len(first) < len(appended)  # cut by the lifetime, cleanly (else httpx raises)
        async with open_stream(client, headers={"Last-Event-ID": str(first[-1].id)}) as stream:
            second = await stream.through(max(appended))
    assert_delivered(first + second, appended)


async def test_lifetime_never_cancels_the_consumer_of_the_messages() -> None:
    """In-process: the messages' consumer (sse-starlette's send) runs in the generator's task;
    the lifetime ending while it waits must not cancel it."""
    engine = MemoryEngine()
    tail = TailReader(engine, event_json)
    await tail.start()
    try:
        await engine.append([EventInput("A"), EventInput("A")])
        messages = _messages(
            tail,
            MATCH_ALL,
            after=0,
            live_until=None,
            ends_at=time.time() + 0.2,
            named=False,
            settings=make_settings(),
        )
        with anyio.fail_after(WAIT):
            assert (await anext(messages)).startswith(b"id: 1\n")
            try:
                await asyncio.sleep(0.5)  # a slow send; the lifetime ends meanwhile
            except asyncio.CancelledError:
                pytest.fail("the stream's lifetime cancelled the task sending its messages")
            rest = [message async for message in messages]  # ends, at the latest when it waits
        assert [message.split(b"\n")[0] for message in rest] in ([], [b"id: 2"])
        current = asyncio.current_task()
        assert current is not None
        assert current.cancelling() == 0
    finally:
        await tail.close()
