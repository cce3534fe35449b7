"""Interceptors: code that runs around every append and every source of a store.

An ``Interceptor`` may rewrite the events of an append before they are sent (and see the
result after), and rewrite a query before it is sourced (and the result after). The store runs
its interceptors in order before, and in reverse order after, as layers around the call; the
hooks are plain functions, so one interceptor serves the sync and the async store alike.

``CorrelationInterceptor`` is the one most programs want: inside ``with handling(event):`` every
event appended gets ``correlation_id`` (the handled event's, or its id when it has none) and
``causation_id`` (the handled event's id) in its metadata; ``with correlation("request-42"):``
sets the correlation id alone. They are context variables, so they follow threads' and asyncio
tasks' own contexts. Metadata the event already has is kept. They are added before the first
attempt, so a retry sends the same append (a retry must, to be replayed).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

from eventstore_client.models import (
    AppendCondition,
    AppendResult,
    Event,
    Query,
    ReadResult,
    SequencedEvent,
)

__all__ = ["CorrelationInterceptor", "Interceptor", "correlation", "handling"]


class Interceptor:
    """Override any of the four hooks; each default passes through."""

    def before_append(
        self, events: Sequence[Event], condition: AppendCondition | None
    ) -> Sequence[Event]:
        return events

    def after_append(self, events: Sequence[Event], result: AppendResult) -> None:
        return None

    def before_source(self, query: Query) -> Query:
        return query

    def after_source(self, query: Query, result: ReadResult) -> ReadResult:
        return result


_correlation: ContextVar[str | None] = ContextVar("eventstore_correlation", default=None)
_causation: ContextVar[str | None] = ContextVar("eventstore_causation", default=None)


@contextmanager
def correlation(correlation_id: str) -> Iterator[None]:
    """Events appended inside carry ``correlation_id`` (unless they have one)."""
    token = _correlation.set(correlation_id)
    try:
        yield
    finally:
        _correlation.reset(token)


@contextmanager
def handling(event: SequencedEvent) -> Iterator[None]:
    """Events appended inside are caused by ``event`` and share its correlation id."""
    correlation_id = event.metadata.get("correlation_id")
    corr = _correlation.set(str(correlation_id) if correlation_id is not None else event.id)
    cause = _causation.set(event.id)
    try:
        yield
    finally:
        _causation.reset(cause)
        _correlation.reset(corr)


class CorrelationInterceptor(Interceptor):
    """Adds ``correlation_id`` and ``causation_id`` from ``handling``/``correlation``."""

    def before_append(
        self, events: Sequence[Event], condition: AppendCondition | None
    ) -> Sequence[Event]:
        added = {
            name: value
            for name, value in (
                ("correlation_id", _correlation.get()),
                ("causation_id", _causation.get()),
            )
            if value is not None
        }
        if not added:
            return events
        return [
            event.with_metadata(**{k: v for k, v in added.items() if k not in event.metadata})
            for event in events
        ]
