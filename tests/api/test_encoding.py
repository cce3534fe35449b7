"""The bytes of a stored event, in a read's body and in a stream's message (`app.api.encoding`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

import orjson
import pytest
from asyncpg.pgproto import pgproto

from app.api.encoding import event_json, read_response
from app.domain import Event, ReadResult

ID = UUID("0F0E0D0C-0B0A-4908-8706-050403020100")


def stored(recorded_at: datetime, event_id: UUID = ID) -> Event:
    return Event(
        position=7,
        id=event_id,
        type="Typed \u2028 \u00e9",
        data='{"b":1,"a":[1.5,null]}',
        tags=("k:1", "k:2"),
        metadata='{"correlation_id":"c"}',
        recorded_at=recorded_at,
    )


def expected(recorded_at: str) -> bytes:
    return (
        '{"position":7,"id":"0f0e0d0c-0b0a-4908-8706-050403020100","type":"Typed \u2028 \u00e9",'
        '"data":{"b":1,"a":[1.5,null]},"tags":["k:1","k:2"],'
        '"metadata":{"correlation_id":"c"},"recorded_at":"' + recorded_at + '"}'
    ).encode()


MOMENTS = [
    pytest.param(datetime(2026, 1, 2, 3, 4, 5, 12345, UTC), "2026-01-02T03:04:05.012345Z", id="z"),
    pytest.param(datetime(2026, 1, 2, 3, 4, 5, 1, UTC), "2026-01-02T03:04:05.000001Z", id="1us"),
    pytest.param(datetime(2026, 1, 2, 3, 4, 5, 0, UTC), "2026-01-02T03:04:05.000000Z", id="whole"),
    pytest.param(datetime(2026, 1, 2, 3, 4, 5, 50), "2026-01-02T03:04:05.000050Z", id="naive"),
    pytest.param(datetime(2026, 1, 2, 3, 4, 5), "2026-01-02T03:04:05.000000Z", id="naive-whole"),
    pytest.param(
        datetime(2026, 1, 2, 3, 4, 5, 7, timezone(timedelta(hours=2))),
        "2026-01-02T01:04:05.000007Z",
        id="offset",
    ),
    pytest.param(
        datetime(2026, 1, 2, 3, 4, 5, 7, timezone.utc),  # noqa: UP017 (the same object, said so)
        "2026-01-02T03:04:05.000007Z",
        id="timezone-utc",
    ),
    pytest.param(datetime(999, 1, 2, 3, 4, 5, 9, UTC), "0999-01-02T03:04:05.000009Z", id="y999"),
]  # fmt: skip


@pytest.mark.parametrize(("recorded_at", "text"), MOMENTS)
def test_an_event_is_written_with_its_id_lowercase_and_its_time_in_utc_to_the_microsecond(
    recorded_at: datetime, text: str
) -> None:
    body = bytes(
        read_response(
            ReadResult(events=[stored(recorded_at)], head=7, marker=7, has_more=False)
        ).body
    )

    assert body == b'{"events":[' + expected(text) + b'],"marker":7,"head":7,"has_more":false,' + (
        b'"snapshot":null}'
    )
    assert event_json(stored(recorded_at)).encode() == expected(text)
    assert orjson.loads(body)["events"][0] == orjson.loads(expected(text))


def test_an_id_in_asyncpg_s_own_uuid_type_is_written_the_same() -> None:
    # asyncpg hands back its own UUID type, which is not a uuid.UUID to orjson.
    pg_id = pgproto.UUID(str(ID))
    moment = datetime(2026, 1, 2, 3, 4, 5, 6, UTC)

    assert event_json(stored(moment, pg_id)) == event_json(stored(moment))
