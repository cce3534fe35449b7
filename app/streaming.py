"""Live subscriptions: one tail reader per process, fanning committed events out to subscribers.

Deliberate choices:

- **One reader, many subscribers.** A single `TailReader` task follows the store: it waits for new
  commits (`EventStorageEngine.wait_for_new`, woken in-process by appends, across processes by
  LISTEN/NOTIFY on PostgreSQL and by polling), reads each batch of new events once, encodes each
  event once, and offers the batch to every subscriber, which filters it in memory. No database
  connection is held per subscriber and no query is made per subscriber per event.
- **Catch-up without a gap or a duplicate.** A subscriber starting behind the tail registers with
  the tail first (from then on it is offered every batch past the tail's position at that moment,
  ``joined_at``), then reads the history ``(after, joined_at]`` from the store in short batches,
  then delivers the live batches it was offered, skipping what it already delivered. Registering
  and reading the tail's position happen without a suspension point in between, so no event
  falls between history and live.
- **Bounded buffers.** Each subscriber buffers at most ``max_buffered`` live events. One that
  falls further behind (a slow consumer, or a long catch-up during a burst) drops its buffer,
  leaves the live feed and catches up from the store again, which costs reads but no memory.
  A consumer that stops reading altogether is cut off by the response's send timeout (see the
  stream route); it resumes with ``Last-Event-ID``.
- **One write per batch.** A stream sends each history batch, and everything buffered when it
  wakes, as one write: sending message by message cost more than the rest of the path together
  (a bare sse-starlette endpoint topped out near 40k messages/s that way; batched, 140k/s).
- **Ending at shutdown.** `TailReader.end_streams` (told by the server, `app.main.ShutdownNotice`)
  ends every subscription after what it has delivered, and history reads at their next batch, so
  that each stream's response ends complete and its client resumes with ``Last-Event-ID``.
- **Order and exactly-once** follow from positions: the store commits in position order (the
  one-writer rule, docs/design.md), the tail reads ``position > last`` and every subscriber
  delivers only positions above the last one it delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from app.domain import MATCH_ALL, Event, Query, matches
from app.errors import StorageUnavailable
from app.storage.protocol import EventStorageEngine

logger = logging.getLogger(__name__)

WAIT_SECONDS = 1.0
"""How long the tail waits for a wake-up before it looks at the store anyway."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event as a stream sends it, encoded once: ``id: <position>`` and ``data: <JSON>``,
    with no ``event:`` field, so that ``EventSource.onmessage`` receives it. `named` is the same
    message with ``event: <type>`` too, for streams that ask for it (``addEventListener``)."""

    position: int
    event_type: str
    message: bytes

    @classmethod
    def of(cls, event: Event, encode: Encoder) -> Delivery:
        message = f"id: {event.position}\ndata: {encode(event)}\n\n".encode()
        return cls(event.position, event.type, message)

    @property
    def named(self) -> bytes:
        """The message with its event type as its SSE event name. A type holding a line break
        cannot be a field of the format: such an event is sent unnamed (a ``message``)."""
        if "\n" in self.event_type or "\r" in self.event_type:
            return self.message
        id_line = self.message.index(b"\n") + 1
        name = f"event: {self.event_type}\n".encode()
        return self.message[:id_line] + name + self.message[id_line:]


Encoder = Callable[[Event], str]
"""An event as one line of JSON."""


class Subscription:
    """The events matching ``query`` after ``after``: history from the store, then live."""

    def __init__(
        self,
        tail: TailReader,
        query: Query,
        after: int,
        *,
        batch_size: int,
        max_buffered: int,
    ) -> None:
        self._tail = tail
        self._query = query
        self.delivered = after
        self._batch_size = batch_size
        self._max_buffered = max_buffered
        self._buffer: deque[Delivery] = deque()
        self._buffered_through = 0  # the tail position up to which the buffer is complete
        self._lagging = False
        self._wake = asyncio.Event()

    def offer(self, events: list[tuple[Event, Delivery]], through: int) -> None:
        """Called by the tail with each new batch; ``through`` is the tail's new position."""
        if self._lagging:
            return
        for event, delivery in events:
            if matches(self._query, event.type, event.tags):
                self._buffer.append(delivery)
        self._buffered_through = through
        if len(self._buffer) > self._max_buffered:
            # Too far behind to buffer: leave the feed, catch up from the store again.
            self._lagging = True
            self._buffer.clear()
            self._tail.leave(self)
        self._wake.set()

    def end(self) -> None:
        """Called by the tail when it stops: the subscription ends after what it delivered."""
        self._lagging = True
        self._buffer.clear()
        self._wake.set()

    async def batches(self) -> AsyncIterator[list[Delivery]]:
        """Every matching event after ``after``, in position order, each once, in batches (a
        history read, or all that was buffered): a stream sends each batch in one write.
        Endless until the tail stops or ends its streams."""
        while self._tail.serving:
            joined_at = self._tail.join(self)
            self._lagging = False
            self._buffered_through = joined_at
            async for batch in self._tail.history(
                self._query, after=self.delivered, through=joined_at, batch=self._batch_size
            ):
                self.delivered = batch[-1].position
                yield batch
            self.delivered = max(self.delivered, joined_at)
            while not self._lagging:
                if self._buffer:
                    fresh = [d for d in self._buffer if d.position > self.delivered]
                    self._buffer.clear()
                    if fresh:
                        self.delivered = fresh[-1].position
                        yield fresh
                    continue
                # Everything offered up to the tail's position has been delivered.
                self.delivered = max(self.delivered, self._buffered_through)
                self._wake.clear()
                await self._wake.wait()

    def close(self) -> None:
        self._tail.leave(self)


