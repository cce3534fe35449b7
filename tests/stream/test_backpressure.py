"""Readers that do not keep up: one that stops reading is cut off without holding anyone else
back; one that falls behind its buffer catches up from the store, missing nothing."""

from __future__ import annotations

import anyio
import httpx
import pytest

from tests.support.sse import Message, SseStream, open_stream, paused_stream, read_until_closed
from tests.support.streams import (
    Appended,
    Serve,
    append,
    append_each,
    assert_delivered,
    client_for,
    event,
)

pytestmark = pytest.mark.anyio

BIG = 20
"""Events of half a MiB each: 10 MiB, far more than a paused connection's buffers hold (the
server's socket send buffer, at most 4 MiB on Linux, the reader's small receive buffer and
uvicorn's write buffer)."""


async def append_big(client: httpx.AsyncClient, appended: Appended) -> None:
    for i in range(BIG):
        appended |= await append(client, event("Big", data={"i": i, "pad": "x" * 2**19}))


async def read_through(stream: SseStream, position: int, into: list[Message]) -> None:
    into += await stream.through(position, timeout=20)


async def test_paused_reader_is_cut_off_while_another_receives_everything(serve: Serve) -> None:
    base_url = serve(stream_send_timeout_seconds="1")
    appended: Appended = {}
    received: list[Message] = []
    async with (
        client_for(base_url) as client,
        paused_stream(base_url, {"after": 0}) as paused,
        open_stream(client, {"after": 0}) as reader,
    ):
        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                tg.start_soon(read_through, reader, BIG, received)
                await append_big(client, appended)
        assert_delivered(received, appended)
        await anyio.sleep(2)  # the paused connection's send timeout has passed
        # The server gave up on it: reading it now ends (EOF) after what was already buffered.
        # (Until then uvicorn keeps the socket open, to flush that buffer: see test_shutdown.)
        cut_off = await read_until_closed(paused)
        delivered = cut_off.count(b"\nid: ")  # each message begins a chunk, after a CRLF
        assert delivered < BIG, f"{len(cut_off)} bytes, {delivered} events"
        assert (await client.get("/healthz")).status_code == 200
        async with open_stream(client, {"after": 0, "live": "false"}) as fresh:
            assert_delivered(await fresh.rest(timeout=20), appended)


async def test_reader_further_behind_than_its_buffer_gets_every_event_once(serve: Serve) -> None:
    async with client_for(serve(stream_buffer_events="5")) as client:
        appended = await append(client, *(event("Before") for _ in range(4)))
        async with open_stream(client, {"after": 0}) as stream:
            received = await stream.take(2)
            for burst in range(6):
                # One commit of more events than the buffer holds, then a few small ones,
                # while the reader reads nothing.
                data = {"burst": burst, "pad": "y" * 2**13}
                appended |= await append(client, *(event("Burst", data=data) for _ in range(12)))
                appended |= await append_each(client, *(event("Trickle") for _ in range(3)))
            with anyio.fail_after(20):
                while received[-1].position < max(appended):
                    received += await stream.take(1)
                    await anyio.sleep(0.002)  # and then slowly
    assert_delivered(received, appended)
