"""``EventStore``: the synchronous client of the service, over one ``httpx.Client``.

Every operation of the API is a method; requests and answers are built and read in
``_calls`` (shared with ``AsyncEventStore``), and sent here with bounded retries.

Choices:
- Appends are idempotent by default: an event without an id is given a random one before the
  first attempt, so that a retry of a request whose answer was lost (a timeout, a reset
  connection, a 503) is replayed by the service instead of stored twice. ``idempotent=False``
  sends events as they are, and then only what surely was not received is retried.
- Retries are bounded (``Retries``, four attempts by default) with exponential backoff and
  full jitter, honouring ``Retry-After`` up to the ceiling; a 409 or a 422 is never retried
  here (that is the decision loop's business, with a fresh read).
- ``source`` follows ``marker`` page by page and returns one ``ReadResult`` whose marker is the
  marker of the whole read, the one to append a decision against.
- ``subscribe`` first learns the head when no ``after`` is given, so that a reconnect resumes
  where the subscription began rather than at a later head; see ``Subscription``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from httpx_sse import EventSource

from eventstore_client import _calls
from eventstore_client._calls import RETRY_STATUSES, Call, Retries, error_for, not_sent
from eventstore_client._resume import STREAM_PATH, Resumed, Resumption
from eventstore_client.errors import EventStoreUnavailable, ProblemError
from eventstore_client.interceptors import Interceptor
from eventstore_client.models import (
    AppendCondition,
    AppendResult,
    Event,
    EventSchema,
    EventTypeInfo,
    Query,
    ReadResult,
    SequencedEvent,
    Snapshot,
    SnapshotRef,
    Stats,
    StreamTicket,
    TagsPage,
)
from eventstore_client.tags import TagResolver, resolve

if TYPE_CHECKING:
    from eventstore_client.decision import Decision

__all__ = ["EventStore", "Subscription"]

T = TypeVar("T")
S = TypeVar("S")
DEFAULT_HEARTBEAT_TIMEOUT = 45.0
"""Silence, in seconds, after which a subscription takes its connection for dead: three of the
service's heartbeats at its default interval (``EVENTSTORE_HEARTBEAT_SECONDS``, 15)."""


def merged_source(first: ReadResult, pages: Sequence[ReadResult]) -> ReadResult:
    """The pages of one source as one read: every event, the last page's marker and head."""
    last = pages[-1] if pages else first
    events = first.events + tuple(event for page in pages for event in page.events)
    return ReadResult(events, last.marker, last.head, False, first.snapshot, first.snapshot_due)


