"""The DCB vocabulary as plain, frozen values, and the one function that defines matching.

Nothing here knows about HTTP, SQL or pydantic: routes convert wire models to these values at the
edge, and every storage engine speaks only these values.

JSON payloads (``data``, ``metadata``, snapshot ``state``) travel through the store as serialised
JSON text (``RawJson``): the API serialises each payload once on the way in, the storage keeps that
text, and the response embeds it verbatim on the way out (``orjson.Fragment``). Stored events are
never parsed and re-validated just to be sent back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

RawJson = str
"""One JSON value, serialised."""

NULL_JSON: RawJson = "null"
EMPTY_OBJECT_JSON: RawJson = "{}"


def dump_json(value: Any) -> RawJson:
    """Serialise a JSON value. Integers beyond 64 bits, which orjson refuses, go through the
    standard library so that any JSON the client sent is stored unchanged."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def canonical_json(raw: RawJson) -> RawJson:
    """The same JSON value with object keys sorted: equal values give equal bytes."""
    return json.dumps(json.loads(raw), ensure_ascii=False, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True, slots=True)
class QueryItem:
    """Matches an event whose type is one of ``types`` (any type when empty) and that carries
    every tag of ``tags``."""

    types: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Query:
    """Matches an event that matches any item; no items match every event."""

    items: tuple[QueryItem, ...] = ()

    @property
    def matches_all(self) -> bool:
        return not self.items


MATCH_ALL = Query()


@dataclass(frozen=True, slots=True)
class AppendCondition:
    """Refuse the append if an event matching ``fail_if_events_match`` lies after ``after``
    (or exists at all when ``after`` is None)."""

    fail_if_events_match: Query = MATCH_ALL
    after: int | None = None


@dataclass(frozen=True, slots=True)
class EventInput:
    """An event to append. ``id`` is None when the client gave none; the store then makes one."""

    type: str
    data: RawJson = NULL_JSON
    tags: tuple[str, ...] = ()
    metadata: RawJson = EMPTY_OBJECT_JSON
    id: UUID | None = None

    def __post_init__(self) -> None:
        # A set of tags: duplicates dropped, first occurrence kept, order otherwise kept.
        object.__setattr__(self, "tags", tuple(dict.fromkeys(self.tags)))


@dataclass(frozen=True, slots=True)
class Event:
    """A stored event."""

    position: int
    id: UUID
    type: str
    data: RawJson
    tags: tuple[str, ...]
    metadata: RawJson
    recorded_at: datetime

    def same_content(self, other: EventInput) -> bool:
        """Whether ``other`` is a retry of this event: same id, type, tags and JSON values."""
        return (
            other.id == self.id
            and other.type == self.type
            and sorted(other.tags) == sorted(self.tags)
            and canonical_json(other.data) == canonical_json(self.data)
            and canonical_json(other.metadata) == canonical_json(self.metadata)
        )


@dataclass(frozen=True, slots=True)
class AppendResult:
    positions: tuple[int, ...]
    replayed: bool = False

    @property
    def last_position(self) -> int:
        return self.positions[-1]


@dataclass(frozen=True, slots=True)
class ReadResult:
    """Events of one read, with the head the read saw and its consistency marker."""

    events: list[Event]
    head: int
    marker: int
    has_more: bool

    @classmethod
    def of(
        cls,
        found: Sequence[Event],
        *,
        head: int,
        after: int,
        before: int | None,
        limit: int,
        backwards: bool,
    ) -> ReadResult:
        """The read that found ``found`` (in reading order, up to ``limit`` + 1 events: one more
        than the page says that more follow) with ``head``: its page and its marker."""
        page, has_more = list(found[:limit]), len(found) > limit
        marker = read_marker(
            head=head,
            after=after,
            before=before,
            last_returned=page[-1].position if page else None,
            has_more=has_more,
            backwards=backwards,
        )
        return cls(events=page, head=head, marker=marker, has_more=has_more)


@dataclass(frozen=True, slots=True)
class SnapshotInput:
    name: str
    key: str
    position: int
    state: RawJson = NULL_JSON
    metadata: RawJson = EMPTY_OBJECT_JSON


@dataclass(frozen=True, slots=True)
class Snapshot:
    name: str
    key: str
    position: int
    state: RawJson
    metadata: RawJson
    stored_at: datetime


def item_matches(item: QueryItem, event_type: str, event_tags: Iterable[str]) -> bool:
    if item.types and event_type not in item.types:
        return False
    carried = set(event_tags)
    return all(tag in carried for tag in item.tags)


def matches(query: Query, event_type: str, event_tags: Iterable[str]) -> bool:
    """The DCB rule: types OR'ed, tags AND'ed within an item, items OR'ed; no items match all."""
    if query.matches_all:
        return True
    tags = tuple(event_tags)
    return any(item_matches(item, event_type, tags) for item in query.items)


def read_marker(
    *,
    head: int,
    after: int,
    before: int | None,
    last_returned: int | None,
    has_more: bool,
    backwards: bool,
) -> int:
    """The consistency marker of a read: the highest position up to which the read saw every
    matching event. A forward read cut short by its limit saw everything up to the last event it
    returned, or up to ``after`` when it returned none (``limit`` 0); any other read saw
    everything up to its upper bound."""
    if has_more and not backwards:
        return last_returned if last_returned is not None else after
    return head if before is None else min(head, before - 1)


# --- discovery and schemas ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventTypeInfo:
    """One event type of the store: how many events it has, where the first and last are, and
    whether a schema is registered for its data."""

    type: str
    count: int
    first_position: int
    last_position: int
    has_schema: bool


@dataclass(frozen=True, slots=True)
class TagCount:
    tag: str
    count: int


@dataclass(frozen=True, slots=True)
class TagPage:
    """Tags in name order, at most a limit of them; ``has_more`` when more follow the last."""

    tags: list[TagCount]
    has_more: bool


@dataclass(frozen=True, slots=True)
class StoreStats:
    events: int
    head: int
    first_recorded_at: datetime | None
    last_recorded_at: datetime | None
    database_bytes: int | None
    """What the database can tell of its own size; None where it cannot (in memory)."""


@dataclass(frozen=True, slots=True)
class EventSchema:
    """The JSON Schema (Draft 2020-12) that the data of every event of ``type`` must satisfy."""

    type: str
    schema: RawJson
    registered_at: datetime


@dataclass(frozen=True, slots=True)
class Violation:
    """Why an event's data does not satisfy its type's schema: the event (its index in the
    request, or its position when stored), where in its data (a JSON pointer), and what."""

    event: int
    pointer: str
    message: str
