"""The dialect half of the SQL engine: how a transaction runs, and what a driver's error means.

Every operation of the SQL engine is one transaction written as a plain synchronous function of
a SQLAlchemy Core `Connection` (`batch.py`, `reads.py`, `snapshots.py`). A `TransactionRunner`
(`sqlite.py`, `postgres.py`) decides how such a function runs, and holds the one-writer rule:
every write transaction takes the store's writer lock before it draws positions, so commit order
equals position order and a condition is checked against everything committed.

Driver errors never leave a runner: `storage_error` (applied by `translated_errors`) translates
each into the domain error it stands for, in one place for both databases.

**Shutting down** (`TransactionRunner.drain`): from the deadline the server gives, database work
still unfinished is abandoned with StorageUnavailable, so that its request is answered 503 before
the server's grace runs out (an unanswered request was cancelled, and answered 500). A read is
simply abandoned. A write is abandoned only if it has not begun to commit, and then it is rolled
back, never committed later: a 503 always means "not stored", and the client retries with its
ids. A write that has begun to commit is waited for, since its outcome is already decided. Each
runner bounds its work with a `Cutoff`; `Commit` is the race between a write's commit and its
abandonment, decided under a lock, for the runner whose transactions run in a thread (SQLite).

- A unique violation of the event id (``uq_events_id``) is `EventIdReused`. Under the writer
  lock the engine looks ids up before it inserts, so only a writer that broke the rules (another
  program writing to the tables) can cause one; it is still what it says.
- Any other refusal of rows (another constraint, a trigger of the operator's, a value the column
  cannot hold) is `WriteRefused`: never mistaken for a reused id.
- Everything else the database or the connection raises (locked, gone, timed out, the pool
  exhausted) is `StorageUnavailable`: retry later. That includes the ``TimeoutError`` of
  asyncpg's command timeout, which SQLAlchemy passes on untranslated (it is an ``OSError``).
- The same holds for asyncpg's own errors, raised on the PostgreSQL hot paths that run on plain
  asyncpg (`postgres_reads.py`, `postgres_append.py`): a unique violation of ``uq_events_id`` is
  `EventIdReused`, another integrity violation or a value refused (SQLSTATE class 22) is
  `WriteRefused`, and any other error of the server, the connection or the pool is
  `StorageUnavailable`.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Protocol, TypeVar, runtime_checkable

import asyncpg
from sqlalchemy import Connection
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.errors import EventIdReused, EventStoreError, StorageUnavailable, WriteRefused

T = TypeVar("T")

EVENT_ID_CONSTRAINT = "uq_events_id"
"""The name of the unique constraint on ``events.id`` (`tables.py`)."""
_SQLITE_EVENT_ID_VIOLATION = "UNIQUE constraint failed: events.id"


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
    """Runs one transaction function; raises only domain errors (`storage_error`)."""

    @property
    def commit_feed(self) -> CommitFeed | None:
        """Cross-process wake-ups (PostgreSQL: LISTEN/NOTIFY; SQLite: datagram sockets beside
        the store file), or None where commits by this process are all there is to wait for
        (the engine's poll of the head covers any other writer)."""

    async def start(self) -> None:
        """Connect and migrate the schema."""

    async def close(self) -> None: ...

    async def write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a write transaction holding the store's writer lock; commit."""

    async def read(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a read-only transaction."""

    def drain(self, deadline: float) -> None:
        """Abandon, from the event-loop time ``deadline``, the work not finished by then (see the
        module docstring); work started later is abandoned at once."""


@runtime_checkable
class WriterTurns(Protocol):
    """What a runner implements whose writer lock is worth taking before a batch is formed
    (SQLite's lock file): the group committer then takes its batch once the turn is had, so
    that what queued meanwhile joins it (`group_commit.py`)."""

    def writer_turn(self) -> AbstractAsyncContextManager[None]:
        """Hold the store's writer lock for this process's next write, which uses it; raise a
        domain error when it cannot be had in time. Never raises on exit."""
        ...


SHUTTING_DOWN = "the service is shutting down; nothing of this request was stored, retry"


class Cutoff:
    """The moment, once the service shuts down, from which a runner abandons its work."""

    def __init__(self) -> None:
        self.deadline: float | None = None
        self._scopes: set[asyncio.Timeout] = set()

    def set(self, deadline: float) -> None:
        self.deadline = deadline
        for scope in self._scopes:
            scope.reschedule(deadline)

    @asynccontextmanager
    async def bounding(self) -> AsyncIterator[None]:
        """Run the block until the deadline, if one is set (even later); past it, raise
        StorageUnavailable."""
        loop = asyncio.get_running_loop()
        if self.deadline is not None and loop.time() >= self.deadline:
            raise StorageUnavailable(SHUTTING_DOWN)
        scope = asyncio.timeout_at(self.deadline)
        self._scopes.add(scope)
        try:
            async with scope:
                yield
        except TimeoutError:
            if scope.expired():
                raise StorageUnavailable(SHUTTING_DOWN) from None
            raise
        finally:
            self._scopes.discard(scope)


class Abandoned(Exception):
    """Raised in a write transaction whose request was answered 503: roll it back."""


class Commit:
    """Whether a write run in a thread commits or is abandoned: decided once, under a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: bool | None = None  # True: committing; False: abandoned

    @property
    def abandoned(self) -> bool:
        return self._state is False

    def begin(self) -> None:
        """Called by the transaction right before it commits; raises `Abandoned` if it was."""
        with self._lock:
            if self._state is False:
                raise Abandoned
            self._state = True

    def abandon(self) -> bool:
        """Abandon the write unless it has begun to commit; whether it was abandoned."""
        with self._lock:
            if self._state is None:
                self._state = False
            return self._state is False


def is_event_id_violation(error: IntegrityError) -> bool:
    """Whether the database refused a row because its event id is already stored."""
    driver_error = error.orig
    if isinstance(driver_error, sqlite3.IntegrityError):
        return str(driver_error) == _SQLITE_EVENT_ID_VIOLATION
    # asyncpg's own error, which SQLAlchemy's adapter raised its DBAPI error from.
    cause = driver_error.__cause__ if driver_error is not None else None
    return getattr(cause, "constraint_name", None) == EVENT_ID_CONSTRAINT


def storage_error(error: Exception, database: str) -> EventStoreError | None:
    """The domain error that ``error``, raised by ``database``'s driver or connection pool,
    stands for; None for an error that is not the database's (a bug, to be raised as it is)."""
    if isinstance(error, asyncpg.PostgresError):
        return _asyncpg_error(error, database)
    # The connection (gone, or left busy); but a value asyncpg could not encode is a bug.
    if isinstance(error, asyncpg.InterfaceError | asyncpg.InternalClientError) and not isinstance(
        error, asyncpg.exceptions._base.DataError
    ):
        return StorageUnavailable(f"{database}: {error}")
    if isinstance(error, IntegrityError):
        if is_event_id_violation(error):
            return EventIdReused("an event id of this request is already stored")
        return WriteRefused(f"{database} refused the rows: {error.orig}")
    if isinstance(error, DataError):
        return WriteRefused(f"{database} refused a value: {error.orig}")
    if isinstance(error, DBAPIError | PoolTimeout | sqlite3.Error | OSError):
        return StorageUnavailable(f"{database}: {error}")
    return None


def _asyncpg_error(error: asyncpg.PostgresError, database: str) -> EventStoreError:
    if isinstance(error, asyncpg.UniqueViolationError):
        if error.constraint_name == EVENT_ID_CONSTRAINT:
            return EventIdReused("an event id of this request is already stored")
        return WriteRefused(f"{database} refused the rows: {error}")
    if isinstance(error, asyncpg.IntegrityConstraintViolationError):
        return WriteRefused(f"{database} refused the rows: {error}")
    if isinstance(error, asyncpg.exceptions.DataError):  # SQLSTATE class 22
        return WriteRefused(f"{database} refused a value: {error}")
    return StorageUnavailable(f"{database}: {error}")


@contextmanager
def translated_errors(database: str) -> Iterator[None]:
    """Raise the domain error of any driver or pool error raised inside (`storage_error`)."""
    try:
        yield
    except Exception as error:
        translated = storage_error(error, database)
        if translated is None:
            raise
        raise translated from error
