"""The decision oracle (`tests.races.oracle`) against two service processes on one store (a
SQLite file, a PostgreSQL database), the clients split between them, with a stream from position
0 open on each instance during the whole run.

Attacked: the condition check and position drawing across processes (each process group-commits
its own appends; only the store's writer lock orders the two: on SQLite the lock file and
``BEGIN IMMEDIATE``, on PostgreSQL the advisory lock), and the tail reader of each process,
which follows commits made by the other process as well as its own (woken by the other's
announcements: datagram sockets on SQLite, LISTEN/NOTIFY on PostgreSQL) while both write
concurrently. The final log must pass the oracle's checks, and each stream must
have delivered exactly the log's events: every position once, in order, nothing skipped, each
event as stored.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import anyio
import pytest

from tests.support.engines import SQL_ENGINES
from tests.support.oracle import Json, check, read_log, run_clients
from tests.support.sse import Message, SseStream, open_stream, positions
from tests.support.streams import client_for

pytestmark = pytest.mark.anyio

CLIENTS = 24
ITERATIONS = 8


@pytest.fixture
def server_count() -> int:
    return 2


class Received:
    """The events of one stream as they arrive."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._changed = anyio.Event()

    async def collect(self, stream: SseStream) -> None:
        while True:
            message = await stream.next(timeout=30)
            assert message is not None, "the stream ended"
            if not message.is_heartbeat:
                self.messages.append(message)
                self._changed.set()

    async def until(self, done: Callable[[], bool], seconds: float) -> None:
        with anyio.fail_after(seconds):
            while not done():
                self._changed = anyio.Event()
                await self._changed.wait()

    def reached(self, position: int) -> Callable[[], bool]:
        return lambda: bool(self.messages) and self.messages[-1].position >= position


def check_delivered(received: Received, log: list[Json]) -> None:
    assert positions(received.messages) == [event["position"] for event in log]
    for message, stored in zip(received.messages, log, strict=True):
        assert message.event() == stored


@pytest.mark.parametrize("engine_name", SQL_ENGINES)
async def test_the_oracle_holds_across_two_processes_and_their_streams_deliver_the_log(
    servers: list[str],
) -> None:
    seed = random.randrange(1 << 32)  # fixes each client's queries and events, not the timing
    print(f"seed {seed}")
    streams = [Received() for _ in servers]
    async with (
        client_for(servers[0]) as reader_one,
        client_for(servers[1]) as reader_two,
        open_stream(reader_one, {"after": 0}) as stream_one,
        open_stream(reader_two, {"after": 0}) as stream_two,
        anyio.create_task_group() as readers,
    ):
        readers.start_soon(streams[0].collect, stream_one)
        readers.start_soon(streams[1].collect, stream_two)
        outcomes = await run_clients(servers, clients=CLIENTS, iterations=ITERATIONS, seed=seed)
        log = await read_log(reader_two, servers[1], page=50)
        for received in streams:
            await received.until(received.reached(len(log)), seconds=10)
        await anyio.sleep(0.3)  # anything more would be a duplicate or beyond the head
        readers.cancel_scope.cancel()
    print(f"accepted {len(outcomes.accepted)}, refused {len(outcomes.refused)}, {len(log)} events")
    check(log, outcomes)
    for received in streams:
        check_delivered(received, log)
