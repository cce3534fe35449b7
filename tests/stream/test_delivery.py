"""What a stream delivers: every event once, in order, across catch-up and live; the message
format; where it starts; where a ``live=false`` stream ends."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest

from tests.support.engines import SQL_ENGINES
from tests.support.sse import WAIT, Message, SseStream, open_stream
from tests.support.streams import (
    Appended,
    Serve,
    append,
    assert_delivered,
    client_for,
    event,
)

pytestmark = pytest.mark.anyio

SEEDED = 150
WRITERS = 4
APPENDS_PER_WRITER = 12


def payload(writer: int, seq: int) -> dict[str, Any]:
    """JSON that must come back unchanged: unicode (line separators included), escapes, big and
    fractional numbers, nesting."""
    return {
        "writer": writer,
        "seq": seq,
        "text": 'é ✓ "quoted" \\ new\nline \u2028 \u2029 \x85 \x1c',
        "numbers": [0, -1, 2.5, 1e20, 2**70],
        "nested": {"null": None, "true": True, "list": [[], {}]},
    }


async def write(client: httpx.AsyncClient, writer: int, appended: Appended) -> None:
    """One writer's appends: single events, multi-event appends, and appends with a condition
    (which pass: each writer is alone on its tag)."""
    own = f"writer:{writer}"
    for seq in range(APPENDS_PER_WRITER):
        events = [
            event("Written", own, f"seq:{seq}", data=payload(writer, seq * 10 + part))
            for part in range(1 if writer % 2 == 0 else 3)
        ]
        condition = None
        if writer >= 2:
            last_own = max((p for p, e in appended.items() if own in e["tags"]), default=0)
            condition = {"fail_if_events_match": {"items": [{"tags": [own]}]}, "after": last_own}
        appended |= await append(client, *events, condition=condition)


async def collect(
    stream: SseStream, into: list[Message], writers_done: anyio.Event, appended: Appended
) -> None:
    """Events until the last one appended; heartbeats wake it up to look whether the writers
    are done."""
    with anyio.fail_after(3 * WAIT):
        while not (writers_done.is_set() and into and into[-1].position >= max(appended)):
            message = await stream.next()
            assert message is not None, "the stream ended"
            if not message.is_heartbeat:
                into.append(message)


@pytest.mark.parametrize("engine_name", SQL_ENGINES)
async def test_catch_up_then_live_delivers_every_event_once_in_order(serve: Serve) -> None:
    # A catch-up of many reads, racing the writers.
    base_url = serve(stream_batch_size="7", heartbeat_seconds="0.2")
    async with client_for(base_url) as client:
        appended = await append(
            client, *(event("Seeded", f"seed:{i % 3}", data=payload(-1, i)) for i in range(SEEDED))
        )
        received: list[Message] = []
        writers_done = anyio.Event()
        async with open_stream(client, {"after": 0}) as stream, anyio.create_task_group() as tg:
            tg.start_soon(collect, stream, received, writers_done, appended)
            async with anyio.create_task_group() as writers:
                for writer in range(WRITERS):
                    writers.start_soon(write, client, writer, appended)
            writers_done.set()
    assert len(appended) == SEEDED + APPENDS_PER_WRITER * (1 + 3 + 1 + 3)
    assert_delivered(received, appended)


async def test_message_is_an_id_and_one_line_of_event_json(client: httpx.AsyncClient) -> None:
    appended = await append(client, event("Checked", "a:1", "b:2", data=payload(0, 0)))
    async with open_stream(client, {"after": 0}) as stream:
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        [message] = await stream.take(1)
    assert [name for name, _ in message.fields] == ["id", "data"]  # no "event:" field
    assert message.id == "1"
    received = message.event()
    assert set(received) == {"position", "id", "type", "data", "tags", "metadata", "recorded_at"}
    assert received["position"] == 1
    assert (received["type"], received["tags"], received["data"], received["metadata"]) == (
        "Checked",
        ["a:1", "b:2"],
        appended[1]["data"],
        {},
    )


async def test_without_a_start_the_stream_begins_at_the_head(client: httpx.AsyncClient) -> None:
    await append(client, event(), event(), event())
    async with open_stream(client) as stream:  # the head (3) is read before the response starts
        appended = await append(client, event("New"), event("New"))
        messages = await stream.take(2)
    assert_delivered(messages, appended)


@pytest.mark.parametrize("engine_name", SQL_ENGINES)
async def test_not_live_ends_after_the_events_that_existed_at_start(serve: Serve) -> None:
    # More history than the sockets' buffers hold: the server is still reading it (5 events a
    # read) when the later events are committed.
    base_url = serve(stream_batch_size="5")
    async with client_for(base_url, receive_buffer=2**16) as client:
        existing: Appended = {}
        for i in range(12):
            existing |= await append(client, event("Old", data={"i": i, "pad": "x" * 2**20}))
        async with open_stream(client, {"after": 0, "live": "false"}) as stream:
            first = await stream.take(1)
            await append(client, event("Later"), event("Later"))
            rest = await stream.rest()
            assert stream.ended
    assert_delivered(first + rest, existing)
