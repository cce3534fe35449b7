"""The snapshot store: the latest folded state per (name, key), never replaced by an older one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain import SnapshotInput, dump_json
from app.errors import PositionBeyondHead
from app.storage.protocol import EventStorageEngine
from tests.support.events import new_event

pytestmark = pytest.mark.anyio


@pytest.fixture
async def store(engine: EventStorageEngine) -> EventStorageEngine:
    """Ten events, so that snapshots can be taken at positions 0..10."""
    await engine.append([new_event() for _ in range(10)])
    return engine


def snapshot(position: int, state: object = None, *, key: str = "c1") -> SnapshotInput:
    return SnapshotInput(
        name="capacity",
        key=key,
        position=position,
        state=dump_json(state),
        metadata=dump_json({"version": 1}),
    )


async def test_missing_snapshot_is_none(store: EventStorageEngine) -> None:
    assert await store.get_snapshot("capacity", "c1") is None


async def test_put_snapshot_returns_what_it_stored(store: EventStorageEngine) -> None:
    stored = await store.put_snapshot(snapshot(4, {"seats": 3}))

    assert (stored.name, stored.key, stored.position) == ("capacity", "c1", 4)
    assert (stored.state, stored.metadata) == ('{"seats":3}', '{"version":1}')


async def test_stored_snapshot_can_be_got(store: EventStorageEngine) -> None:
    stored = await store.put_snapshot(snapshot(4, {"seats": 3}))

    assert await store.get_snapshot("capacity", "c1") == stored


async def test_stored_at_is_timezone_aware_utc_and_current(store: EventStorageEngine) -> None:
    stored = await store.put_snapshot(snapshot(4))

    assert stored.stored_at.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - stored.stored_at) < timedelta(minutes=5)


async def test_state_json_is_returned_unchanged(store: EventStorageEngine) -> None:
    state = dump_json({"z": "Zoë 🚀", "a": [2**70, None, {"nested": True}]})

    await store.put_snapshot(SnapshotInput(name="capacity", key="c1", position=1, state=state))

    got = await store.get_snapshot("capacity", "c1")
    assert got is not None
    assert got.state == state


async def test_newer_snapshot_replaces_older(store: EventStorageEngine) -> None:
    await store.put_snapshot(snapshot(3, "old"))

    stored = await store.put_snapshot(snapshot(7, "new"))

    assert (stored.position, stored.state) == (7, '"new"')
    assert await store.get_snapshot("capacity", "c1") == stored


async def test_older_snapshot_does_not_replace_newer(store: EventStorageEngine) -> None:
    newer = await store.put_snapshot(snapshot(7, "new"))

    returned = await store.put_snapshot(snapshot(3, "old"))

    assert returned == newer
    assert await store.get_snapshot("capacity", "c1") == newer


async def test_snapshot_at_the_same_position_replaces(store: EventStorageEngine) -> None:
    await store.put_snapshot(snapshot(5, "first"))

    await store.put_snapshot(snapshot(5, "second"))

    got = await store.get_snapshot("capacity", "c1")
    assert got is not None
    assert got.state == '"second"'


async def test_snapshot_at_the_head_is_accepted(store: EventStorageEngine) -> None:
    assert (await store.put_snapshot(snapshot(10))).position == 10


async def test_snapshot_at_position_zero_on_an_empty_store_is_accepted(
    engine: EventStorageEngine,
) -> None:
    assert (await engine.put_snapshot(snapshot(0))).position == 0


async def test_snapshot_beyond_the_head_is_refused(store: EventStorageEngine) -> None:
    with pytest.raises(PositionBeyondHead) as refusal:
        await store.put_snapshot(snapshot(11))

    assert (refusal.value.position, refusal.value.head) == (11, 10)
    assert await store.get_snapshot("capacity", "c1") is None


async def test_snapshots_are_kept_per_name_and_key(store: EventStorageEngine) -> None:
    await store.put_snapshot(snapshot(1, "c1", key="c1"))
    await store.put_snapshot(snapshot(2, "c2", key="c2"))
    await store.put_snapshot(
        SnapshotInput(name="subscriptions", key="c1", position=3, state='"subs"')
    )

    found = [
        await store.get_snapshot(name, key)
        for name, key in [("capacity", "c1"), ("capacity", "c2"), ("subscriptions", "c1")]
    ]

    assert [(s.position, s.state) if s else None for s in found] == [
        (1, '"c1"'),
        (2, '"c2"'),
        (3, '"subs"'),
    ]


async def test_delete_removes_the_snapshot(store: EventStorageEngine) -> None:
    await store.put_snapshot(snapshot(4))

    await store.delete_snapshot("capacity", "c1")

    assert await store.get_snapshot("capacity", "c1") is None


async def test_delete_leaves_other_keys(store: EventStorageEngine) -> None:
    await store.put_snapshot(snapshot(4, key="c1"))
    await store.put_snapshot(snapshot(4, key="c2"))

    await store.delete_snapshot("capacity", "c1")

    assert await store.get_snapshot("capacity", "c2") is not None


async def test_delete_of_a_missing_snapshot_is_fine(store: EventStorageEngine) -> None:
    await store.delete_snapshot("capacity", "nothing")

    assert await store.get_snapshot("capacity", "nothing") is None


async def test_snapshot_can_be_stored_again_after_delete(store: EventStorageEngine) -> None:
    await store.put_snapshot(snapshot(8, "newer"))
    await store.delete_snapshot("capacity", "c1")

    stored = await store.put_snapshot(snapshot(2, "older"))

    assert (stored.position, stored.state) == (2, '"older"')
