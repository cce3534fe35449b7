"""The SQLite writer lock across processes (`app/storage/sql/sqlite_lock.py`): a blocking flock
on ``<store>-writer.lock``, waited for in a helper thread so that the writer can give up.

Another process is stood in for by another open file description of the lock file (flock locks
belong to the open file, so two descriptions in one process exclude each other exactly as two
processes do). The edges: the lock is handed over as soon as the holder releases it; a writer
gives up at its deadline (StorageUnavailable) or once abandoned (Abandoned), holding nothing; a
lock that the helper gets after its writer gave up is released at once, never kept; the next
writer takes over an acquisition still pending; closing while the helper is blocked leaks
nothing. The writer's turn, taken before a batch is formed, is used and released by the next
transaction, bounds it by its own deadline, and is released when no transaction used it.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from app.errors import StorageUnavailable
from app.storage.sql.runner import Abandoned
from app.storage.sql.sqlite_lock import WriterLock, lock_path

WAIT = 10.0
"""A bound on waits that should end at once, for a loaded machine."""


@pytest.fixture
def path(tmp_path: Path) -> str:
    return lock_path(str(tmp_path / "store.db"))


@pytest.fixture
def lock(path: str) -> Iterator[WriterLock]:
    writer_lock = WriterLock(path)
    writer_lock.open()
    yield writer_lock
    writer_lock.close()


@contextmanager
def held_elsewhere(path: str) -> Iterator[int]:
    """Another open file of the lock file, holding the lock; yields its descriptor (release it
    early with `fcntl.flock(fd, LOCK_UN)`)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)


def free_elsewhere(path: str) -> bool:
    """Whether another open file could take the lock now (then releases it)."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def eventually(condition: object) -> bool:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.01)
    return False


def never() -> bool:
    return False


def test_uncontended_the_lock_is_taken_and_released(lock: WriterLock, path: str) -> None:
    lock.hold(time.monotonic() + WAIT, never)
    assert not free_elsewhere(path)
    lock.release()
    assert free_elsewhere(path)
    assert lock.contended == 0


def taken_once_the_other_process_releases(path: str, take: Callable[[], object]) -> None:
    """Run ``take`` in a thread while another process holds the lock: it must wait, and return
    as soon as the lock is released, holding it."""
    got = threading.Event()

    def waiting() -> None:
        take()
        got.set()

    with held_elsewhere(path) as other:
        waiter = threading.Thread(target=waiting)
        waiter.start()
        time.sleep(0.2)
        assert not got.is_set()  # still waiting
        fcntl.flock(other, fcntl.LOCK_UN)
        waiter.join(WAIT)
        assert got.is_set()
    assert not free_elsewhere(path)


def test_a_waiting_writer_gets_the_lock_when_the_other_process_releases_it(
    lock: WriterLock, path: str
) -> None:
    taken_once_the_other_process_releases(path, lambda: lock.hold(time.monotonic() + WAIT, never))
    lock.release()
    assert free_elsewhere(path)
    assert lock.contended == 1


def test_a_writer_gives_up_at_its_deadline_and_a_late_lock_is_released_at_once(
    lock: WriterLock, path: str
) -> None:
    with held_elsewhere(path) as other:
        with pytest.raises(StorageUnavailable):
            lock.hold(time.monotonic() + 0.2, never)
        fcntl.flock(other, fcntl.LOCK_UN)
        # The helper, still blocked for the writer that gave up, gets the lock now: it must
        # let it go, not keep it for nobody.
        time.sleep(0.2)  # its turn first
        assert eventually(lambda: free_elsewhere(path))
    lock.hold(time.monotonic() + WAIT, never)
    lock.release()


def test_an_abandoned_writer_gives_up_within_a_slice(lock: WriterLock, path: str) -> None:
    abandoned = threading.Event()
    with held_elsewhere(path):
        threading.Timer(0.1, abandoned.set).start()
        started = time.monotonic()
        with pytest.raises(Abandoned):
            lock.hold(time.monotonic() + 60, abandoned.is_set)
        assert time.monotonic() - started < WAIT  # not the 60 s of its busy timeout
    assert eventually(lambda: free_elsewhere(path))


def test_the_next_writer_takes_over_a_pending_acquisition(lock: WriterLock, path: str) -> None:
    with held_elsewhere(path) as other:
        with pytest.raises(StorageUnavailable):
            lock.hold(time.monotonic() + 0.1, never)
        got = threading.Event()

        def second() -> None:
            lock.hold(time.monotonic() + WAIT, never)
            got.set()

        waiter = threading.Thread(target=second)
        waiter.start()
        time.sleep(0.1)
        assert not got.is_set()
        fcntl.flock(other, fcntl.LOCK_UN)
        waiter.join(WAIT)
        assert got.is_set()
        assert not free_elsewhere(path)
    lock.release()
    assert free_elsewhere(path)


def test_closing_while_the_helper_waits_leaves_the_lock_free(path: str) -> None:
    writer_lock = WriterLock(path)
    writer_lock.open()
    with held_elsewhere(path) as other:
        with pytest.raises(StorageUnavailable):
            writer_lock.hold(time.monotonic() + 0.1, never)
        writer_lock.close()
        fcntl.flock(other, fcntl.LOCK_UN)
        time.sleep(0.2)  # the helper's turn first
        assert eventually(lambda: free_elsewhere(path))


def test_a_turn_is_used_by_the_next_transaction_with_its_deadline(
    lock: WriterLock, path: str
) -> None:
    turn_deadline = time.monotonic() + WAIT
    assert lock.try_take_turn(turn_deadline)
    assert not free_elsewhere(path)
    # The transaction's own, later deadline does not extend the turn's wait.
    assert lock.hold(turn_deadline + 60, never) == turn_deadline
    assert not free_elsewhere(path)
    lock.release()
    assert free_elsewhere(path)
    lock.end_turn()  # used: nothing left to release
    assert lock.hold(turn_deadline + 60, never) == turn_deadline + 60  # no turn: its own
    lock.release()


def test_a_turn_no_transaction_used_is_released(lock: WriterLock, path: str) -> None:
    assert lock.try_take_turn(time.monotonic() + WAIT)
    assert not free_elsewhere(path)
    lock.end_turn()
    assert free_elsewhere(path)


def test_a_turn_is_waited_for_while_another_process_writes(lock: WriterLock, path: str) -> None:
    with held_elsewhere(path):
        assert not lock.try_take_turn(time.monotonic() + WAIT)  # not without waiting
    taken_once_the_other_process_releases(
        path, lambda: lock.take_turn(time.monotonic() + WAIT, never)
    )
    lock.end_turn()
    assert free_elsewhere(path)