class EventStore:
    """The event store at ``base_url``, synchronously.

    ``token``: a bearer token, when the service has tokens. ``timeout``: seconds for each
    request (or an ``httpx.Timeout``). ``retries``: how often a request is sent again after a
    failure that left nothing stored. ``interceptors`` run around every append and source,
    ``tag_resolver`` gives events their tags before an append. ``client``: an ``httpx.Client``
    to use instead of one of the store's own (its base URL is then the client's)."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        token: str | None = None,
        timeout: float | httpx.Timeout = 10.0,
        retries: Retries = Retries(),  # noqa: B008 - frozen value
        interceptors: Sequence[Interceptor] = (),
        tag_resolver: TagResolver | None = None,
        headers: Mapping[str, str] | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self._owns_client = client is None
        self._client = client or httpx.Client(base_url=base_url, timeout=timeout)
        self._headers = _calls.client_headers(token, headers)
        self._stream_headers = {**self._headers, "Accept": "text/event-stream"}
        self.retries = retries
        self.interceptors = tuple(interceptors)
        self.tag_resolver = tag_resolver

    # -- plumbing ------------------------------------------------------------------------------

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _send(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            retry_after: float | None = None
            try:
                response = self._client.request(
                    call.method,
                    call.path,
                    json=call.json,
                    params=call.params,
                    headers={**self._headers, **call.headers},
                )
            except httpx.TransportError as error:
                if attempt + 1 >= self.retries.attempts or not (call.safe or not_sent(error)):
                    raise EventStoreUnavailable(f"{call.method} {call.path}: {error!r}") from error
            else:
                if response.status_code in call.ok:
                    return call.parse(response)
                failure = error_for(response)
                if response.status_code not in RETRY_STATUSES or (
                    attempt + 1 >= self.retries.attempts
                ):
                    raise failure
                retry_after = failure.retry_after if isinstance(failure, ProblemError) else None
            time.sleep(self.retries.delay(attempt, retry_after))
            attempt += 1

    # -- events --------------------------------------------------------------------------------

    def append(
        self,
        events: Event | Sequence[Event],
        condition: AppendCondition | None = None,
        *,
        idempotent: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> AppendResult:
        """Append ``events`` atomically (under ``condition``): their positions, in order.
        Raises ``AppendConditionFailed`` when the condition fails (nothing stored)."""
        listed: Sequence[Event] = _calls.prepare_events(events, idempotent=False)
        for interceptor in self.interceptors:
            listed = interceptor.before_append(listed, condition)
        listed = [resolve(self.tag_resolver, event) for event in listed]
        if idempotent:
            listed = [event.with_id() for event in listed]
        result = self._send(_calls.append(listed, condition, headers=headers))
        for interceptor in reversed(self.interceptors):
            interceptor.after_append(listed, result)
        return result

    def read(
        self,
        query: Query | None = None,
        *,
        after: int = 0,
        before: int | None = None,
        limit: int | None = None,
        backwards: bool = False,
        snapshot: SnapshotRef | tuple[str, str] | None = None,
    ) -> ReadResult:
        """One page of the events matching ``query`` (every event when None)."""
        return self._send(
            _calls.read(
                query,
                after=after,
                before=before,
                limit=limit,
                backwards=backwards,
                snapshot=_calls.snapshot_ref(snapshot),
            )
        )

    def source(
        self,
        query: Query | None = None,
        *,
        after: int = 0,
        before: int | None = None,
        snapshot: SnapshotRef | tuple[str, str] | None = None,
        page_size: int | None = None,
    ) -> ReadResult:
        """Every event matching ``query``, page after page, with the marker of the whole read
        (the one to append a decision against). With ``snapshot``, from that snapshot."""
        query = query if query is not None else Query.all()
        for interceptor in self.interceptors:
            query = interceptor.before_source(query)
        first = self._send(
            _calls.read(
                query,
                after=after,
                before=before,
                limit=page_size,
                snapshot=_calls.snapshot_ref(snapshot),
            )
        )
        pages: list[ReadResult] = []
        page = first
        while page.has_more:
            page = self._send(_calls.read(query, after=page.marker, before=before, limit=page_size))
            pages.append(page)
        result = merged_source(first, pages)
        for interceptor in reversed(self.interceptors):
            result = interceptor.after_source(query, result)
        return result

    def head(self) -> int:
        """The position of the last event (0 when the store is empty)."""
        return self._send(_calls.head())

    def ready(self) -> bool:
        """Whether the service and its database answer."""
        return self._send(_calls.ready())

    def subscribe(
        self,
        query: Query | None = None,
        *,
        after: int | None = None,
        live: bool = True,
        heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT,
        reconnect: Retries = Retries(attempts=0, backoff=0.1, max_backoff=5.0),  # noqa: B008
    ) -> Subscription:
        """The events matching ``query`` after position ``after`` (default: the head now), in
        order, each once, live unless ``live=False``; see ``Subscription``. It sends through
        the store's client: close it before the store."""
        start = self.head() if after is None else after
        return Subscription(
            self._client,
            query,
            start,
            headers=self._stream_headers,
            live=live,
            heartbeat_timeout=heartbeat_timeout,
            reconnect=reconnect,
        )

    def decide(
        self,
        query: Query,
        fold: Callable[[Sequence[SequencedEvent]], S],
        decision: Callable[[S], Sequence[Event]],
        *,
        attempts: int = 5,
    ) -> Decision[S]:
        """``eventstore_client.decide(self, ...)``: source, fold, decide, append; again on
        conflict."""
        from eventstore_client.decision import decide

        return decide(self, query, fold, decision, attempts=attempts)

    # -- snapshots -----------------------------------------------------------------------------

    def put_snapshot(
        self,
        name: str,
        key: str,
        position: int,
        state: Any,
        metadata: Mapping[str, Any] | None = None,
    ) -> Snapshot:
        """Store the state ``name`` of ``key`` folded up to ``position``: the snapshot now
        stored (the stored one, when it is newer)."""
        return self._send(_calls.put_snapshot(name, key, position, state, metadata))

    def get_snapshot(self, name: str, key: str) -> Snapshot | None:
        return self._send(_calls.get_snapshot(name, key))

    def delete_snapshot(self, name: str, key: str) -> None:
        self._send(_calls.delete_snapshot(name, key))

    # -- access, discovery, schemas ------------------------------------------------------------

    def stream_ticket(self) -> StreamTicket:
        """A short-lived read-only ticket for a browser's EventSource."""
        return self._send(_calls.stream_ticket())

    def event_types(self) -> list[EventTypeInfo]:
        return self._send(_calls.event_types())

    def tags(
        self,
        *,
        prefix: str | None = None,
        type: str | None = None,  # noqa: A002 - the API's name
        after: str | None = None,
        limit: int | None = None,
    ) -> TagsPage:
        return self._send(_calls.tags(prefix=prefix, event_type=type, after=after, limit=limit))

    def stats(self) -> Stats:
        return self._send(_calls.stats())

    def put_schema(self, type: str, schema: Any, *, check_stored: bool = True) -> EventSchema:  # noqa: A002
        return self._send(_calls.put_schema(type, schema, check_stored=check_stored))

    def get_schema(self, type: str) -> EventSchema | None:  # noqa: A002
        return self._send(_calls.get_schema(type))

    def delete_schema(self, type: str) -> None:  # noqa: A002
        self._send(_calls.delete_schema(type))


