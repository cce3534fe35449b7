"""Read bounds: ``after`` and ``before`` are exclusive, ``limit`` caps, ``backwards`` reverses."""

from __future__ import annotations

import pytest

from app.domain import MATCH_ALL
from app.storage.protocol import EventStorageEngine
from tests.support.events import item, new_event, positions, query, read

pytestmark = pytest.mark.anyio

EVEN = query(item(types=["Even"]))


async def test_read_returns_events_in_position_order(store: EventStorageEngine) -> None:
    assert positions(await read(store)) == list(range(1, 11))


async def test_read_reports_the_head(store: EventStorageEngine) -> None:
    assert (await read(store, EVEN, limit=1)).head == 10


async def test_after_is_exclusive(store: EventStorageEngine) -> None:
    assert positions(await read(store, after=3)) == list(range(4, 11))


async def test_before_is_exclusive(store: EventStorageEngine) -> None:
    assert positions(await read(store, before=5)) == [1, 2, 3, 4]


async def test_after_and_before_together(store: EventStorageEngine) -> None:
    assert positions(await read(store, after=2, before=6)) == [3, 4, 5]


async def test_after_at_head_reads_nothing(store: EventStorageEngine) -> None:
    assert positions(await read(store, after=10)) == []


async def test_after_beyond_head_reads_nothing(store: EventStorageEngine) -> None:
    assert positions(await read(store, after=50)) == []


async def test_limit_caps_the_events_returned(store: EventStorageEngine) -> None:
    result = await read(store, limit=3)

    assert (positions(result), result.has_more) == ([1, 2, 3], True)


async def test_limit_equal_to_the_matches_has_no_more(store: EventStorageEngine) -> None:
    result = await read(store, limit=10)

    assert (len(result.events), result.has_more) == (10, False)


async def test_has_more_counts_matching_events_only(store: EventStorageEngine) -> None:
    exact = await read(store, EVEN, limit=5)
    short = await read(store, EVEN, limit=4)

    assert (positions(exact), exact.has_more) == ([2, 4, 6, 8, 10], False)
    assert (positions(short), short.has_more) == ([2, 4, 6, 8], True)


async def test_has_more_respects_before(store: EventStorageEngine) -> None:
    result = await read(store, before=4, limit=3)

    assert (positions(result), result.has_more) == ([1, 2, 3], False)


async def test_backwards_reverses_the_order(store: EventStorageEngine) -> None:
    assert positions(await read(store, backwards=True)) == list(range(10, 0, -1))


async def test_backwards_limit_takes_the_latest(store: EventStorageEngine) -> None:
    result = await read(store, limit=3, backwards=True)

    assert (positions(result), result.has_more) == ([10, 9, 8], True)


async def test_backwards_within_bounds(store: EventStorageEngine) -> None:
    assert positions(await read(store, after=2, before=6, backwards=True)) == [5, 4, 3]


async def test_backwards_with_query(store: EventStorageEngine) -> None:
    result = await read(store, EVEN, before=9, limit=2, backwards=True)

    assert (positions(result), result.has_more) == ([8, 6], True)


async def test_paging_forward_with_the_marker_sees_every_event_once(
    store: EventStorageEngine,
) -> None:
    seen: list[int] = []
    after = 0
    while True:
        page = await read(store, EVEN, after=after, limit=2)
        seen += positions(page)
        after = page.marker
        if not page.has_more:
            break

    assert seen == [2, 4, 6, 8, 10]


async def test_a_read_starts_at_the_beginning_and_goes_forwards_by_default(
    store: EventStorageEngine,
) -> None:
    result = await store.read(MATCH_ALL, limit=2)

    assert positions(result) == [1, 2]
    assert result.has_more


async def test_before_one_reads_nothing(store: EventStorageEngine) -> None:
    result = await read(store, before=1)

    assert positions(result) == []
    assert (result.marker, result.has_more) == (0, False)


async def test_bounds_and_direction_hold_for_tags_and_for_several_items(
    engine: EventStorageEngine,
) -> None:
    """A store may read each item of a query on its own (by tag, by type) and merge them: the
    bounds and the direction hold for every item, and for the merge."""
    await engine.append(
        [new_event("Odd" if p % 2 else "Even", tags=["all", f"p:{p}"]) for p in range(1, 11)]
    )
    tagged = query(item(tags=["all"]))
    even_and_tagged = query(item(types=["Even"], tags=["all"]))
    two = query(item(types=["Even"]), item(tags=["p:5"]))

    assert positions(await read(engine, tagged, after=2, before=6)) == [3, 4, 5]
    assert positions(await read(engine, tagged, after=2, before=6, backwards=True)) == [5, 4, 3]
    assert positions(await read(engine, even_and_tagged, before=7)) == [2, 4, 6]
    assert positions(await read(engine, two, backwards=True)) == [10, 8, 6, 5, 4, 2]
    assert positions(await read(engine, two, before=7, limit=2, backwards=True)) == [6, 5]
