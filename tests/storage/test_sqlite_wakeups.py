"""Wake-ups between processes sharing a SQLite store (`app/storage/sql/sqlite_wakeups.py`).

Each feed stands in for one process (feeds in one process talk through the same sockets as
feeds in two). An announcement reaches every other feed, not its sender; the socket a killed
process left behind is removed by the next sender; a folder where no socket can be made leaves
the feed silent, with one warning, and announcing harmless; a feed whose socket was removed
listens anew and asks for a catch-up. Through two engines on one file: an append on one wakes a
reader waiting on the other long before the engine's one-second poll would.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.config import Settings
from app.domain import EventInput
from app.storage.sql.engine import SqlEngine, build_sql_engine
from app.storage.sql.sqlite_wakeups import SqliteCommitFeed, wakeup_directory

pytestmark = pytest.mark.anyio


class Woken:
    def __init__(self) -> None:
        self.positions: list[int | None] = []
        self.changed = asyncio.Event()

    def __call__(self, position: int | None) -> None:
        self.positions.append(position)
        self.changed.set()

    async def until(self, count: int) -> None:
        async with asyncio.timeout(5):
            while len(self.positions) < count:
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
def store(tmp_path: Path) -> str:
    return str(tmp_path / "store.db")


@pytest.fixture
async def feeds(store: str) -> AsyncIterator[list[tuple[SqliteCommitFeed, Woken]]]:
    started = []
    for _ in range(3):
        feed, woken = SqliteCommitFeed(store), Woken()
        await feed.start(woken)
        started.append((feed, woken))
    yield started
    for feed, _ in started:
        await feed.close()


async def test_an_announcement_wakes_every_other_process_and_not_its_sender(
    feeds: list[tuple[SqliteCommitFeed, Woken]], store: str
) -> None:
    (one, one_woken), (_, two_woken), (_, three_woken) = feeds
    assert all(feed.listening for feed, _ in feeds)
    assert oct(os.stat(wakeup_directory(store)).st_mode & 0o777) == "0o700"
    one.announce(7)
    await two_woken.until(1)
    await three_woken.until(1)
    assert two_woken.positions == three_woken.positions == [7]
    await asyncio.sleep(0.05)
    assert one_woken.positions == []


async def test_the_socket_of_a_dead_process_is_removed_by_the_next_sender(
    feeds: list[tuple[SqliteCommitFeed, Woken]], store: str
) -> None:
    directory = Path(wakeup_directory(store))
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dead.bind(str(directory / "999999-dead.sock"))
    dead.close()  # its file stays, as a process killed with -9 leaves it
    (one, _), (_, two_woken), _ = feeds
    one.announce(3)
    await two_woken.until(1)
    assert not (directory / "999999-dead.sock").exists()
    assert sorted(os.listdir(directory)) == sorted(feed.name for feed, _ in feeds)


async def test_a_feed_that_cannot_listen_warns_once_and_announcing_does_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")  # the store's folder cannot hold the wake-up folder
    feed = SqliteCommitFeed(str(blocker / "store.db"))
    with caplog.at_level(logging.WARNING):
        await feed.start(Woken())
    assert not feed.listening
    assert [r.getMessage() for r in caplog.records if "wake-ups" in r.getMessage()] != []
    assert len(caplog.records) == 1
    feed.announce(1)
    await feed.close()


async def test_a_feed_that_could_not_listen_listens_once_it_can_and_asks_for_a_catch_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-yet-a-folder"
    blocker.write_text("")
    feed, woken = SqliteCommitFeed(str(blocker / "store.db")), Woken()
    await feed.start(woken)
    assert not feed.listening
    assert feed._check is not None  # it will try again
    caplog.clear()  # its one warning
    with caplog.at_level(logging.WARNING):
        feed._check_socket()  # still impossible: tried again quietly
        assert caplog.records == []
        blocker.unlink()
        blocker.mkdir()
        feed._check_socket()  # what its periodic check does
    try:
        assert feed.listening
        await woken.until(1)
        assert woken.positions == [None]
    finally:
        await feed.close()


async def test_a_feed_whose_socket_was_removed_listens_anew_and_asks_for_a_catch_up(
    feeds: list[tuple[SqliteCommitFeed, Woken]], store: str
) -> None:
    (one, _), (two, two_woken), _ = feeds
    os.unlink(Path(wakeup_directory(store)) / two.name)
    two._check_socket()  # what its periodic check does
    assert two.listening
    await two_woken.until(1)
    assert two_woken.positions == [None]
    one.announce(5)
    await two_woken.until(2)
    assert two_woken.positions == [None, 5]


@pytest.fixture
async def engines(store: str) -> AsyncIterator[list[SqlEngine]]:
    started = [build_sql_engine(Settings(database_url=f"sqlite:///{store}")) for _ in range(2)]
    for engine in started:
        await engine.start()
    yield started
    for engine in started:
        await engine.close()


async def test_an_append_in_one_process_wakes_a_reader_waiting_in_another(
    engines: list[SqlEngine],
) -> None:
    # The engine also polls the head once a second: a wake-up well under that is the feed.
    one, two = engines
    loop = asyncio.get_running_loop()
    for expected in range(1, 6):
        waiting = asyncio.create_task(two.wait_for_new(expected - 1, timeout=5))
        await asyncio.sleep(0.05)
        started = loop.time()
        await one.append([EventInput(type="Ping")])
        assert await waiting == expected
        assert loop.time() - started < 0.5
