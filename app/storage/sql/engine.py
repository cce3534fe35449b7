"""`SqlEngine`: the storage engine over SQLite and PostgreSQL, one implementation for both.

The engine holds what is the same on both databases; a `TransactionRunner` (`runner.py`) the
dialect half. Each operation is one transaction function run by the runner:

- appends go through the group committer (`group_commit.py`), whose batches are decided by
  `decide_batch` (`batch.py`): engine -> queue -> batch -> runner;
- reads are `read_events` (`reads.py`), over the statements of `queries.py`;
- a runner may take over those two hot paths with its own driver (`HotPaths`): PostgreSQL reads
  in one statement and decides each batch in one server-side function call
  (`postgres_reads.py`, `postgres_append.py`), with the same answers;
- snapshots are the functions of `snapshots.py`; discovery (types, tags, figures) those of
  `discovery.py`, read from counts every append maintains; schemas those of
  `schema_registry.py`.

Positions are drawn as ``max(position) + 1`` under the writer lock (no sequence): an append's
events are consecutive and the log has no holes.

`wait_for_new`: commits made through this engine wake the waiters at once (`CommitSignal`); those
of other processes are seen by reading the head, when the runner's optional `CommitFeed` pokes
(PostgreSQL: LISTEN/NOTIFY, `postgres_notify.py`; SQLite: datagram sockets, `sqlite_wakeups.py`)
and anyway about once a second. A wake-up is a
hint, never data: readers re-read from their own position, so a lost or duplicated one costs
latency, never an event. Appends are announced to the feed after the commit, outside every
writer lock; announcing never blocks nor fails the append.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import nullcontext
from datetime import UTC, datetime
from functools import partial
from typing import Protocol, runtime_checkable

from app.config import Settings
from app.domain import (
    AppendCondition,
    AppendResult,
    EventInput,
    EventSchema,
    EventTypeInfo,
    Query,
    RawJson,
    ReadResult,
    Snapshot,
    SnapshotInput,
    StoreStats,
    TagPage,
)
from app.errors import StoredEventsViolateSchema
from app.storage.event_schemas import check_schema
from app.storage.idempotency import check_batch
from app.storage.protocol import BatchStats
from app.storage.signal import CommitSignal
from app.storage.sql import discovery, schema_registry, snapshots
from app.storage.sql.batch import AppendRequest, Outcome, decide_batch
from app.storage.sql.group_commit import GroupCommitter
from app.storage.sql.reads import read_events
from app.storage.sql.rows import head_of
from app.storage.sql.runner import TransactionRunner, WriterTurns

POLL_SECONDS = 1.0
"""How often a waiting reader looks for commits made by other processes."""


@runtime_checkable
class HotPaths(Protocol):
    """What a runner implements to serve reads and append batches on its own driver; each gives
    exactly the answers of `read_events` and `decide_batch` run by the runner."""

    async def read_events(
        self, query: Query, *, after: int, before: int | None, limit: int, backwards: bool
    ) -> ReadResult: ...

    async def decide_batch(self, batch: list[AppendRequest], now: datetime) -> list[Outcome]: ...


class SqlEngine:
    """`EventStorageEngine` over a `TransactionRunner`."""

    def __init__(self, runner: TransactionRunner, settings: Settings) -> None:
        self._runner = runner
        self._hot = runner if isinstance(runner, HotPaths) else None
        self._signal = CommitSignal()
        self._committer = GroupCommitter(
            self._hot.decide_batch if self._hot is not None else self._decide_batch,
            committed=self._committed_here,
            max_queued=settings.append_queue_size,
            max_batch_requests=settings.append_batch_max_requests,
            max_batch_events=settings.append_batch_max_events,
            turn=runner.writer_turn if isinstance(runner, WriterTurns) else nullcontext,
        )

    @property
    def batch_stats(self) -> BatchStats:
        return self._committer.stats

    async def start(self) -> None:
        await self._runner.start()
        self._committer.start()
        feed = self._runner.commit_feed
        if feed is not None:
            # Listening before the head is read: nothing committed in between goes unheard.
            await feed.start(self._committed_elsewhere)
        self._signal.notify(await self.head())

    async def close(self) -> None:
        await self._committer.close()
        feed = self._runner.commit_feed
        if feed is not None:
            await feed.close()
        await self._runner.close()

    def drain(self, deadline: float) -> None:
        # The group committer needs nothing more: a batch the runner abandons fails its
        # requests (503), and each later batch is refused at once by the runner.
        self._runner.drain(deadline)

    def _committed_here(self, position: int) -> None:
        # Committed, and every writer lock released: wake this process, then the others.
        self._signal.notify(position)
        feed = self._runner.commit_feed
        if feed is not None:
            feed.announce(position)

    def _committed_elsewhere(self, position: int | None) -> None:
        # The position is a hint (another store in another schema may use the same channel):
        # it may only spare a head read, when it says nothing new; never move the head.
        if position is None or position > self._signal.head:
            self._signal.poke()

    async def _decide_batch(self, batch: list[AppendRequest], now: datetime) -> list[Outcome]:
        return await self._runner.write(partial(decide_batch, batch=batch, now=now))

    async def ping(self) -> None:
        await self.head()

    async def head(self) -> int:
        return await self._runner.read(head_of)

    async def append(
        self, events: Sequence[EventInput], condition: AppendCondition | None = None
    ) -> AppendResult:
        check_batch(events)
        return await self._committer.append(events, condition)

    async def read(
        self,
        query: Query,
        *,
        after: int = 0,
        before: int | None = None,
        limit: int,
        backwards: bool = False,
    ) -> ReadResult:
        if self._hot is not None:
            return await self._hot.read_events(
                query, after=after, before=before, limit=limit, backwards=backwards
            )
        return await self._runner.read(
            partial(
                read_events,
                query=query,
                after=after,
                before=before,
                limit=limit,
                backwards=backwards,
            )
        )

    async def wait_for_new(self, after: int, timeout: float) -> int:
        signal = self._signal
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        next_poll = min(loop.time() + POLL_SECONDS, deadline)
        while signal.head <= after:
            if signal.stale or loop.time() >= next_poll:
                # Commits made by another process are only seen by asking the database.
                signal.stale = False
                try:
                    signal.notify(await self.head())
                except BaseException:
                    signal.stale = True  # still unanswered: the next wait looks at once
                    raise
                if signal.head > after or loop.time() >= deadline:
                    break
                next_poll = min(loop.time() + POLL_SECONDS, deadline)
            await signal.wait(after, max(0.0, next_poll - loop.time()))
        return signal.head

    async def put_snapshot(self, snapshot: SnapshotInput) -> Snapshot:
        now = datetime.now(UTC)
        return await self._runner.write(partial(snapshots.put_snapshot, snapshot=snapshot, now=now))

    async def get_snapshot(self, name: str, key: str) -> Snapshot | None:
        return await self._runner.read(partial(snapshots.get_snapshot, name=name, key=key))

    async def delete_snapshot(self, name: str, key: str) -> None:
        await self._runner.write(partial(snapshots.delete_snapshot, name=name, key=key))

    async def event_types(self) -> list[EventTypeInfo]:
        return await self._runner.read(discovery.read_event_types)

    async def tags(
        self,
        *,
        prefix: str = "",
        event_type: str | None = None,
        after: str | None = None,
        limit: int,
    ) -> TagPage:
        return await self._runner.read(
            partial(
                discovery.read_tags, prefix=prefix, event_type=event_type, after=after, limit=limit
            )
        )

    async def stats(self) -> StoreStats:
        return await self._runner.read(discovery.read_stats)

    async def get_schema(self, event_type: str) -> EventSchema | None:
        return await self._runner.read(partial(schema_registry.get_schema, event_type=event_type))

    async def put_schema(
        self, event_type: str, schema: RawJson, *, check_stored: bool = True
    ) -> EventSchema:
        check_schema(schema)
        checked_to = await self._check_stored(event_type, schema) if check_stored else None
        now = datetime.now(UTC)
        return await self._runner.write(
            partial(
                schema_registry.register,
                event_type=event_type,
                schema=schema,
                now=now,
                checked_to=checked_to,
            )
        )

    async def _check_stored(self, event_type: str, schema: RawJson) -> int:
        """Check the stored events of ``event_type`` up to the head, outside the writer lock, a
        page a read; raise StoredEventsViolateSchema, or return the head checked."""
        upper = await self.head()
        checked = 0
        while checked < upper:
            found, checked = await self._runner.read(
                partial(
                    schema_registry.stored_violations,
                    event_type=event_type,
                    schema=schema,
                    after=checked,
                    upper=upper,
                )
            )
            if found:
                raise StoredEventsViolateSchema(found)
        return upper

    async def delete_schema(self, event_type: str) -> None:
        await self._runner.write(partial(schema_registry.unregister, event_type=event_type))


def build_sql_engine(settings: Settings) -> SqlEngine:
    """The SQL engine for ``settings.database_url`` (objects only; no connection yet)."""
    url = settings.database_url
    if url.startswith("sqlite"):
        from app.storage.sql.sqlite import SqliteRunner

        return SqlEngine(SqliteRunner(settings), settings)
    if url.startswith("postgresql"):
        from app.storage.sql.postgres import PostgresRunner

        return SqlEngine(PostgresRunner(settings), settings)
    raise ValueError(
        f"unsupported EVENTSTORE_DATABASE_URL {url!r}: use sqlite:///path.db, "
        "postgresql+asyncpg://user@host/db or memory://"
    )
