"""Discovery: the event types, the tags and the figures of a store, on every engine, against a
count made here from the stored events themselves."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from app.domain import TagCount
from app.storage.protocol import EventStorageEngine
from tests.support.events import new_event, read

pytestmark = pytest.mark.anyio


async def fill(engine: EventStorageEngine) -> None:
    await engine.append(
        [
            new_event("CourseDefined", tags=["course:c1"]),
            new_event("CourseDefined", tags=["course:c2"]),
            new_event("StudentSubscribed", tags=["course:c1", "student:s1"]),
        ]
    )
    await engine.append([new_event("StudentSubscribed", tags=["course:c1", "student:s2"])])
    await engine.append([new_event("Note")])


async def test_an_empty_store_has_no_types_no_tags_and_no_events(
    engine: EventStorageEngine,
) -> None:
    stats = await engine.stats()

    assert await engine.event_types() == []
    assert (await engine.tags(limit=10)).tags == []
    assert (stats.events, stats.head, stats.first_recorded_at, stats.last_recorded_at) == (
        0,
        0,
        None,
        None,
    )


async def test_event_types_count_their_events_in_name_order(engine: EventStorageEngine) -> None:
    await fill(engine)

    found = [
        (t.type, t.count, t.first_position, t.last_position) for t in await engine.event_types()
    ]

    assert found == [
        ("CourseDefined", 2, 1, 2),
        ("Note", 1, 5, 5),
        ("StudentSubscribed", 2, 3, 4),
    ]


async def test_tags_count_the_events_carrying_them(engine: EventStorageEngine) -> None:
    await fill(engine)

    page = await engine.tags(limit=10)

    assert page.tags == [
        TagCount("course:c1", 3),
        TagCount("course:c2", 1),
        TagCount("student:s1", 1),
        TagCount("student:s2", 1),
    ]
    assert page.has_more is False


async def test_tags_by_prefix_by_type_and_by_page(engine: EventStorageEngine) -> None:
    await fill(engine)

    assert [t.tag for t in (await engine.tags(prefix="student:", limit=10)).tags] == [
        "student:s1",
        "student:s2",
    ]
    assert (await engine.tags(event_type="StudentSubscribed", prefix="course:", limit=10)).tags == [
        TagCount("course:c1", 2)
    ]
    first = await engine.tags(limit=2)
    rest = await engine.tags(after=first.tags[-1].tag, limit=2)
    assert ([t.tag for t in first.tags], first.has_more) == (["course:c1", "course:c2"], True)
    assert ([t.tag for t in rest.tags], rest.has_more) == (["student:s1", "student:s2"], False)
    assert (await engine.tags(prefix="nothing:", limit=10)).tags == []


async def test_a_prefix_is_a_prefix_of_code_points_not_of_a_locale(
    engine: EventStorageEngine,
) -> None:
    """Names compare by code point on every engine: a locale's collation would put ``a-b``
    beside ``ab`` and make a prefix something other than a prefix."""
    await engine.append([new_event("E", tags=[tag]) for tag in ["ab", "a-b", "a_b", "aB", "b"]])

    assert [t.tag for t in (await engine.tags(limit=10)).tags] == ["a-b", "aB", "a_b", "ab", "b"]
    assert [t.tag for t in (await engine.tags(prefix="a", limit=10)).tags] == [
        "a-b",
        "aB",
        "a_b",
        "ab",
    ]


async def test_the_counts_equal_a_count_of_the_stored_events(engine: EventStorageEngine) -> None:
    """After appends of every shape, refused ones included: what discovery says is what the
    events say."""
    await fill(engine)
    for n in range(30):
        await engine.append(
            [new_event(f"T{n % 4}", tags=[f"k:{n % 5}", f"k:{n % 3}"]) for _ in range(n % 3 + 1)]
        )
    events = (await read(engine)).events

    by_type = Counter(event.type for event in events)
    by_tag = Counter(tag for event in events for tag in event.tags)
    by_type_tag = Counter((event.type, tag) for event in events for tag in event.tags)
    types = await engine.event_types()
    tags = await engine.tags(limit=1000)

    assert {t.type: t.count for t in types} == by_type
    for info in types:
        positions = [e.position for e in events if e.type == info.type]
        assert (info.first_position, info.last_position) == (positions[0], positions[-1])
    assert {t.tag: t.count for t in tags.tags} == by_tag
    for event_type in by_type:
        page = await engine.tags(event_type=event_type, limit=1000)
        assert {t.tag: t.count for t in page.tags} == {
            tag: c for (t, tag), c in by_type_tag.items() if t == event_type
        }


async def test_stats_give_the_count_the_head_and_the_first_and_last_times(
    engine: EventStorageEngine,
) -> None:
    before = datetime.now(UTC)
    await fill(engine)
    events = (await read(engine)).events

    stats = await engine.stats()

    assert (stats.events, stats.head) == (5, 5)
    assert stats.first_recorded_at == events[0].recorded_at
    assert stats.last_recorded_at == events[-1].recorded_at
    assert stats.first_recorded_at is not None
    assert stats.first_recorded_at >= before.replace(microsecond=0)
