"""What a subscription knows between connections, with no I/O: shared by ``Subscription`` and
``AsyncSubscription``, which only connect, read and wait their own way (as the stores share
``_calls``), so that the rules of exactly-once delivery exist once.

- Every connection asks for the events after the last position yielded, both as ``after`` and
  as ``Last-Event-ID``; an event at or before that position is skipped (a reconnect may
  deliver it again), so nothing is yielded twice or out of order.
- A connection that fails, ends, or stays silent past the heartbeat timeout counts as a
  failure; an event yielded resets the count. A refusal the service may lift (429, 502-504) is
  a failure too, waited out with its ``Retry-After``; any other problem is raised as its
  typed error. After ``reconnect.attempts`` failures in a row (0: never) the subscription
  gives up with ``EventStoreUnavailable``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import httpx

from eventstore_client import _calls
from eventstore_client._calls import RETRY_STATUSES, Retries, error_for
from eventstore_client.errors import EventStoreUnavailable, ProblemError
from eventstore_client.models import Query, SequencedEvent

STREAM_PATH = "/v1/events/stream"

Params = list[tuple[str, str | int | float | bool | None]]


class Resumption:
    def __init__(
        self,
        query: Query | None,
        after: int,
        *,
        headers: Mapping[str, str],
        live: bool,
        reconnect: Retries,
    ) -> None:
        self.query = query
        self.position = after
        """The position of the last event yielded (or where the subscription started)."""
        self.live = live
        self.connections = 0
        """How many times it connected: 1 plus its reconnects."""
        self._headers = dict(headers)
        self._reconnect = reconnect
        self._failures = 0

    def request(self) -> tuple[Params, dict[str, str]]:
        """The parameters and headers of the next connection (which it counts)."""
        self.connections += 1
        headers = {**self._headers, "Last-Event-ID": str(self.position)}
        return _calls.stream_params(self.query, self.position, live=self.live), headers

    def refused(self, response: httpx.Response) -> float | None:
        """A stream answered with a problem (its body read): raises it unless the service may
        lift it, else the ``Retry-After`` it asked for."""
        failure = error_for(response)
        if response.status_code not in RETRY_STATUSES:
            raise failure
        return failure.retry_after if isinstance(failure, ProblemError) else None

    def accept(self, data: str) -> SequencedEvent | None:
        """The event a message carries, if it is one not yielded yet (heartbeats carry none)."""
        if not data:
            return None
        event = SequencedEvent.from_wire(json.loads(data))
        if event.position <= self.position:
            return None  # already yielded before a reconnect
        self.position = event.position
        self._failures = 0
        return event

    def failed(self, error: BaseException, retry_after: float | None) -> float:
        """Count a failed connection: the seconds to wait before the next, or raises
        ``EventStoreUnavailable`` when that was the last attempt."""
        self._failures += 1
        if self._reconnect.attempts and self._failures >= self._reconnect.attempts:
            raise EventStoreUnavailable(
                f"the stream failed {self._failures} times in a row"
            ) from error
        return self._reconnect.delay(min(self._failures - 1, 16), retry_after)


class Resumed:
    """What both subscriptions show of their `Resumption`."""

    _resumption: Resumption

    @property
    def query(self) -> Query | None:
        return self._resumption.query

    @property
    def position(self) -> int:
        """The position of the last event yielded (or where the subscription started)."""
        return self._resumption.position

    @property
    def connections(self) -> int:
        """How many times it connected: 1 plus its reconnects."""
        return self._resumption.connections
