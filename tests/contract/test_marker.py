"""The consistency marker: the highest position up to which a read saw every matching event."""

from __future__ import annotations

import pytest

from app.storage.protocol import EventStorageEngine
from tests.support.events import item, new_event, query, read

pytestmark = pytest.mark.anyio

EVEN = query(item(types=["Even"]))
ODD = query(item(types=["Odd"]))


async def test_complete_read_marks_the_head(store: EventStorageEngine) -> None:
    assert (await read(store)).marker == 10


async def test_complete_read_marks_the_head_past_its_last_match(
    store: EventStorageEngine,
) -> None:
    result = await read(store, ODD)

    assert (result.events[-1].position, result.marker) == (9, 10)


async def test_forward_read_cut_by_limit_marks_its_last_event(store: EventStorageEngine) -> None:
    assert (await read(store, limit=3)).marker == 3


async def test_forward_query_cut_by_limit_marks_its_last_event(
    store: EventStorageEngine,
) -> None:
    assert (await read(store, EVEN, limit=2)).marker == 4


async def test_zero_limit_with_matches_ahead_marks_after(store: EventStorageEngine) -> None:
    """It returned nothing, so it saw nothing past ``after``."""
    result = await read(store, EVEN, after=3, limit=0)

    assert (result.events, result.has_more, result.marker) == ([], True, 3)


async def test_zero_limit_with_nothing_ahead_marks_the_upper_bound(
    store: EventStorageEngine,
) -> None:
    result = await read(store, ODD, after=9, limit=0)

    assert (result.events, result.has_more, result.marker) == ([], False, 10)


async def test_read_bounded_by_before_marks_before_minus_one(store: EventStorageEngine) -> None:
    assert (await read(store, ODD, before=7)).marker == 6


async def test_before_beyond_head_marks_the_head(store: EventStorageEngine) -> None:
    assert (await read(store, before=100)).marker == 10


async def test_empty_result_marks_the_head(store: EventStorageEngine) -> None:
    result = await read(store, query(item(types=["Unknown"])))

    assert (result.events, result.marker) == ([], 10)


async def test_read_after_the_head_marks_the_head(store: EventStorageEngine) -> None:
    assert (await read(store, after=10)).marker == 10


async def test_backwards_read_cut_by_limit_marks_its_upper_bound(
    store: EventStorageEngine,
) -> None:
    result = await read(store, limit=2, backwards=True)

    assert (result.has_more, result.marker) == (True, 10)


async def test_backwards_read_with_before_marks_before_minus_one(
    store: EventStorageEngine,
) -> None:
    result = await read(store, before=6, limit=2, backwards=True)

    assert (result.has_more, result.marker) == (True, 5)


async def test_marker_follows_new_events(store: EventStorageEngine) -> None:
    await store.append([new_event("Odd")])

    assert (await read(store, EVEN)).marker == 11
