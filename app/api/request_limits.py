"""The app's count limits, applied by the wire models before they validate a list's elements.

pydantic validates every element of a list before a route can count them: a body of 100,000
query items took 0.7-3 s of CPU to refuse, 100,000 events 2 s, all within the body size limit.
So the lists that have a limit (events of an append, items of a query, types and tags of an
item) carry a wrap validator (`at_most`) that compares the length first and refuses at once.

Deliberate choices:

- The limits are settings of the app, and the models are shared by every app, so the route
  class puts the serving app's `Limits` in a context variable for the request (`limits_scope`);
  validation runs inside it. Outside a request (a model used by a script) nothing is limited
  here.
- The refusals are those the routes gave after validation: 422 ``too_long`` for query items,
  types and tags, at the same location with the same message; 413 for events (the contract
  calls the events per append a size limit). That one is raised as `PayloadTooLarge` from
  inside validation: pydantic passes exceptions that are not validation errors through, and
  FastAPI passes it on to the problem handlers like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from pydantic import ValidatorFunctionWrapHandler, WrapValidator
from pydantic_core import PydanticCustomError

from app.config import Settings
from app.errors import PayloadTooLarge


@dataclass(frozen=True)
class Limits:
    max_events: int
    max_items: int
    max_values: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            max_events=settings.max_events_per_append,
            max_items=settings.max_query_items,
            max_values=settings.max_values_per_item,
        )


_CURRENT: ContextVar[Limits | None] = ContextVar("request_limits", default=None)


@contextmanager
def limits_scope(limits: Limits) -> Iterator[None]:
    token = _CURRENT.set(limits)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def items_message(limit: int) -> str:
    return f"at most {limit} items per query"


def values_message(limit: int) -> str:
    return f"at most {limit} values per query item"


def events_message(count: int, limit: int) -> str:
    return f"{count} events in one append; the limit is {limit}"


def _limited(
    limit_of: Callable[[Limits], int], refusal: Callable[[int, int], Exception]
) -> WrapValidator:
    """A list validator: more than ``limit_of(limits)`` elements raises ``refusal(count,
    limit)`` before any element is validated."""

    def check(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        limits = _CURRENT.get()
        if limits is not None and isinstance(value, list):
            limit = limit_of(limits)
            if len(value) > limit:
                raise refusal(len(value), limit)
        return handler(value)

    return WrapValidator(check)


def at_most(limit_of: Callable[[Limits], int], message: Callable[[int], str]) -> WrapValidator:
    """More than ``limit_of(limits)`` elements is a 422 ``too_long`` saying ``message(limit)``."""
    return _limited(limit_of, lambda _, limit: PydanticCustomError("too_long", message(limit)))


def events_at_most() -> WrapValidator:
    """The events of an append: more than the limit is a 413 (`PayloadTooLarge`)."""
    return _limited(
        lambda limits: limits.max_events,
        lambda count, limit: PayloadTooLarge(events_message(count, limit)),
    )
