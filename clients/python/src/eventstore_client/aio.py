"""``AsyncEventStore``: the asynchronous client of the service, over one ``httpx.AsyncClient``.

The same store as ``EventStore``, method for method and with the same choices (idempotent
appends with bounded retries, ``source`` following ``marker``, ``subscribe`` resuming with
``Last-Event-ID``); requests and answers come from the same ``_calls``, only the sending
differs. Interceptors and tag resolvers are the same plain functions as for the sync store.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
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
from eventstore_client.store import DEFAULT_HEARTBEAT_TIMEOUT, merged_source
from eventstore_client.tags import TagResolver, resolve

if TYPE_CHECKING:
    from eventstore_client.decision import Decision

__all__ = ["AsyncEventStore", "AsyncSubscription"]

T = TypeVar("T")
S = TypeVar("S")


class AsyncEventStore:
    """The event store at ``base_url``, with ``await``; the arguments are ``EventStore``'s
    (``client``: an ``httpx.AsyncClient``)."""

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
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(base_url=base_url, timeout=timeout)
        self._headers = _calls.client_headers(token, headers)
        self._stream_headers = {**self._headers, "Accept": "text/event-stream"}
        self.retries = retries
        self.interceptors = tuple(interceptors)
        self.tag_resolver = tag_resolver

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> AsyncEventStore:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _send(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            retry_after: float | None = None
            try:
                response = await self._client.request(
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
            await asyncio.sleep(self.retries.delay(attempt, retry_after))
            attempt += 1

    async def append(
        self,
        events: Event | Sequence[Event],
        condition: AppendCondition | None = None,
        *,
        idempotent: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> AppendResult:
        """See ``EventStore.append``."""
        listed: Sequence[Event] = _calls.prepare_events(events, idempotent=False)
        for interceptor in self.interceptors:
            listed = interceptor.before_append(listed, condition)
        listed = [resolve(self.tag_resolver, event) for event in listed]
        if idempotent:
            listed = [event.with_id() for event in listed]
        result = await self._send(_calls.append(listed, condition, headers=headers))
        for interceptor in reversed(self.interceptors):
            interceptor.after_append(listed, result)
        return result

    async def read(
        self,
        query: Query | None = None,
        *,
        after: int = 0,
        before: int | None = None,
        limit: int | None = None,
        backwards: bool = False,
        snapshot: SnapshotRef | tuple[str, str] | None = None,
    ) -> ReadResult:
        """See ``EventStore.read``."""
        return await self._send(
            _calls.read(
                query,
                after=after,
                before=before,
                limit=limit,
                backwards=backwards,
                snapshot=_calls.snapshot_ref(snapshot),
            )
        )

    async def source(
        self,
        query: Query | None = None,
        *,
        after: int = 0,
        before: int | None = None,
        snapshot: SnapshotRef | tuple[str, str] | None = None,
        page_size: int | None = None,
    ) -> ReadResult:
        """See ``EventStore.source``."""
        query = query if query is not None else Query.all()
        for interceptor in self.interceptors:
            query = interceptor.before_source(query)
        first = await self._send(
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
            page = await self._send(
                _calls.read(query, after=page.marker, before=before, limit=page_size)
            )
            pages.append(page)
        result = merged_source(first, pages)
        for interceptor in reversed(self.interceptors):
            result = interceptor.after_source(query, result)
        return result

    async def head(self) -> int:
        return await self._send(_calls.head())

    async def ready(self) -> bool:
        return await self._send(_calls.ready())

    async def subscribe(
        self,
        query: Query | None = None,
        *,
        after: int | None = None,
        live: bool = True,
        heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT,
        reconnect: Retries = Retries(attempts=0, backoff=0.1, max_backoff=5.0),  # noqa: B008
    ) -> AsyncSubscription:
        """See ``EventStore.subscribe``: ``async for event in await store.subscribe(...)``."""
        start = await self.head() if after is None else after
        return AsyncSubscription(
            self._client,
            query,
            start,
            headers=self._stream_headers,
            live=live,
            heartbeat_timeout=heartbeat_timeout,
            reconnect=reconnect,
        )

    async def decide(
        self,
        query: Query,
        fold: Callable[[Sequence[SequencedEvent]], S],
        decision: Callable[[S], Sequence[Event]],
        *,
        attempts: int = 5,
    ) -> Decision[S]:
        """``eventstore_client.decide_async(self, ...)``."""
        from eventstore_client.decision import decide_async

        return await decide_async(self, query, fold, decision, attempts=attempts)

    async def put_snapshot(
        self,
        name: str,
        key: str,
        position: int,
        state: Any,
        metadata: Mapping[str, Any] | None = None,
    ) -> Snapshot:
        return await self._send(_calls.put_snapshot(name, key, position, state, metadata))

    async def get_snapshot(self, name: str, key: str) -> Snapshot | None:
        return await self._send(_calls.get_snapshot(name, key))

    async def delete_snapshot(self, name: str, key: str) -> None:
        await self._send(_calls.delete_snapshot(name, key))

    async def stream_ticket(self) -> StreamTicket:
        return await self._send(_calls.stream_ticket())

    async def event_types(self) -> list[EventTypeInfo]:
        return await self._send(_calls.event_types())

    async def tags(
        self,
        *,
        prefix: str | None = None,
        type: str | None = None,  # noqa: A002 - the API's name
        after: str | None = None,
        limit: int | None = None,
    ) -> TagsPage:
        call = _calls.tags(prefix=prefix, event_type=type, after=after, limit=limit)
        return await self._send(call)

    async def stats(self) -> Stats:
        return await self._send(_calls.stats())

    async def put_schema(
        self,
        type: str,  # noqa: A002
        schema: Any,
        *,
        check_stored: bool = True,
    ) -> EventSchema:
        return await self._send(_calls.put_schema(type, schema, check_stored=check_stored))

    async def get_schema(self, type: str) -> EventSchema | None:  # noqa: A002
        return await self._send(_calls.get_schema(type))

    async def delete_schema(self, type: str) -> None:  # noqa: A002
        await self._send(_calls.delete_schema(type))


class AsyncSubscription(Resumed):
    """``Subscription``, for ``async for``: the same resumption, heartbeat watch and
    exactly-once order. ``await aclose()`` (or leaving ``async with``) closes the connection."""

    def __init__(
        self,
        client: httpx.AsyncClient,
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
        self._closed = asyncio.Event()
        self._response: httpx.Response | None = None
        self._events = self._follow()

    def __aiter__(self) -> AsyncIterator[SequencedEvent]:
        return self

    async def __anext__(self) -> SequencedEvent:
        return await self._events.__anext__()

    async def __aenter__(self) -> AsyncSubscription:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._closed.set()
        response = self._response
        if response is not None:
            await response.aclose()
        with contextlib.suppress(RuntimeError):  # awaited by another task: it sees _closed
            await self._events.aclose()

    async def _follow(self) -> AsyncGenerator[SequencedEvent, None]:
        resumption = self._resumption
        while not self._closed.is_set():
            retry_after: float | None = None
            try:
                params, headers = resumption.request()
                async with self._client.stream(
                    "GET", STREAM_PATH, params=params, headers=headers, timeout=self._timeout
                ) as response:
                    self._response = response
                    if response.status_code != 200:
                        await response.aread()
                        retry_after = resumption.refused(response)
                    else:
                        async for message in EventSource(response).aiter_sse():
                            event = resumption.accept(message.data)
                            if event is not None:
                                yield event
                        if not resumption.live:
                            return
            except httpx.TransportError as error:
                if self._closed.is_set():
                    return
                last_error: BaseException = error
            else:
                last_error = EventStoreUnavailable("the stream ended")
            finally:
                self._response = None
            delay = resumption.failed(last_error, retry_after)
            try:
                await asyncio.wait_for(self._closed.wait(), delay)
            except TimeoutError:
                continue
            return
