"""The dialect half of the SQL engine: how a transaction runs, and what a driver's error means.

Every operation of the SQL engine is one transaction written as a plain synchronous function of
a SQLAlchemy Core `Connection` (`batch.py`, `reads.py`, `snapshots.py`). A `TransactionRunner`
(`sqlite.py`, `postgres.py`) decides how such a function runs, and holds the one-writer rule:
every write transaction takes the store's writer lock before it draws positions, so commit order
equals position order and a condition is checked against everything committed.

Driver errors never leave a runner: `storage_error` (applied by `translated_errors`) translates
each into the domain error it stands for, in one place for both databases.

- A unique violation of the event id (``uq_events_id``) is `EventIdReused`. Under the writer
  lock the engine looks ids up before it inserts, so only a writer that broke the rules (another
  program writing to the tables) can cause one; it is still what it says.
- Any other refusal of rows (another constraint, a trigger of the operator's, a value the column
  cannot hold) is `WriteRefused`: never mistaken for a reused id.
- Everything else the database or the connection raises (locked, gone, timed out, the pool
  exhausted) is `StorageUnavailable`: retry later. That includes the ``TimeoutError`` of
  asyncpg's command timeout, which SQLAlchemy passes on untranslated (it is an ``OSError``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar

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
        """Cross-process wake-ups, or None where commits by this process are all there is to
        wait for in practice (SQLite: one process per file; the poll covers the rest)."""

    async def start(self) -> None:
        """Connect and migrate the schema."""

    async def close(self) -> None: ...

    async def write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a write transaction holding the store's writer lock; commit."""

    async def read(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a read-only transaction."""


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
    if isinstance(error, IntegrityError):
        if is_event_id_violation(error):
            return EventIdReused("an event id of this request is already stored")
        return WriteRefused(f"{database} refused the rows: {error.orig}")
    if isinstance(error, DataError):
        return WriteRefused(f"{database} refused a value: {error.orig}")
    if isinstance(error, DBAPIError | PoolTimeout | sqlite3.Error | OSError):
        return StorageUnavailable(f"{database}: {error}")
    return None


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
