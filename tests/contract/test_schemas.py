"""JSON Schemas of event data, on every engine: registering one, appends checked against it,
stored events checked against a new one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain import dump_json
from app.errors import InvalidSchema, SchemaViolation, StoredEventsViolateSchema
from app.storage.protocol import EventStorageEngine
from tests.support.events import new_event, read

pytestmark = pytest.mark.anyio

COURSE = dump_json(
    {
        "type": "object",
        "properties": {
            "course_id": {"type": "string"},
            "capacity": {"type": "integer", "minimum": 1},
        },
        "required": ["course_id", "capacity"],
    }
)


def course(capacity: object, **more: object) -> dict[str, object]:
    return {"course_id": "c1", "capacity": capacity, **more}


async def test_a_registered_schema_is_returned_and_marked_on_its_type(
    engine: EventStorageEngine,
) -> None:
    await engine.append([new_event("CourseDefined", data=course(3))])

    registered = await engine.put_schema("CourseDefined", COURSE)

    assert (await engine.get_schema("CourseDefined")) == registered
    assert (registered.type, registered.schema) == ("CourseDefined", COURSE)
    assert registered.registered_at.utcoffset() == timedelta(0)
    assert abs(registered.registered_at - datetime.now(UTC)) < timedelta(minutes=5)
    assert [(t.type, t.has_schema) for t in await engine.event_types()] == [("CourseDefined", True)]
    assert await engine.get_schema("Other") is None


async def test_an_append_that_breaks_the_schema_is_refused_whole(
    engine: EventStorageEngine,
) -> None:
    await engine.put_schema("CourseDefined", COURSE)

    with pytest.raises(SchemaViolation) as refused:
        await engine.append(
            [
                new_event("Note"),
                new_event("CourseDefined", data=course(0)),
                new_event("CourseDefined", data={"course_id": "c2"}),
            ]
        )

    assert [(v.event, v.pointer) for v in refused.value.violations] == [(1, "/capacity"), (2, "")]
    assert "capacity" in refused.value.violations[1].message
    assert "0" not in refused.value.violations[0].message  # the data is never echoed
    assert await engine.head() == 0
    assert await engine.event_types() == []


async def test_events_that_satisfy_the_schema_are_stored(engine: EventStorageEngine) -> None:
    await engine.put_schema("CourseDefined", COURSE)

    result = await engine.append([new_event("CourseDefined", data=course(10**30))])

    assert result.positions == (1,)


async def test_a_replay_is_answered_even_under_a_schema_registered_since(
    engine: EventStorageEngine,
) -> None:
    """The retry of an append that was stored stores nothing: it gets its first answer."""
    from uuid import uuid4

    append = [new_event("CourseDefined", data={"course_id": "c1"}, event_id=uuid4())]
    await engine.append(append)
    await engine.put_schema("CourseDefined", COURSE, check_stored=False)

    replay = await engine.append(append)

    assert (replay.positions, replay.replayed) == ((1,), True)


async def test_a_schema_stored_events_break_is_refused_naming_them(
    engine: EventStorageEngine,
) -> None:
    await engine.append([new_event("CourseDefined", data=course(2)) for _ in range(3)])
    await engine.append([new_event("CourseDefined", data=course(-1))])

    with pytest.raises(StoredEventsViolateSchema) as refused:
        await engine.put_schema("CourseDefined", COURSE)

    assert [(v.event, v.pointer) for v in refused.value.violations] == [(4, "/capacity")]
    assert await engine.get_schema("CourseDefined") is None


async def test_a_schema_for_future_events_only_leaves_stored_ones_as_they_are(
    engine: EventStorageEngine,
) -> None:
    await engine.append([new_event("CourseDefined", data=course(-1))])

    await engine.put_schema("CourseDefined", COURSE, check_stored=False)

    assert (await engine.get_schema("CourseDefined")) is not None
    assert len((await read(engine)).events) == 1
    with pytest.raises(SchemaViolation):
        await engine.append([new_event("CourseDefined", data=course(-1))])


async def test_a_schema_is_replaced_and_deleted(engine: EventStorageEngine) -> None:
    await engine.put_schema("CourseDefined", COURSE)
    await engine.put_schema("CourseDefined", dump_json({"type": "object"}))

    await engine.append([new_event("CourseDefined", data={"anything": True})])
    await engine.delete_schema("CourseDefined")
    await engine.delete_schema("CourseDefined")  # again: nothing to delete

    assert await engine.get_schema("CourseDefined") is None
    await engine.append([new_event("CourseDefined", data="no longer checked")])


@pytest.mark.parametrize(
    ("schema", "pointer"),
    [
        ({"type": "objekt"}, "/type"),
        ({"properties": {"n": {"minimum": "one"}}}, "/properties/n/minimum"),
        ({"$schema": "http://json-schema.org/draft-07/schema#"}, "/$schema"),
        ({"$ref": "https://schemas.example/course.json"}, ""),
        ([1, 2], ""),
    ],
    ids=["unknown-type", "bad-keyword", "other-draft", "remote-ref", "not-a-schema"],
)
async def test_a_schema_that_is_not_a_valid_schema_is_refused_saying_where(
    engine: EventStorageEngine, schema: object, pointer: str
) -> None:
    with pytest.raises(InvalidSchema) as refused:
        await engine.put_schema("CourseDefined", dump_json(schema))

    assert refused.value.pointer == pointer
    assert refused.value.detail
    if pointer == "" and "$ref" in dump_json(schema):
        assert "references to other documents are not allowed" in refused.value.detail
    assert await engine.get_schema("CourseDefined") is None


async def test_violations_are_named_by_json_pointers_with_their_escapes(
    engine: EventStorageEngine,
) -> None:
    """RFC 6901: ``~`` is written ``~0`` and ``/`` is written ``~1`` within a name."""
    fields = {"a/b": {"type": "integer"}, "c~d": {"type": "integer"}}
    await engine.put_schema("Measured", dump_json({"properties": fields}))

    with pytest.raises(SchemaViolation) as refused:
        await engine.append([new_event("Measured", data={"a/b": "x", "c~d": "y"})])

    assert sorted(v.pointer for v in refused.value.violations) == ["/a~1b", "/c~0d"]


async def test_a_schema_that_accepts_null_still_refuses_data_that_breaks_it(
    engine: EventStorageEngine,
) -> None:
    """``required`` applies to objects only: null satisfies this schema, ``{}`` does not."""
    await engine.put_schema("SeatBooked", dump_json({"required": ["seat"]}))

    await engine.append([new_event("SeatBooked", data=None), new_event("SeatBooked", data=[])])
    with pytest.raises(SchemaViolation) as refused:
        await engine.append(
            [new_event("SeatBooked", data={"seat": 1}), new_event("SeatBooked", data={})]
        )
    assert [(v.event, v.pointer) for v in refused.value.violations] == [(1, "")]
    assert len((await read(engine)).events) == 2


MANY = dump_json({"type": "object", "additionalProperties": {"type": "integer"}})


def breaking(count: int) -> dict[str, str]:
    """Data that breaks `MANY` ``count`` times: one violation per property."""
    return {f"p{n:03}": "not an integer" for n in range(count)}


async def test_an_append_with_more_than_100_violations_is_refused_naming_the_first_100(
    engine: EventStorageEngine,
) -> None:
    await engine.put_schema("Measured", MANY)
    events = [new_event("Measured", data={"fine": 1})]
    events += [new_event("Measured", data=breaking(60)) for _ in range(3)]

    with pytest.raises(SchemaViolation) as refused:
        await engine.append(events)

    named = [v.event for v in refused.value.violations]
    assert named == [1] * 60 + [2] * 40
    assert await engine.head() == 0


async def test_a_schema_that_more_than_100_stored_events_break_names_the_first_100(
    engine: EventStorageEngine,
) -> None:
    await engine.append([new_event("Measured", data=breaking(1)) for _ in range(150)])

    with pytest.raises(StoredEventsViolateSchema) as refused:
        await engine.put_schema("Measured", MANY)

    assert [v.event for v in refused.value.violations] == list(range(1, 101))


async def test_integers_beyond_64_bits_are_checked_exactly(engine: EventStorageEngine) -> None:
    """2**70 + 1 read as a float would be 2**70, within the bound."""
    bound = 2**70
    schema = {"properties": {"n": {"type": "integer", "maximum": bound}}}
    await engine.put_schema("Counted", dump_json(schema))

    await engine.append([new_event("Counted", data={"n": bound})])
    with pytest.raises(SchemaViolation) as refused:
        await engine.append([new_event("Counted", data={"n": bound + 1})])

    assert [(v.event, v.pointer) for v in refused.value.violations] == [(0, "/n")]
