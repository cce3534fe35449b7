"""The decision loop of DCB: source what a decision needs, fold it into state, decide, and
append the decision's events under the condition that nothing it was based on changed.

    decision = decide(store, query, fold, decide_fn)

``query`` is written once: it is sourced, and it is the condition of the append, with the
marker of that read. When another writer got there first (409), the loop sources again and
decides again, up to ``attempts`` times with a short jittered backoff, then raises
``DecisionConflict``. A decision that returns no events appends nothing; one that raises (the
command is refused, say) raises out of the loop, untouched.

Choices:
- ``fold`` takes the events sourced (a sequence of ``SequencedEvent``) and returns the state;
  a plain function, so that a fold over several decision models is just Python.
- The decision's events get their ids at each append, so every attempt is its own append; the
  store's own retries (a lost answer) replay within one attempt.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from eventstore_client._calls import Retries
from eventstore_client.errors import AppendConditionFailed, EventStoreError
from eventstore_client.models import AppendCondition, AppendResult, Event, Query, SequencedEvent

if TYPE_CHECKING:
    from eventstore_client.aio import AsyncEventStore
    from eventstore_client.store import EventStore

__all__ = ["CONFLICT_BACKOFF", "Decision", "DecisionConflict", "decide", "decide_async"]

S = TypeVar("S")

CONFLICT_BACKOFF = Retries(backoff=0.01, max_backoff=0.5)


@dataclass(frozen=True, slots=True)
class Decision(Generic[S]):
    """The outcome: the state decided on, the events appended (none when the decision made
    none), the append's result, the marker of the read, and how many attempts it took."""

    state: S
    events: tuple[Event, ...]
    appended: AppendResult | None
    marker: int
    attempts: int


class DecisionConflict(EventStoreError):
    """Every attempt met a conflicting append."""

    def __init__(self, attempts: int, conflict: AppendConditionFailed) -> None:
        super().__init__(f"the decision met a conflict on each of {attempts} attempts")
        self.attempts = attempts
        self.conflict = conflict


def decide(
    store: EventStore,
    query: Query,
    fold: Callable[[Sequence[SequencedEvent]], S],
    decision: Callable[[S], Sequence[Event]],
    *,
    attempts: int = 5,
    backoff: Retries = CONFLICT_BACKOFF,
) -> Decision[S]:
    """Source ``query``, fold, decide, append with the condition; again on conflict."""

    def attempt(number: int) -> Decision[S]:
        sourced = store.source(query)
        state = fold(sourced.events)
        events = tuple(decision(state))
        if not events:
            return Decision(state, (), None, sourced.marker, number)
        appended = store.append(events, AppendCondition(query, sourced.marker))
        return Decision(state, events, appended, sourced.marker, number)

    return retry_on_conflict(attempt, attempts, backoff)


async def decide_async(
    store: AsyncEventStore,
    query: Query,
    fold: Callable[[Sequence[SequencedEvent]], S],
    decision: Callable[[S], Sequence[Event]],
    *,
    attempts: int = 5,
    backoff: Retries = CONFLICT_BACKOFF,
) -> Decision[S]:
    """``decide`` for the async store."""

    async def attempt(number: int) -> Decision[S]:
        sourced = await store.source(query)
        state = fold(sourced.events)
        events = tuple(decision(state))
        if not events:
            return Decision(state, (), None, sourced.marker, number)
        appended = await store.append(events, AppendCondition(query, sourced.marker))
        return Decision(state, events, appended, sourced.marker, number)

    return await retry_on_conflict_async(attempt, attempts, backoff)


def retry_on_conflict(
    attempt: Callable[[int], Decision[S]], attempts: int, backoff: Retries
) -> Decision[S]:
    """``attempt(1)``, ``attempt(2)``, ... until one is not refused with a 409, at most
    ``attempts`` of them with ``backoff`` in between; then ``DecisionConflict``. The loop of
    ``decide`` and of the repositories' ``decide``."""
    conflict: AppendConditionFailed | None = None
    for number in range(1, attempts + 1):
        try:
            return attempt(number)
        except AppendConditionFailed as failed:
            conflict = failed
            time.sleep(backoff.delay(number - 1))
    if conflict is None:
        raise ValueError("attempts must be at least 1")
    raise DecisionConflict(attempts, conflict) from conflict


async def retry_on_conflict_async(
    attempt: Callable[[int], Awaitable[Decision[S]]], attempts: int, backoff: Retries
) -> Decision[S]:
    """``retry_on_conflict`` for attempts that are awaited."""
    conflict: AppendConditionFailed | None = None
    for number in range(1, attempts + 1):
        try:
            return await attempt(number)
        except AppendConditionFailed as failed:
            conflict = failed
            await asyncio.sleep(backoff.delay(number - 1))
    if conflict is None:
        raise ValueError("attempts must be at least 1")
    raise DecisionConflict(attempts, conflict) from conflict
