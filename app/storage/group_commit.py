"""Group commit: one writer task turns the appends waiting at a moment into one transaction.

A durable commit costs the same for one append as for a hundred (on SQLite with
``synchronous=FULL`` it is an fsync of the write-ahead log; on PostgreSQL a WAL flush and a
round trip). So appends are not committed one by one: each request joins a queue, and one writer
task per store takes everything queued (up to a batch limit), hands it to ``commit`` as one
batch, and answers every request from that batch's outcome.

- No timer: a batch is whatever queued while the previous one was being committed. A lone
  append is committed at once; under load batches grow by themselves, which is what keeps the
  commit rate up.
- One batch is one transaction in which the requests are decided in queue order, each seeing the
  ones before it (the storage layer's batch body does this); so every answer is the one a serial
  execution in that order would give. ``commit`` returns one outcome per request: a result, or
  the error that request alone gets (a failed condition, a reused id). A request's failure never
  fails its batch-mates; only a failure of the transaction itself fails them all.
- Back-pressure: at most ``max_queued`` requests wait or are in flight. Beyond that a request
  waits for room before it is queued, so memory stays bounded however fast clients send.
- A request, once queued, is decided even if its client goes away: cancelling the caller never
  cancels a write that may already be committing.
- ``close`` commits what is queued, then stops; appends arriving after it are refused with
  StorageUnavailable.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from app.domain import AppendCondition, AppendResult, EventInput
from app.errors import StorageUnavailable


@dataclass(frozen=True, slots=True)
class AppendRequest:
    events: Sequence[EventInput]
    condition: AppendCondition | None


Outcome = AppendResult | Exception
"""What one request of a batch gets: its result, or the error raised to its caller."""

CommitBatch = Callable[[Sequence[AppendRequest]], Awaitable[Sequence[Outcome]]]


@dataclass(slots=True)
class _Waiting:
    request: AppendRequest
    outcome: asyncio.Future[AppendResult]


@dataclass(slots=True)
class BatchStats:
    """Counters for /metrics: batches committed, the appends decided in them, the largest."""

    batches: int = 0
    requests: int = 0
    largest: int = 0


class GroupCommitter:
    def __init__(
        self,
        commit: CommitBatch,
        *,
        max_queued: int,
        max_batch_requests: int,
        max_batch_events: int,
    ) -> None:
        self._commit = commit
        self._max_batch_requests = max_batch_requests
        self._max_batch_events = max_batch_events
        self._queue: deque[_Waiting] = deque()
        self._room = asyncio.Semaphore(max_queued)
        self._arrived = asyncio.Event()
        self._closing = False
        self._writer: asyncio.Task[None] | None = None
        self.stats = BatchStats()

    def start(self) -> None:
        self._closing = False
        self._writer = asyncio.create_task(self._write(), name="group-commit-writer")

    async def close(self) -> None:
        self._closing = True
        self._arrived.set()
        if self._writer is not None:
            await self._writer
            self._writer = None

    async def append(
        self, events: Sequence[EventInput], condition: AppendCondition | None
    ) -> AppendResult:
        await self._room.acquire()
        if self._closing or self._writer is None:
            self._room.release()
            raise StorageUnavailable("the store is not accepting appends (shutting down)")
        waiting = _Waiting(
            AppendRequest(events, condition), asyncio.get_running_loop().create_future()
        )
        self._queue.append(waiting)
        self._arrived.set()
        # Shielded: a caller that is cancelled leaves its request to be decided all the same.
        return await asyncio.shield(waiting.outcome)

    async def _write(self) -> None:
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            while self._queue:
                await self._commit_batch(self._take_batch())
            if self._closing:
                return

    def _take_batch(self) -> list[_Waiting]:
        batch = [self._queue.popleft()]
        events = len(batch[0].request.events)
        while self._queue and len(batch) < self._max_batch_requests:
            following = len(self._queue[0].request.events)
            if events + following > self._max_batch_events:
                break
            batch.append(self._queue.popleft())
            events += following
        return batch

    async def _commit_batch(self, batch: list[_Waiting]) -> None:
        outcomes: Sequence[Outcome]
        try:
            outcomes = await self._commit([waiting.request for waiting in batch])
        except Exception as error:  # the transaction failed: every request of it did
            outcomes = [error] * len(batch)
        self._count(batch)
        for waiting, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, Exception):
                waiting.outcome.set_exception(outcome)
            else:
                waiting.outcome.set_result(outcome)
            self._room.release()

    def _count(self, batch: list[_Waiting]) -> None:
        stats = self.stats
        stats.batches += 1
        stats.requests += len(batch)
        stats.largest = max(stats.largest, len(batch))
