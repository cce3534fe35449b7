"""Which events a query matches: types OR'ed, tags AND'ed within an item, items OR'ed."""

from __future__ import annotations

import pytest

from app.domain import Query
from app.storage.protocol import EventStorageEngine
from tests.support.events import item, new_event, query, stored_positions

pytestmark = pytest.mark.anyio


@pytest.fixture
async def store(engine: EventStorageEngine) -> EventStorageEngine:
    """1 A [x], 2 B [x y], 3 C [y], 4 A [y z], 5 B []."""
    await engine.append(
        [
            new_event("A", tags=["x"]),
            new_event("B", tags=["x", "y"]),
            new_event("C", tags=["y"]),
            new_event("A", tags=["y", "z"]),
            new_event("B"),
        ]
    )
    return engine


async def test_query_without_items_matches_every_event(store: EventStorageEngine) -> None:
    assert await stored_positions(store, Query()) == [1, 2, 3, 4, 5]


async def test_item_with_only_a_type_matches_that_type(store: EventStorageEngine) -> None:
    assert await stored_positions(store, query(item(types=["A"]))) == [1, 4]


async def test_types_of_an_item_are_ored(store: EventStorageEngine) -> None:
    assert await stored_positions(store, query(item(types=["A", "C"]))) == [1, 3, 4]


async def test_item_with_only_a_tag_matches_any_type_carrying_it(
    store: EventStorageEngine,
) -> None:
    assert await stored_positions(store, query(item(tags=["y"]))) == [2, 3, 4]


async def test_tags_of_an_item_are_anded(store: EventStorageEngine) -> None:
    assert await stored_positions(store, query(item(tags=["x", "y"]))) == [2]


async def test_item_with_types_and_tags_needs_both(store: EventStorageEngine) -> None:
    assert await stored_positions(store, query(item(types=["A"], tags=["y"]))) == [4]


async def test_item_with_several_types_and_tags(store: EventStorageEngine) -> None:
    assert await stored_positions(store, query(item(types=["A", "B"], tags=["x"]))) == [1, 2]


async def test_items_are_ored(store: EventStorageEngine) -> None:
    where = query(item(types=["C"]), item(tags=["z"]))

    assert await stored_positions(store, where) == [3, 4]


async def test_event_matching_several_items_is_returned_once(store: EventStorageEngine) -> None:
    where = query(item(types=["A"]), item(tags=["x"]), item(types=["A"], tags=["x"]))

    assert await stored_positions(store, where) == [1, 2, 4]


async def test_unknown_type_matches_nothing(store: EventStorageEngine) -> None:
    assert await stored_positions(store, query(item(types=["Unknown"]))) == []


async def test_tags_carried_by_no_single_event_match_nothing(store: EventStorageEngine) -> None:
    assert await stored_positions(store, query(item(tags=["x", "z"]))) == []


async def test_types_compare_exactly(engine: EventStorageEngine) -> None:
    await engine.append([new_event("Course"), new_event("course"), new_event("CourseDefined")])

    assert await stored_positions(engine, query(item(types=["Course"]))) == [1]


async def test_tags_compare_exactly(engine: EventStorageEngine) -> None:
    await engine.append(
        [
            new_event(tags=["user:1"]),
            new_event(tags=["user:12"]),
            new_event(tags=["User:1"]),
            new_event(tags=["user:_"]),
            new_event(tags=["user:%"]),
        ]
    )

    assert await stored_positions(engine, query(item(tags=["user:1"]))) == [1]
    assert await stored_positions(engine, query(item(tags=["user:%"]))) == [5]
