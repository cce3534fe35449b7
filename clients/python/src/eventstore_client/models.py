"""The values of the DCB vocabulary, shared by the sync and the async store.

Every value is a frozen dataclass: an ``Event`` to append, a ``SequencedEvent`` read back, a
``Query`` of ``QueryItem``s, an ``AppendCondition``, a ``ReadResult``, and so on. Sequences given
to a constructor are kept as tuples, so a value built from a list cannot change under the
caller. ``data``, ``metadata`` and snapshot ``state`` are JSON values as ``json`` parses them
(``Any``): the service stores and returns them unchanged, and the library never guesses a type
for them.

Choices:
- ``Query.of(types=..., tags=...)`` builds one item, ``|`` combines queries (an event matches
  a query when it matches any of its items), and ``Query.all()`` matches every event: the
  query is written once and used to read and as the condition of the append that follows.
- ``Query.matches`` applies the service's matching rule locally (the same rule as the
  contract's), so that a program can tell which of the events it sourced a part of its
  decision is about.
- Wire conversion (``to_wire``/``from_wire``) lives here, beside each value, so that the two
  stores share one mapping of the contract's JSON.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

__all__ = [
    "AppendCondition",
    "AppendResult",
    "Event",
    "EventSchema",
    "EventTypeInfo",
    "Query",
    "QueryItem",
    "ReadResult",
    "SequencedEvent",
    "Snapshot",
    "SnapshotRef",
    "Stats",
    "StreamTicket",
    "TagCount",
    "TagsPage",
]


def _tuple(values: Iterable[str] | None) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        raise TypeError("expected a sequence of strings, got one string")
    return tuple(values)


def _timestamp(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


@dataclass(frozen=True, slots=True)
class Event:
    """An event to append. Without ``id`` the store gives it one before sending (so that a
    retry of the append replays instead of storing twice)."""

    type: str
    data: Any = None
    tags: Sequence[str] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "tags", _tuple(self.tags))
        object.__setattr__(self, "metadata", dict(self.metadata))

    def with_id(self) -> Event:
        """This event, with a fresh random id when it has none."""
        return self if self.id is not None else replace(self, id=str(uuid.uuid4()))

    def with_tags(self, tags: Iterable[str]) -> Event:
        return replace(self, tags=tuple(tags))

    def with_metadata(self, **values: Any) -> Event:
        """This event with ``values`` added to its metadata (replacing keys it has)."""
        return replace(self, metadata={**self.metadata, **values})

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "type": self.type,
            "data": self.data,
            "tags": list(self.tags),
            "metadata": dict(self.metadata),
        }
        if self.id is not None:
            wire["id"] = self.id
        return wire


@dataclass(frozen=True, slots=True)
class SequencedEvent:
    """An event as the store keeps it: its position in the log, and when it was recorded."""

    position: int
    id: str
    type: str
    data: Any
    tags: tuple[str, ...]
    metadata: Mapping[str, Any]
    recorded_at: datetime

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> SequencedEvent:
        return cls(
            position=int(wire["position"]),
            id=str(wire["id"]),
            type=str(wire["type"]),
            data=wire.get("data"),
            tags=tuple(wire.get("tags") or ()),
            metadata=dict(wire.get("metadata") or {}),
            recorded_at=datetime.fromisoformat(wire["recorded_at"]),
        )


@dataclass(frozen=True, slots=True)
class QueryItem:
    """Events whose type is one of ``types`` (any type when empty) and that carry every tag of
    ``tags``. An item with neither is refused by the service."""

    types: Sequence[str] = ()
    tags: Sequence[str] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "types", _tuple(self.types))
        object.__setattr__(self, "tags", _tuple(self.tags))
        if not self.types and not self.tags:
            raise ValueError("a query item needs types or tags (Query.all() matches everything)")

    def matches(self, event: Event | SequencedEvent) -> bool:
        return (not self.types or event.type in self.types) and set(self.tags) <= set(event.tags)

    def to_wire(self) -> dict[str, Any]:
        return {"types": list(self.types), "tags": list(self.tags)}


@dataclass(frozen=True, slots=True)
class Query:
    """Events matching any of ``items``; no items match every event."""

    items: Sequence[QueryItem] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(self.items))

    @classmethod
    def of(cls, *, types: Iterable[str] | None = None, tags: Iterable[str] | None = None) -> Query:
        """One item: ``Query.of(types=["CourseDefined"], tags=["course:c1"])``."""
        return cls((QueryItem(_tuple(types), _tuple(tags)),))

    @classmethod
    def all(cls) -> Query:
        """Every event."""
        return cls(())

    def __or__(self, other: Query) -> Query:
        if not isinstance(other, Query):
            return NotImplemented
        if not self.items or not other.items:
            return Query.all()  # one side already matches everything
        merged = list(self.items)
        merged.extend(item for item in other.items if item not in merged)
        return Query(tuple(merged))

    def matches(self, event: Event | SequencedEvent) -> bool:
        return not self.items or any(item.matches(event) for item in self.items)

    def to_wire(self) -> dict[str, Any]:
        return {"items": [item.to_wire() for item in self.items]}

    def to_json(self) -> str:
        """The query as the stream's ``query`` parameter takes it."""
        return json.dumps(self.to_wire(), separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class AppendCondition:
    """Refuse the append if an event matching ``fail_if_events_match`` is stored after
    ``after`` (at all, when ``after`` is None)."""

    fail_if_events_match: Query
    after: int | None = None

    def to_wire(self) -> dict[str, Any]:
        return {"fail_if_events_match": self.fail_if_events_match.to_wire(), "after": self.after}


@dataclass(frozen=True, slots=True)
class AppendResult:
    """The positions given to the events of an append, in order. ``replayed``: the append had
    been stored before (a retry), and these are its positions from then."""

    positions: tuple[int, ...]
    last_position: int
    replayed: bool = False

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any], *, replayed: bool) -> AppendResult:
        return cls(tuple(wire["positions"]), int(wire["last_position"]), replayed)


