"""The limits of several workers in one shared table (`app.access.shared_limits`): two workers'
views of one table, in one process, on a fake clock; and a table written by a forked process."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from app.access.shared_limits import SharedAppendRate, SharedLimitsTable, SharedStreamSlots
from app.access.tokens import ANONYMOUS, Principal, Scope
from app.errors import TooManyRequests

ALICE = Principal("alice", frozenset({Scope.READ, Scope.APPEND}))
BOB = Principal("bob", frozenset({Scope.READ, Scope.APPEND}))


@pytest.fixture
def table() -> Iterator[SharedLimitsTable]:
    shared = SharedLimitsTable(2)
    yield shared
    shared.close()


def workers(table: SharedLimitsTable, *, total: int, per_token: int) -> list[SharedStreamSlots]:
    return [SharedStreamSlots(table, n, total=total, per_token=per_token) for n in range(2)]


def test_the_streams_per_token_are_counted_over_every_worker(table: SharedLimitsTable) -> None:
    first, second = workers(table, total=10, per_token=2)
    held = first.acquire(ALICE)
    second.acquire(ALICE)
    for worker in (first, second):
        with pytest.raises(TooManyRequests, match="this token"):
            worker.acquire(ALICE)
    second.acquire(BOB)
    held.release()
    held.release()  # a second release frees nothing more
    second.acquire(ALICE)
    with pytest.raises(TooManyRequests):
        first.acquire(ALICE)
    assert first.open_streams == second.open_streams == 3


def test_the_total_is_counted_over_every_worker(table: SharedLimitsTable) -> None:
    first, second = workers(table, total=3, per_token=5)
    first.acquire(ALICE)
    second.acquire(BOB)
    second.acquire(ANONYMOUS)
    with pytest.raises(TooManyRequests, match="the service"):
        first.acquire(BOB)


def test_a_dead_workers_streams_are_cleared(table: SharedLimitsTable) -> None:
    first, second = workers(table, total=10, per_token=2)
    first.acquire(ALICE)
    first.acquire(ALICE)
    second.acquire(BOB)
    table.clear_worker(0)
    assert second.open_streams == 1
    second.acquire(ALICE)
    second.acquire(ALICE)
    with pytest.raises(TooManyRequests):
        first.acquire(ALICE)


def test_one_bucket_per_token_for_every_worker(table: SharedLimitsTable) -> None:
    now = [1000.0]
    rates = [SharedAppendRate(table, rate=2.0, burst=3, clock=lambda: now[0]) for _ in range(2)]
    rates[0].take(ALICE)
    rates[1].take(ALICE)
    rates[0].take(ALICE)
    with pytest.raises(TooManyRequests) as caught:
        rates[1].take(ALICE)
    assert caught.value.retry_after == 1
    rates[1].take(BOB)  # another token, another bucket
    now[0] += 0.5  # one more append's worth
    rates[1].take(ALICE)
    with pytest.raises(TooManyRequests):
        rates[0].take(ALICE)


def test_a_bucket_made_by_a_stream_starts_full(table: SharedLimitsTable) -> None:
    SharedStreamSlots(table, 0, total=10, per_token=10).acquire(ALICE)
    rate = SharedAppendRate(table, rate=0.001, burst=2, clock=lambda: 5.0)
    rate.take(ALICE)
    rate.take(ALICE)
    with pytest.raises(TooManyRequests):
        rate.take(ALICE)


def test_a_forked_process_counts_in_the_same_table(table: SharedLimitsTable) -> None:
    slots = SharedStreamSlots(table, 0, total=10, per_token=2)
    pid = os.fork()
    if pid == 0:  # the other worker
        try:
            SharedStreamSlots(table, 1, total=10, per_token=2).acquire(ALICE)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    slots.acquire(ALICE)
    with pytest.raises(TooManyRequests):
        slots.acquire(ALICE)
