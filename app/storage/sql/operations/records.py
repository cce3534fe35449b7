"""The export format: NDJSON, one record a line, each a JSON object with its ``kind``.

    {"kind":"header","format":1,"head":1200,"after":0,"upper":1200,"query":null,"events":1200}
    {"kind":"event","position":1,"id":"…","type":"CourseDefined","tags":["course:c1"],
     "data":{…},"metadata":{…},"recorded_at":"2026-01-01T00:00:00.123456Z","append":1}
    {"kind":"snapshot","name":"course","key":"c1","position":2,"state":{…},"metadata":{…},
     "stored_at":"…"}
    {"kind":"schema","type":"CourseDefined","schema":{…},"registered_at":"…"}
    {"kind":"end","events":1200,"snapshots":1,"schemas":1}

Deliberate choices:

- Events in position order, each with everything the store keeps: ``append`` is the position
  of the first event of the append that stored it, which idempotent retries depend on. The
  header says which part of the log follows (positions ``after`` < p <= ``upper``, optionally
  only those matching ``query``); the end line says the file is whole, so that an import of a
  truncated file fails instead of passing for complete.
- Payloads are written as the JSON the store keeps (orjson fragments: nothing is parsed on the
  way out), so ``jq`` reads them as they are. On the way in a line is parsed with orjson,
  except a line holding a run of 19 digits or more, which orjson would read as a float: the
  standard library keeps such integers exact. Payloads are then serialised as the service
  serialises what clients send (`app.domain.dump_json`), so an export of an import is the
  same bytes as the export it came from.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson

from app.domain import RawJson, dump_json

FORMAT = 1
_LONG_INTEGER = re.compile(rb"\d{19}")


class RecordError(ValueError):
    """A line that is not a record of this format; the message says which line and why."""


def timestamp(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds, as the API writes them."""
    utc = moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return utc.isoformat(timespec="microseconds")[:-6] + "Z"


def line(record: dict[str, Any]) -> bytes:
    """One record as a line (payload fragments embedded as they are)."""
    return orjson.dumps(record) + b"\n"


def fragment(raw: RawJson) -> orjson.Fragment:
    return orjson.Fragment(raw)


@dataclass(frozen=True, slots=True)
class EventRecord:
    position: int
    id: UUID
    type: str
    tags: tuple[str, ...]
    data: RawJson
    metadata: RawJson
    recorded_at: datetime
    append: int


@dataclass(frozen=True, slots=True)
class SnapshotRecord:
    name: str
    key: str
    position: int
    state: RawJson
    metadata: RawJson
    stored_at: datetime


@dataclass(frozen=True, slots=True)
class SchemaRecord:
    type: str
    schema: RawJson
    registered_at: datetime


@dataclass(frozen=True, slots=True)
class Header:
    head: int
    after: int
    upper: int
    query: Any
    events: int | None


@dataclass(frozen=True, slots=True)
class End:
    events: int
    snapshots: int
    schemas: int


Record = Header | EventRecord | SnapshotRecord | SchemaRecord | End


def parse(raw: bytes, number: int) -> Record:
    """The record of line ``number`` (for messages); raises `RecordError`."""
    try:
        value = orjson.loads(raw)
        if _LONG_INTEGER.search(raw):
            value = json.loads(raw)
        if not isinstance(value, dict):
            raise RecordError("not a JSON object")
        return _record(value)
    except RecordError as error:
        raise RecordError(f"line {number}: {error}") from None
    except (ValueError, KeyError, TypeError) as error:
        raise RecordError(f"line {number}: not a record of format {FORMAT} ({error!r})") from None


def _record(value: dict[str, Any]) -> Record:
    kind = value.get("kind")
    if kind == "event":
        tags = value["tags"]
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            raise RecordError("tags must be a list of strings")
        return EventRecord(
            position=_integer(value["position"]),
            id=UUID(value["id"]),
            type=_text(value["type"]),
            tags=tuple(tags),
            data=dump_json(value["data"]),
            metadata=dump_json(value["metadata"]),
            recorded_at=_moment(value["recorded_at"]),
            append=_integer(value["append"]),
        )
    if kind == "snapshot":
        return SnapshotRecord(
            name=_text(value["name"]),
            key=_text(value["key"]),
            position=_integer(value["position"]),
            state=dump_json(value["state"]),
            metadata=dump_json(value["metadata"]),
            stored_at=_moment(value["stored_at"]),
        )
    if kind == "schema":
        return SchemaRecord(
            type=_text(value["type"]),
            schema=dump_json(value["schema"]),
            registered_at=_moment(value["registered_at"]),
        )
    if kind == "header":
        if value.get("format") != FORMAT:
            raise RecordError(f"format {value.get('format')!r}; this version reads {FORMAT}")
        events = value.get("events")
        return Header(
            head=_integer(value["head"]),
            after=_integer(value["after"]),
            upper=_integer(value["upper"]),
            query=value.get("query"),
            events=None if events is None else _integer(events),
        )
    if kind == "end":
        return End(
            events=_integer(value["events"]),
            snapshots=_integer(value["snapshots"]),
            schemas=_integer(value["schemas"]),
        )
    raise RecordError(f"unknown kind {kind!r}")


def _integer(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise RecordError(f"{value!r} is not a position or count")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise RecordError(f"{value!r} is not a name")
    return value


def _moment(value: Any) -> datetime:
    moment = datetime.fromisoformat(_text(value))
    if moment.tzinfo is None:
        raise RecordError(f"{value!r} has no time zone")
    return moment.astimezone(UTC)
