"""Group commit: one writer task turns the appends waiting at a moment into one transaction.

The write path is straight: `SqlEngine.append` queues the request here; the writer task takes
what is queued as a batch, has it decided and stored at once (``decide``: `decide_batch`,
`batch.py`, in one write transaction of the runner; on PostgreSQL one call of a server-side
function, `postgres_append.py`), answers every request from its outcome, and tells the
engine the last position it committed. Why group commit, and what every answer means:
docs/design.md, "Group commit".

- No timer: a batch is whatever queued while the previous one was being committed, or while
  another process held the store's writer lock: where the runner has writer turns
  (`runner.WriterTurns`, SQLite's lock file), the batch is taken once the turn is had. A turn
  that cannot be had (its timeout, the drain) fails the batch as a failed transaction would.
- A request's own refusal (a failed condition, a reused id) is its outcome and never fails its
  batch-mates. Should the database refuse the batch's rows (`WriteRefused`, or a unique
  violation of an event id, `EventIdReused`: neither can happen while the service is the only
  writer), the transaction is rolled back and the members are decided again, one transaction
  each, so that only the append the database refuses is refused. Any other failure of the
  transaction (the database is gone) fails every request of the batch.
- Back-pressure: at most ``max_queued`` requests wait or are in flight. Beyond that a request
  waits for room before it is queued, so memory stays bounded however fast clients send.
- A request, once queued, is decided even if its client goes away: cancelling the caller never
  cancels a write that may already be committing.
- At shutdown the runner abandons the batch in flight unless it is committing, then refuses
  every later batch at once (`runner.py`, `drain`): every request still queued is answered
  StorageUnavailable within the deadline, and none of them is stored.
- ``close`` commits what is queued, then stops; appends arriving after it are refused with
  StorageUnavailable.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime

from app.domain import AppendCondition, AppendResult, EventInput
from app.errors import EventIdReused, StorageUnavailable, WriteRefused
from app.storage.protocol import BatchStats
from app.storage.sql.batch import AppendRequest, Outcome

logger = logging.getLogger(__name__)

DecideBatch = Callable[[list[AppendRequest], datetime], Awaitable[list[Outcome]]]
"""Decides and stores a batch at once: one outcome per request, in order; raises a domain
error when the whole batch failed (`runner.py`)."""

Turn = Callable[[], AbstractAsyncContextManager[object]]
"""The writer's turn a batch is taken in (`runner.WriterTurns.writer_turn`)."""


@dataclass(slots=True)
class _Waiting:
    request: AppendRequest
    outcome: asyncio.Future[AppendResult]


class GroupCommitter:
    def __init__(
        self,
        decide: DecideBatch,
        *,
        committed: Callable[[int], None],
        max_queued: int,
        max_batch_requests: int,
        max_batch_events: int,
        turn: Turn = nullcontext,
    ) -> None:
        """``committed(position)`` is called after each commit that stored events, with the
        last position it stored, once every writer lock is released."""
        self._decide_batch = decide
        self._turn = turn
        self._committed = committed
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
                await self._commit_next()
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

    async def _commit_next(self) -> None:
        """Take the writer's turn, then the batch; answer it once the turn is released."""
        batch: list[_Waiting] | None = None
        outcomes: list[Outcome] | None = None
        try:
            async with self._turn():
                batch = self._take_batch()
                outcomes = await self._decide([waiting.request for waiting in batch])
        except Exception as error:  # from the turn (`_decide` raises nothing)
            if outcomes is not None:  # decided: they stand, whatever the turn's end raised
                logger.warning("the writer's turn ended with an error: %r", error)
            else:  # the turn was not had: the batch fails as a failed transaction would
                batch = batch if batch is not None else self._take_batch()
                outcomes = [error] * len(batch)
        assert batch is not None
        self._count(batch)
        stored = [
            outcome.last_position
            for outcome in outcomes
            if isinstance(outcome, AppendResult) and not outcome.replayed
        ]
        if stored:
            self._committed(max(stored))
        for waiting, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, Exception):
                waiting.outcome.set_exception(outcome)
            else:
                waiting.outcome.set_result(outcome)
            self._room.release()

    async def _decide(self, requests: list[AppendRequest]) -> list[Outcome]:
        """The outcomes of ``requests``, decided and stored in one transaction; or, when the
        database refuses that transaction's rows, in one transaction each."""
        try:
            return await self._decide_batch(requests, datetime.now(UTC))
        except (WriteRefused, EventIdReused) as refused:
            if len(requests) == 1:
                return [refused]
            return [outcome for request in requests for outcome in await self._decide([request])]
        except Exception as error:  # the transaction failed: every request of it did
            return [error] * len(requests)

    def _count(self, batch: list[_Waiting]) -> None:
        stats = self.stats
        stats.batches += 1
        stats.requests += len(batch)
        stats.largest = max(stats.largest, len(batch))
