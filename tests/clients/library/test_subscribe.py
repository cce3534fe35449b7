"""``subscribe`` against real service processes: history then live events, in order, each once;
closing it closes the connection; it follows the store across a restart of a SQLite service
on the same address, and across a switch between two service processes on one PostgreSQL
database behind a proxy, where the old connection goes silent and only the missing heartbeats
tell. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from eventstore_client import (
    AsyncEventStore,
    Event,
    EventStore,
    Query,
    SequencedEvent,
    Subscription,
    ValidationFailed,
)
from tests.support.engines import database_url
from tests.support.live_server import free_port, service_process, settings_env
from tests.support.proxy import Proxy

WAIT = 30.0


class Follower:
    """A subscription read by a thread of its own, into ``received``."""

    def __init__(self, subscription: Subscription) -> None:
        self.subscription = subscription
        self.received: list[SequencedEvent] = []
        self.changed = threading.Condition()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for event in self.subscription:
                with self.changed:
                    self.received.append(event)
                    self.changed.notify_all()
        except BaseException as error:
            self.error = error

    def wait_for(self, count: int) -> list[SequencedEvent]:
        with self.changed:
            reached = self.changed.wait_for(lambda: len(self.received) >= count, timeout=WAIT)
        assert reached, f"{len(self.received)} of {count} events after {WAIT} s ({self.error!r})"
        return list(self.received)

    def close(self) -> None:
        self.subscription.close()
        self.thread.join(timeout=WAIT)
        assert not self.thread.is_alive()


def eventually(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.05)


def streams_open(base_url: str) -> float:
    metrics = httpx.get(f"{base_url}/metrics", timeout=5).text
    [line] = [line for line in metrics.splitlines() if line.startswith("eventstore_streams_open")]
    return float(line.split()[-1])


def test_history_then_live_in_order_and_closing_closes_the_stream(
    base_url: str, store: EventStore, unique: str
) -> None:
    query = Query.of(tags=[unique])
    before = store.head()
    history = store.append([Event("Old", i, [unique]) for i in range(3)])
    store.append(Event("Elsewhere", None, [f"{unique}-not"]))
    follower = Follower(store.subscribe(query, after=before, heartbeat_timeout=5))
    follower.wait_for(3)
    live = store.append([Event("New", i, [unique]) for i in range(3)])

    received = follower.wait_for(6)
    assert streams_open(base_url) >= 1
    follower.close()

    assert [e.position for e in received] == [*history.positions, *live.positions]
    assert [e.type for e in received] == ["Old"] * 3 + ["New"] * 3
    eventually(lambda: streams_open(base_url) == 0)


def test_without_after_it_starts_at_the_head(store: EventStore, unique: str) -> None:
    store.append(Event("Before", None, [unique]))
    follower = Follower(store.subscribe(Query.of(tags=[unique]), heartbeat_timeout=5))
    appended = store.append(Event("After", None, [unique]))
    received = follower.wait_for(1)
    follower.close()
    assert [e.position for e in received] == [appended.last_position]


def test_line_separators_in_data_arrive_intact(store: EventStore, unique: str) -> None:
    """U+2028, U+2029 and NEL are not line ends in an event stream (the service's JSON sends
    them unescaped)."""
    before = store.head()
    data = {"text": "one\u2028two\u2029three\x85four\r\nfive"}
    store.append(Event("Text", data, [unique]))
    [event] = store.subscribe(Query.of(tags=[unique]), after=before, live=False)
    assert event.data == data


def test_a_bad_query_is_raised_before_the_stream(store: EventStore) -> None:
    with pytest.raises(ValidationFailed):
        next(iter(store.subscribe(Query.of(types=["x" * 300]), after=0)))


@pytest.mark.anyio
async def test_the_async_subscription(async_store: AsyncEventStore, unique: str) -> None:
    query = Query.of(tags=[unique])
    before = await async_store.head()
    first = await async_store.append([Event("A", i, [unique]) for i in range(2)])

    finite = await async_store.subscribe(query, after=before, live=False)
    ended = [event.position async for event in finite]

    live = await async_store.subscribe(query, after=before, heartbeat_timeout=5)
    async with live:
        received = [await anext_within(live) for _ in range(2)]
        later = await async_store.append(Event("B", None, [unique]))
        received.append(await anext_within(live))

    assert ended == list(first.positions)
    assert [e.position for e in received] == [*first.positions, later.last_position]


async def anext_within(subscription: object) -> SequencedEvent:
    event: SequencedEvent = await asyncio.wait_for(subscription.__anext__(), WAIT)  # type: ignore[attr-defined]
    return event


def test_following_the_store_across_a_restart(tmp_path: Path) -> None:
    """A SQLite service stops and starts again on the same address while events are appended
    before, during and after: the subscriber receives each once, in order."""
    port = free_port()
    env = settings_env(f"sqlite:///{tmp_path}/store.db", heartbeat_seconds="0.2")
    query = Query.of(types=["Counted"])
    appended: list[int] = []

    subscriber = EventStore(f"http://127.0.0.1:{port}")  # the subscription uses its client
    with service_process("app", env, port=port) as first, EventStore(first.base_url) as store:
        follower = Follower(subscriber.subscribe(query, after=0, heartbeat_timeout=2))
        for i in range(10):
            appended.extend(store.append(Event("Counted", i, ["n"])).positions)
        follower.wait_for(10)
    # Down: the subscriber is reconnecting, with backoff.
    with service_process("app", env, port=port) as second, EventStore(second.base_url) as store:
        for i in range(10, 20):
            appended.extend(store.append(Event("Counted", i, ["n"])).positions)
        received = follower.wait_for(20)
        connections = follower.subscription.connections
        follower.close()
        subscriber.close()

    assert [e.position for e in received] == appended
    assert [e.data for e in received] == list(range(20))
    assert connections >= 2


@pytest.mark.postgres
def test_following_the_store_across_a_replica_switch(tmp_path: Path) -> None:
    """Two service processes on one PostgreSQL database behind a proxy. The subscriber reads
    through the proxy from the first; then the proxy sends everything to the second and the
    old connection goes silent, not closed: the subscriber notices the missing heartbeats,
    reconnects (to the second) with Last-Event-ID, and receives every event once, in order,
    appended through either process."""
    database = asyncio.run(database_url("postgres", tmp_path))
    env = settings_env(database, heartbeat_seconds="0.2")
    appended: list[int] = []
    with (
        service_process("app", env) as one,
        service_process("app", env) as two,
        Proxy(one.port) as proxy,
        EventStore(one.base_url) as via_one,
        EventStore(two.base_url) as via_two,
        EventStore(proxy.base_url) as via_proxy,
    ):
        follower = Follower(via_proxy.subscribe(Query.of(types=["Counted"]), heartbeat_timeout=1))
        for i in range(10):
            writer = via_one if i % 2 else via_two
            appended.extend(writer.append(Event("Counted", i, ["n"])).positions)
        follower.wait_for(10)

        proxy.switch(two.port, silently=True)
        for i in range(10, 20):
            writer = via_one if i % 2 else via_two
            appended.extend(writer.append(Event("Counted", i, ["n"])).positions)
        received = follower.wait_for(20)
        connections = follower.subscription.connections
        follower.close()

    assert [e.position for e in received] == appended
    assert [e.data for e in received] == list(range(20))
    assert connections >= 2
