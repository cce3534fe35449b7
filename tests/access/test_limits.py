"""Stream slots and the append rate, on a fake clock."""

from __future__ import annotations

import pytest

from app.access.limits import STREAM_RETRY_AFTER_SECONDS, AppendRate, StreamSlots
from app.access.tokens import ANONYMOUS, Principal, Scope
from app.errors import TooManyRequests

ALICE = Principal("alice", frozenset({Scope.READ}))
BOB = Principal("bob", frozenset({Scope.READ}))


def test_streams_per_token() -> None:
    slots = StreamSlots(total=10, per_token=2)
    first, _ = slots.acquire(ALICE), slots.acquire(ALICE)

    with pytest.raises(TooManyRequests) as caught:
        slots.acquire(ALICE)
    assert caught.value.retry_after == STREAM_RETRY_AFTER_SECONDS
    assert "this token" in caught.value.detail
    slots.acquire(BOB)

    first.release()
    first.release()  # a second release must not free a slot it does not hold
    slots.acquire(ALICE)
    with pytest.raises(TooManyRequests):
        slots.acquire(ALICE)
    assert slots.open_streams == 3


def test_streams_in_total_whoever_holds_them() -> None:
    slots = StreamSlots(total=3, per_token=2)
    held = [slots.acquire(ALICE), slots.acquire(BOB), slots.acquire(ANONYMOUS)]

    with pytest.raises(TooManyRequests) as caught:
        slots.acquire(BOB)
    assert "the service" in caught.value.detail

    held[0].release()
    slots.acquire(BOB)


def test_the_open_mode_has_only_the_total_limit() -> None:
    slots = StreamSlots(total=5, per_token=1)
    for _ in range(5):
        slots.acquire(ANONYMOUS)
    with pytest.raises(TooManyRequests):
        slots.acquire(ANONYMOUS)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_append_rate_allows_a_burst_then_the_rate() -> None:
    clock = Clock()
    rate = AppendRate(rate=2.0, burst=3, clock=clock)

    for _ in range(3):
        rate.take(ALICE)
    with pytest.raises(TooManyRequests) as caught:
        rate.take(ALICE)
    assert caught.value.retry_after == 1  # half a second, rounded up to whole seconds
    rate.take(BOB)  # every token has its own bucket

    clock.now += 0.5
    rate.take(ALICE)
    with pytest.raises(TooManyRequests):
        rate.take(ALICE)
    clock.now += 3600
    for _ in range(3):  # refilled, never beyond the burst
        rate.take(ALICE)
    with pytest.raises(TooManyRequests):
        rate.take(ALICE)


def test_retry_after_says_when_a_slow_rate_allows_the_next() -> None:
    clock = Clock()
    rate = AppendRate(rate=0.1, burst=1, clock=clock)
    rate.take(ALICE)
    clock.now += 2.5

    with pytest.raises(TooManyRequests) as caught:
        rate.take(ALICE)
    assert caught.value.retry_after == 8  # 7.5 s more, rounded up
    clock.now += 7.5
    rate.take(ALICE)


def test_a_refusal_says_which_limit_and_when_to_retry() -> None:
    slots = StreamSlots(total=1, per_token=1)
    slots.acquire(ALICE)
    with pytest.raises(TooManyRequests) as full:
        slots.acquire(BOB)
    rate = AppendRate(rate=2.0, burst=1, clock=Clock())
    rate.take(ALICE)
    with pytest.raises(TooManyRequests) as over:
        rate.take(ALICE)

    assert full.value.detail == "the service has 1 streams open, its limit; retry later"
    assert full.value.retry_after == STREAM_RETRY_AFTER_SECONDS
    assert over.value.detail == "this token is over its rate of 2 appends a second"