class Subscription(Resumed):
    """An iterator of the events of a query from the service's stream, for as long as it is
    followed.

    It survives disconnects and restarts: when the connection fails, ends, or stays silent
    longer than ``heartbeat_timeout`` (the service sends a heartbeat when idle), it connects
    again with ``Last-Event-ID`` set to the last position it yielded, after a backoff with
    jitter that grows with consecutive failures (``reconnect``; ``attempts=0`` tries forever,
    otherwise it raises ``EventStoreUnavailable`` after that many consecutive failures). It
    never yields an event twice or out of order: it skips what it already passed. A problem
    answered before the stream starts (a bad query, no token) is raised as its typed error.

    ``close()`` (or leaving ``with``) closes the connection, from any thread."""

    def __init__(
        self,
        client: httpx.Client,
        query: Query | None,
        after: int,
        *,
        headers: Mapping[str, str],
        live: bool,
        heartbeat_timeout: float,
        reconnect: Retries,
    ) -> None:
        self._client = client
        self._resumption = Resumption(query, after, headers=headers, live=live, reconnect=reconnect)
        self._timeout = httpx.Timeout(client.timeout.connect or 10.0, read=heartbeat_timeout)
        self._closed = threading.Event()
        self._response: httpx.Response | None = None
        self._events = self._follow()

    def __iter__(self) -> Iterator[SequencedEvent]:
        return self

    def __next__(self) -> SequencedEvent:
        return next(self._events)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._closed.set()
        response = self._response
        if response is not None:
            with contextlib.suppress(Exception):  # from another thread: best effort
                response.close()
        with contextlib.suppress(ValueError):  # running in another thread: it sees _closed
            self._events.close()

    def _follow(self) -> Generator[SequencedEvent, None, None]:
        resumption = self._resumption
        while not self._closed.is_set():
            retry_after: float | None = None
            try:
                params, headers = resumption.request()
                with self._client.stream(
                    "GET", STREAM_PATH, params=params, headers=headers, timeout=self._timeout
                ) as response:
                    self._response = response
                    if response.status_code != 200:
                        response.read()
                        retry_after = resumption.refused(response)
                    else:
                        for message in EventSource(response).iter_sse():
                            event = resumption.accept(message.data)
                            if event is not None:
                                yield event
                        if not resumption.live:
                            return  # ended cleanly after what existed
            except httpx.TransportError as error:
                if self._closed.is_set():
                    return
                last_error: BaseException = error
            else:
                last_error = EventStoreUnavailable("the stream ended")
            finally:
                self._response = None
            if self._closed.wait(resumption.failed(last_error, retry_after)):
                return
