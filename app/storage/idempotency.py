"""Idempotent append: deciding whether a request is a retry of an earlier append.

Shared by every engine, so that they agree to the letter. An engine looks up the request's ids
(inside its write transaction, before the append condition is checked), then asks `replay_of`.
A retry after a lost response thus gets its original result, never a 409 caused by its own events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from uuid import UUID

from app.domain import AppendResult, Event, EventInput
from app.errors import EventIdReused


def check_batch(events: Sequence[EventInput]) -> None:
    """Refuse what no engine may store: an empty append, one id twice in one append."""
    if not events:
        raise ValueError("an append needs at least one event")
    ids = [event.id for event in events if event.id is not None]
    if len(set(ids)) != len(ids):
        raise EventIdReused("the same event id appears twice in this request")


def replay_of(
    events: Sequence[EventInput],
    stored: Mapping[UUID, Event],
    is_one_append: Callable[[int, int], bool],
) -> AppendResult | None:
    """None when no id of ``events`` is stored; the earlier result when ``events`` repeat one
    earlier append exactly (every id given, same order, same content, the whole append);
    otherwise EventIdReused.

    ``stored`` maps each id of the request found in the store to its event; ``is_one_append``
    tells whether positions ``first..last`` were stored by one append and nothing else.
    """
    if not stored:
        return None
    if any(event.id is None for event in events) or len(stored) != len(events):
        raise EventIdReused(
            "some event ids of this request are already stored, others are not: "
            "a retry must repeat the earlier append exactly"
        )
    found = [stored[event.id] for event in events if event.id is not None]
    for event, earlier in zip(events, found, strict=True):
        if not earlier.same_content(event):
            raise EventIdReused(f"event id {event.id} is already stored with different content")
    positions = tuple(earlier.position for earlier in found)
    first, last = positions[0], positions[-1]
    if positions != tuple(range(first, first + len(positions))) or not is_one_append(first, last):
        raise EventIdReused(
            "these event ids are stored, but not as one earlier append in this order"
        )
    return AppendResult(positions=positions, replayed=True)
