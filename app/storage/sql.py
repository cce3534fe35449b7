"""The SQL storage engine, shared by SQLite and PostgreSQL.

Every operation is one transaction written as a plain synchronous function of a SQLAlchemy Core
`Connection`. A `TransactionRunner` (app/storage/sqlite.py, app/storage/postgres.py) decides how
that function runs: on SQLite in a database thread, the whole transaction in one thread hop; on
PostgreSQL through `AsyncConnection.run_sync` over asyncpg. The runner also holds the one-writer
rule: every write transaction takes the store's writer lock before it draws positions, so commit
order equals position order, and the append condition is checked against everything committed.

Positions are drawn as ``max(position) + 1`` under that lock (no sequence): an append's events are
consecutive and the log has no holes.

Appends are group-committed (app/storage/group_commit.py): the appends queued at a moment form
one write transaction (app/storage/append_batch.py) that decides them in queue order, each
seeing the ones before it, so every answer is the serial one. One commit makes the batch
durable; then all its callers are answered.

Reads take the head first and bound the events by it. Under the writer lock every position up to
an observed head is already committed, so the marker of a read never runs ahead of what it saw,
on PostgreSQL's READ COMMITTED as on SQLite's snapshot reads.

Queries are answered from indexes, with statements cached per query shape (app/storage/matching.py).

`wait_for_new`: commits made through this engine wake the waiters at once (`CommitSignal`); those
of other processes are seen by reading the head, when the runner's optional `CommitFeed` pokes
(PostgreSQL: LISTEN/NOTIFY, app/storage/postgres_notify.py) and anyway about once a second. A
wake-up is a hint, never data: readers re-read from their own position, so a lost or duplicated
one costs latency, never an event. Appends are announced to the feed after the commit, outside
every writer lock; announcing never blocks nor fails the append.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.engine import Row

from app.config import Settings
from app.domain import (
    AppendCondition,
    AppendResult,
    EventInput,
    Query,
    ReadResult,
    Snapshot,
    SnapshotInput,
    read_marker,
)
from app.errors import PositionBeyondHead
from app.storage.append_batch import InsertFailed, MemberFailed, append_batch
from app.storage.group_commit import AppendRequest, BatchStats, GroupCommitter, Outcome
from app.storage.idempotency import check_batch
from app.storage.matching import matching_events
from app.storage.raw import raw
from app.storage.rows import event_from_row, head_of, utc
from app.storage.signal import CommitSignal
from app.storage.tables import snapshots

T = TypeVar("T")

POLL_SECONDS = 1.0
"""How often a waiting reader looks for commits made by other processes."""


class CommitFeed(Protocol):
    """Wake-ups for commits made by other processes on the same database; optional."""

    async def start(self, wake: Callable[[int | None], None]) -> None:
        """Begin listening. ``wake(position)`` says that another process committed up to
        ``position``; ``wake(None)`` that commits may have been missed (after a reconnect)."""

    def announce(self, position: int) -> None:
        """Tell the other processes that ``position`` is committed. Returns at once; the
        announcement is sent later, or dropped when the database cannot be reached."""

    async def close(self) -> None: ...


class TransactionRunner(Protocol):
    """Runs one transaction function; the dialect-specific half of the SQL engine."""

    @property
    def commit_feed(self) -> CommitFeed | None:
        """Cross-process wake-ups, or None where commits by this process are all there is to
        wait for in practice (SQLite: one process per file; the poll covers the rest)."""

    async def start(self) -> None:
        """Connect and migrate the schema."""

    async def close(self) -> None: ...

    async def write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a write transaction holding the store's writer lock; commit."""

    async def read(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a read-only transaction."""


class SqlEngine:
    """`EventStorageEngine` over a `TransactionRunner`."""

    def __init__(self, runner: TransactionRunner, settings: Settings | None = None) -> None:
        settings = settings or Settings()
        self._runner = runner
        self._signal = CommitSignal()
        self._committer = GroupCommitter(
            self._commit_batch,
            max_queued=settings.append_queue_size,
            max_batch_requests=settings.append_batch_max_requests,
            max_batch_events=settings.append_batch_max_events,
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

    def _committed_elsewhere(self, position: int | None) -> None:
        # The position is a hint (another store in another schema may use the same channel):
        # it may only spare a head read, when it says nothing new; never move the head.
        if position is None or position > self._signal.head:
            self._signal.poke()

    async def ping(self) -> None:
        await self.head()

    async def head(self) -> int:
        return await self._runner.read(head_of)

    async def append(
        self, events: Sequence[EventInput], condition: AppendCondition | None = None
    ) -> AppendResult:
        check_batch(events)
        return await self._committer.append(events, condition)

    async def _commit_batch(self, batch: Sequence[AppendRequest]) -> list[Outcome]:
        """One transaction for ``batch`` (see append_batch.py for what happens when the
        database refuses a member's rows)."""
        now = datetime.now(UTC)
        outcomes: dict[int, Outcome] = {}
        remaining = list(range(len(batch)))
        isolate = False
        while remaining:
            members = [batch[index] for index in remaining]
            work = partial(append_batch, batch=members, now=now, isolate=isolate)
            try:
                decided = await self._runner.write(work)
            except InsertFailed:
                isolate = True
                continue
            except MemberFailed as failed:
                outcomes[remaining.pop(failed.member)] = failed.translated()
                continue
            outcomes.update(zip(remaining, decided, strict=True))
            break
        stored = [
            outcome.last_position
            for outcome in outcomes.values()
            if isinstance(outcome, AppendResult) and not outcome.replayed
        ]
        if stored:
            # Committed, and every writer lock released: wake this process, then the others.
            last = max(stored)
            self._signal.notify(last)
            feed = self._runner.commit_feed
            if feed is not None:
                feed.announce(last)
        return [outcomes[index] for index in range(len(batch))]

    async def read(
        self,
        query: Query,
        *,
        after: int = 0,
        before: int | None = None,
        limit: int,
        backwards: bool = False,
    ) -> ReadResult:
        return await self._runner.read(
            lambda conn: _read(
                conn, query, after=after, before=before, limit=limit, backwards=backwards
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
        return await self._runner.write(lambda conn: _put_snapshot(conn, snapshot, now))

    async def get_snapshot(self, name: str, key: str) -> Snapshot | None:
        return await self._runner.read(lambda conn: _get_snapshot(conn, name, key))

    async def delete_snapshot(self, name: str, key: str) -> None:
        await self._runner.write(lambda conn: _delete_snapshot(conn, name, key))


def build_sql_engine(settings: Settings) -> SqlEngine:
    """The SQL engine for ``settings.database_url`` (objects only; no connection yet)."""
    url = settings.database_url
    if url.startswith("sqlite"):
        from app.storage.sqlite import SqliteRunner

        return SqlEngine(SqliteRunner(settings), settings)
    if url.startswith("postgresql"):
        from app.storage.postgres import PostgresRunner

        return SqlEngine(PostgresRunner(settings), settings)
    raise ValueError(
        f"unsupported EVENTSTORE_DATABASE_URL {url!r}: use sqlite+aiosqlite:///path.db, "
        "postgresql+asyncpg://user@host/db or memory://"
    )


# --- transaction bodies: synchronous, one Connection, no commit (the runner commits) ---


def _read(
    conn: Connection,
    query: Query,
    *,
    after: int,
    before: int | None,
    limit: int,
    backwards: bool,
) -> ReadResult:
    head = head_of(conn)
    upper = head if before is None else min(head, before - 1)
    rows: Sequence[Sequence[Any]] = []
    if upper > after:
        stmt, params = matching_events(
            query, after=after, upper=upper, limit=limit + 1, backwards=backwards
        )
        rows = raw(stmt, conn.dialect).rows(conn, params)
    page = [event_from_row(row) for row in rows[:limit]]
    has_more = len(rows) > limit
    marker = read_marker(
        head=head,
        before=before,
        last_returned=page[-1].position if page else None,
        has_more=has_more,
        backwards=backwards,
    )
    return ReadResult(events=page, head=head, marker=marker, has_more=has_more)


def _snapshot(row: Row[Any]) -> Snapshot:
    return Snapshot(
        name=row.name,
        key=row.key,
        position=row.position,
        state=row.state,
        metadata=row.metadata,
        stored_at=utc(row.stored_at),
    )


def _get_snapshot(conn: Connection, name: str, key: str) -> Snapshot | None:
    row = conn.execute(
        select(snapshots).where(snapshots.c.name == name, snapshots.c.key == key)
    ).first()
    return None if row is None else _snapshot(row)


def _put_snapshot(conn: Connection, snapshot: SnapshotInput, now: datetime) -> Snapshot:
    head = head_of(conn)
    if snapshot.position > head:
        raise PositionBeyondHead(position=snapshot.position, head=head)
    current = _get_snapshot(conn, snapshot.name, snapshot.key)
    if current is not None and current.position > snapshot.position:
        return current
    values = {
        "position": snapshot.position,
        "state": snapshot.state,
        "metadata": snapshot.metadata,
        "stored_at": now,
    }
    if current is None:
        conn.execute(insert(snapshots).values(name=snapshot.name, key=snapshot.key, **values))
    else:
        conn.execute(
            update(snapshots)
            .where(snapshots.c.name == snapshot.name, snapshots.c.key == snapshot.key)
            .values(**values)
        )
    return Snapshot(
        name=snapshot.name,
        key=snapshot.key,
        position=snapshot.position,
        state=snapshot.state,
        metadata=snapshot.metadata,
        stored_at=now,
    )


def _delete_snapshot(conn: Connection, name: str, key: str) -> None:
    conn.execute(delete(snapshots).where(snapshots.c.name == name, snapshots.c.key == key))
