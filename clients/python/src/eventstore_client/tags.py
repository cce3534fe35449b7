"""Tag resolvers: the tags an event is appended with, resolved before the append is sent.

A resolver is any callable from an ``Event`` to the tags it should carry. The store applies its
resolver (``EventStore(..., tag_resolver=...)``) to every event it appends, after the
interceptors, and keeps the result in order without duplicates.

- ``from_event()``: the event's own tags (what a store does without a resolver); given a
  function, the tags that function derives from the event (its data, say).
- ``from_metadata("tenant", ...)``: ``key:value`` for each key present in the event's metadata,
  as the service's ``EVENTSTORE_METADATA_TAG_KEYS`` does on its side.
- ``combined(a, b, ...)``: every tag of every resolver, first occurrence kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from eventstore_client.models import Event

__all__ = ["TagResolver", "combined", "from_event", "from_metadata", "resolve"]

TagResolver = Callable[[Event], Iterable[str]]


def from_event(derive: Callable[[Event], Iterable[str]] | None = None) -> TagResolver:
    """The event's own tags, or those ``derive`` computes from the event."""
    if derive is None:
        return lambda event: event.tags
    return derive


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def from_metadata(*keys: str) -> TagResolver:
    """``key:value`` for each of ``keys`` present (and not null) in the event's metadata."""

    def resolve(event: Event) -> list[str]:
        return [
            f"{key}:{_value(event.metadata[key])}"
            for key in keys
            if event.metadata.get(key) is not None
        ]

    return resolve


def combined(*resolvers: TagResolver) -> TagResolver:
    """The tags of every resolver, in order, each once."""

    def resolve(event: Event) -> list[str]:
        return list(dict.fromkeys(tag for resolver in resolvers for tag in resolver(event)))

    return resolve


def resolve(resolver: TagResolver | None, event: Event) -> Event:
    """``event`` with the tags ``resolver`` gives it (unchanged without one)."""
    if resolver is None:
        return event
    tags = tuple(dict.fromkeys(resolver(event)))
    return event if tags == event.tags else event.with_tags(tags)