@dataclass(frozen=True, slots=True)
class SnapshotRef:
    """The snapshot a read starts from: state ``name`` for ``key``."""

    name: str
    key: str

    def to_wire(self) -> dict[str, str]:
        return {"name": self.name, "key": self.key}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The state ``name`` of ``key`` folded up to ``position``."""

    name: str
    key: str
    position: int
    state: Any
    metadata: Mapping[str, Any]
    stored_at: datetime | None

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> Snapshot:
        return cls(
            name=str(wire["name"]),
            key=str(wire["key"]),
            position=int(wire["position"]),
            state=wire.get("state"),
            metadata=dict(wire.get("metadata") or {}),
            stored_at=_timestamp(wire.get("stored_at")),
        )


@dataclass(frozen=True, slots=True)
class ReadResult:
    """What a read saw. ``marker`` is the consistency marker to append a decision against (the
    ``after`` of the condition); ``has_more``: more matching events lie beyond. With a snapshot
    asked for, ``snapshot`` is the one loaded (None when none is stored) and ``snapshot_due``
    the service's hint that a fresh one is worth storing."""

    events: tuple[SequencedEvent, ...]
    marker: int
    head: int
    has_more: bool
    snapshot: Snapshot | None = None
    snapshot_due: bool = False

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> ReadResult:
        snapshot = wire.get("snapshot")
        return cls(
            events=tuple(SequencedEvent.from_wire(event) for event in wire["events"]),
            marker=int(wire["marker"]),
            head=int(wire["head"]),
            has_more=bool(wire["has_more"]),
            snapshot=None if snapshot is None else Snapshot.from_wire(snapshot),
            snapshot_due=bool(wire.get("snapshot_due", False)),
        )

    def __iter__(self) -> Iterator[SequencedEvent]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)


@dataclass(frozen=True, slots=True)
class StreamTicket:
    """A short-lived read-only credential for a browser's EventSource (``?ticket=``)."""

    ticket: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class EventTypeInfo:
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
class TagsPage:
    tags: tuple[TagCount, ...]
    has_more: bool


@dataclass(frozen=True, slots=True)
class Stats:
    events: int
    head: int
    first_recorded_at: datetime | None
    last_recorded_at: datetime | None
    database_bytes: int | None

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> Stats:
        return cls(
            events=int(wire["events"]),
            head=int(wire["head"]),
            first_recorded_at=_timestamp(wire.get("first_recorded_at")),
            last_recorded_at=_timestamp(wire.get("last_recorded_at")),
            database_bytes=wire.get("database_bytes"),
        )


@dataclass(frozen=True, slots=True)
class EventSchema:
    """The JSON Schema every later event of ``type`` must satisfy."""

    type: str
    schema: Any
    registered_at: datetime | None

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> EventSchema:
        return cls(str(wire["type"]), wire["schema"], _timestamp(wire.get("registered_at")))
