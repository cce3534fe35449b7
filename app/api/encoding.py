"""Response bodies, built as JSON bytes with orjson straight from domain values.

Deliberate choices:

- Stored payloads (``data``, ``metadata``, ``state``) are already JSON text; they are embedded
  verbatim with `orjson.Fragment`, never parsed and re-validated. A read of a thousand events
  costs one orjson call.
- Timestamps are RFC 3339 in UTC with a ``Z`` and always six fractional digits
  (``2026-01-01T00:00:00.123456Z``): fixed width, so they also sort as text. A naive datetime
  (SQLite hands those back) is taken to be UTC already.
- Per event, nothing is formatted in Python (`event_body`): orjson writes the id (a `UUID`,
  as ``str`` does; asyncpg hands back its own subclass of `UUID`, which orjson does not take,
  so every body is written with `_default`, which gives it as its ``str``), the tags (a tuple)
  and the time (with ``OPT_UTC_Z``, exactly `rfc3339`'s text for a datetime in UTC with
  microseconds, which is what every store hands back; any other, such as one on a whole second,
  which orjson would write without its fraction, goes through `rfc3339`). Every body is written
  by `dumps`. A one-tag read (ten events) went from 2.08 to 1.92 million instructions
  (`bench/request_cost.py`, callgrind); ten events' bodies from about 275 to 71 µs in a loop on
  a loaded machine. Formatting each distinct time once per response would save nothing more:
  there is no Python formatting left to share.
- The shapes are those of the response models of `app.api.schemas`, which document them in
  OpenAPI; `tests/api` checks that the bodies match.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
from fastapi import Response

from app.domain import (
    AppendResult,
    Event,
    EventSchema,
    EventTypeInfo,
    ReadResult,
    Snapshot,
    StoreStats,
    TagPage,
)

JSON_MEDIA_TYPE = "application/json"
REPLAYED_HEADER = "Idempotent-Replayed"
OPTIONS = orjson.OPT_UTC_Z
"""orjson's options for every body: a datetime in UTC ends in ``Z`` (see `moment`)."""


def _default(value: Any) -> str:
    """What orjson writes for a value it does not know: a subclass of `UUID` (asyncpg's) as
    its ``str``, as orjson writes a `UUID`."""
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def dumps(content: Any) -> bytes:
    """``content`` as the bytes of a response body."""
    return orjson.dumps(content, default=_default, option=OPTIONS)


def rfc3339(moment: datetime) -> str:
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    # isoformat of a UTC time ends in "+00:00"; it costs a fifth of strftime.
    return utc.isoformat(timespec="microseconds")[:-6] + "Z"


def moment(value: datetime) -> datetime | str:
    """``value`` for orjson to write as `rfc3339` would: itself when orjson's text is the same
    (in UTC, with microseconds), else `rfc3339`'s text."""
    if value.microsecond and value.tzinfo is UTC:
        return value
    return rfc3339(value)


def json_response(
    content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        dumps(content),
        status_code=status_code,
        headers=headers,
        media_type=JSON_MEDIA_TYPE,
    )


def event_body(event: Event) -> dict[str, Any]:
    return {
        "position": event.position,
        "id": event.id,
        "type": event.type,
        "data": orjson.Fragment(event.data),
        "tags": event.tags,
        "metadata": orjson.Fragment(event.metadata),
        "recorded_at": moment(event.recorded_at),
    }


def event_json(event: Event) -> str:
    """One event as one line of JSON (a stream message's data)."""
    return dumps(event_body(event)).decode()


def snapshot_body(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "name": snapshot.name,
        "key": snapshot.key,
        "position": snapshot.position,
        "state": orjson.Fragment(snapshot.state),
        "metadata": orjson.Fragment(snapshot.metadata),
        "stored_at": rfc3339(snapshot.stored_at),
    }


def append_response(result: AppendResult) -> Response:
    """201 for a new append; 200 with ``Idempotent-Replayed: true`` for a replay."""
    body = {"positions": list(result.positions), "last_position": result.last_position}
    if result.replayed:
        return json_response(body, 200, {REPLAYED_HEADER: "true"})
    return json_response(body, 201)


def read_response(
    result: ReadResult,
    *,
    snapshot: Snapshot | None = None,
    snapshot_due: bool | None = None,
) -> Response:
    """The read body; ``snapshot_due`` is present only when not None (a snapshot was asked)."""
    body: dict[str, Any] = {
        "events": [event_body(event) for event in result.events],
        "marker": result.marker,
        "head": result.head,
        "has_more": result.has_more,
        "snapshot": None if snapshot is None else snapshot_body(snapshot),
    }
    if snapshot_due is not None:
        body["snapshot_due"] = snapshot_due
    return json_response(body)


def event_types_body(types: list[EventTypeInfo]) -> dict[str, Any]:
    return {
        "event_types": [
            {
                "type": t.type,
                "count": t.count,
                "first_position": t.first_position,
                "last_position": t.last_position,
                "has_schema": t.has_schema,
            }
            for t in types
        ]
    }


def tags_body(page: TagPage) -> dict[str, Any]:
    return {
        "tags": [{"tag": t.tag, "count": t.count} for t in page.tags],
        "has_more": page.has_more,
    }


def stats_body(stats: StoreStats) -> dict[str, Any]:
    return {
        "events": stats.events,
        "head": stats.head,
        "first_recorded_at": _rfc3339_or_none(stats.first_recorded_at),
        "last_recorded_at": _rfc3339_or_none(stats.last_recorded_at),
        "database_bytes": stats.database_bytes,
    }


def _rfc3339_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else rfc3339(moment)


def schema_body(schema: EventSchema) -> dict[str, Any]:
    return {
        "type": schema.type,
        "schema": orjson.Fragment(schema.schema),
        "registered_at": rfc3339(schema.registered_at),
    }