class TailReader:
    """Follows the store from its head and fans each new batch out to the subscriptions."""

    def __init__(
        self,
        engine: EventStorageEngine,
        encode: Encoder,
        *,
        batch_size: int = 500,
        max_buffered: int = 10_000,
    ) -> None:
        self._engine = engine
        self._encode = encode
        self._batch_size = batch_size
        self._max_buffered = max_buffered
        self._subscribers: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self.position = 0
        self.running = False
        self.streams_ending = False

    @property
    def serving(self) -> bool:
        """Whether subscriptions go on (neither stopped nor ending its streams)."""
        return self.running and not self.streams_ending

    def end_streams(self) -> None:
        """The service is shutting down: every subscription ends after what it has delivered,
        history reads stop at their next batch, and subscriptions made from now on end at
        once. The tail itself goes on until `close`."""
        self.streams_ending = True
        for subscriber in list(self._subscribers):
            subscriber.end()
        self._subscribers.clear()

    async def start(self) -> None:
        self.position = await self._engine.head()
        self.running = True
        self._task = asyncio.create_task(self._follow(), name="tail-reader")

    async def close(self) -> None:
        self.running = False
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for subscriber in list(self._subscribers):
            subscriber.end()
        self._subscribers.clear()

    def subscribe(self, query: Query, after: int) -> Subscription:
        return Subscription(
            self, query, after, batch_size=self._batch_size, max_buffered=self._max_buffered
        )

    def join(self, subscriber: Subscription) -> int:
        """Add ``subscriber`` to the live feed; it is offered every batch past the returned
        position. No suspension point: nothing can be dispatched in between."""
        self._subscribers.add(subscriber)
        return self.position

    def leave(self, subscriber: Subscription) -> None:
        self._subscribers.discard(subscriber)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    async def history(
        self, query: Query, *, after: int, through: int, batch: int
    ) -> AsyncIterator[list[Delivery]]:
        """Stored events matching ``query`` in ``(after, through]``, read and yielded ``batch``
        at a time."""
        while after < through and not self.streams_ending:
            result = await self._engine.read(query, after=after, before=through + 1, limit=batch)
            if result.events:
                yield [Delivery.of(event, self._encode) for event in result.events]
            if not result.has_more:
                return
            after = result.marker

    async def _follow(self) -> None:
        while True:
            try:
                head = await self._engine.wait_for_new(self.position, WAIT_SECONDS)
                if not self._subscribers:
                    # Nobody to offer events to: a subscriber joining later reads them as
                    # history.
                    self.position = max(self.position, head)
                    continue
                while self.position < head:
                    await self._dispatch_next()
            except StorageUnavailable as error:
                logger.warning("tail reader: %s; retrying", error)
                await asyncio.sleep(WAIT_SECONDS)
            except Exception:
                # Every stream of the process hangs on this task: it must outlive any bug.
                logger.exception("tail reader failed; retrying")
                await asyncio.sleep(WAIT_SECONDS)

    async def _dispatch_next(self) -> None:
        result = await self._engine.read(MATCH_ALL, after=self.position, limit=self._batch_size)
        if not result.events:
            self.position = max(self.position, result.marker)
            return
        batch = [(event, Delivery.of(event, self._encode)) for event in result.events]
        through = batch[-1][1].position
        self.position = through
        for subscriber in list(self._subscribers):
            subscriber.offer(batch, through)
