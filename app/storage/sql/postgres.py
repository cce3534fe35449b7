"""PostgreSQL over asyncpg: for several service replicas sharing one store.

- Every write transaction, with or without a condition, first takes one transaction-scoped
  advisory lock (``pg_advisory_xact_lock`` on a constant), then draws positions. Writers from all
  replicas queue on it, so commit order equals position order and a reader that follows
  ``position > last`` never skips an event that commits late. Within one process, writers also
  queue on an asyncio lock first, so that waiting writers do not each hold a pooled connection
  idle inside a transaction.
- Transactions run through ``AsyncConnection.run_sync``: the same Core functions as on SQLite,
  driven by asyncpg without threads.
- Reads run in autocommit, each statement at READ COMMITTED: the head first, then the events
  bounded by it. No transaction is needed for that to be consistent: under the writer lock every
  position up to a head that was seen is committed, so the second statement sees all of them
  (see `reads.py`). That spares the BEGIN and ROLLBACK round trips: two round trips per read, not
  four (measured here: a one-tag read took 2.9 ms with them, 1.5 ms without).
- Schema migrations take another advisory lock, so replicas starting together migrate once.
- Connection failures surface as StorageUnavailable (HTTP 503); SQLAlchemy discards the broken
  connection, so the next request gets a fresh one and the service recovers without a restart.
- **Nothing waits for the database without a bound.** With the ``events`` table locked by another
  session, every read, append and ``/readyz`` used to wait for the whole lock. Now each session
  runs with ``lock_timeout`` and ``statement_timeout`` (`Settings.db_lock_timeout_seconds`,
  `Settings.db_statement_timeout_seconds`, sent as connection parameters, so no statement is
  added to any transaction): PostgreSQL cancels a statement that waits or runs longer, the
  transaction is rolled back, and the request is a 503. asyncpg's own ``command_timeout``, one
  second longer, covers a server or network that stopped answering (asyncpg then cancels the
  statement and the connection is discarded); ``timeout`` bounds a connect; the pool's checkout
  and the writer lock of this process wait at most `Settings.db_pool_timeout_seconds`. Every one
  of these errors is StorageUnavailable (`runner.storage_error`). The lock timeout applies to the
  advisory writer lock too: a replica's append waits that long for the others'.
- Replicas wake each other's tail readers with LISTEN/NOTIFY (`commit_feed`, in
  `postgres_notify.py`) on one dedicated connection per process, outside the pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.config import Settings
from app.errors import StorageUnavailable
from app.storage.sql.migrations import upgrade
from app.storage.sql.postgres_notify import PostgresCommitFeed
from app.storage.sql.runner import translated_errors

T = TypeVar("T")

WRITER_LOCK = 0x6576656E7473  # "events"
MIGRATION_LOCK = 0x736368656D61  # "schema"


COMMAND_TIMEOUT_MARGIN = 1.0
"""asyncpg gives up on a statement this long after PostgreSQL's ``statement_timeout`` would."""


def connect_args(settings: Settings) -> dict[str, Any]:
    """asyncpg's connection arguments: the timeouts (see the module docstring)."""
    return {
        "timeout": settings.db_connect_timeout_seconds,
        "command_timeout": settings.db_statement_timeout_seconds + COMMAND_TIMEOUT_MARGIN,
        "server_settings": {
            "lock_timeout": f"{round(settings.db_lock_timeout_seconds * 1000)}ms",
            "statement_timeout": f"{round(settings.db_statement_timeout_seconds * 1000)}ms",
        },
    }


def async_url(database_url: str) -> str:
    """``postgresql[+driver]://...`` with the asyncpg driver."""
    url = make_url(database_url)
    return url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


class PostgresRunner:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._engine: AsyncEngine | None = None
        self._reads: AsyncEngine | None = None
        self._writer = asyncio.Lock()
        self.commit_feed = PostgresCommitFeed(settings.database_url)

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise StorageUnavailable("the store is not started")
        return self._engine

    async def start(self) -> None:
        settings = self._settings
        self._engine = create_async_engine(
            async_url(settings.database_url),
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_pool_size,
            pool_timeout=settings.db_pool_timeout_seconds,
            connect_args=connect_args(settings),
        )
        # The same pool, in autocommit: a read needs no BEGIN nor ROLLBACK (see the docstring).
        self._reads = self._engine.execution_options(isolation_level="AUTOCOMMIT")

        def migrate(conn: Connection) -> None:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            upgrade(conn)

        async with self.engine.begin() as conn:
            await conn.run_sync(migrate)

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = self._reads = None

    async def write(self, work: Callable[[Connection], T]) -> T:
        def locked(conn: Connection) -> T:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITER_LOCK})
            return work(conn)

        with translated_errors("PostgreSQL"):
            async with self._writer_lock(), self.engine.begin() as conn:
                return await conn.run_sync(locked)

    @asynccontextmanager
    async def _writer_lock(self) -> AsyncIterator[None]:
        """This process's writer lock, waited for at most ``db_pool_timeout_seconds``."""
        seconds = self._settings.db_pool_timeout_seconds
        try:
            async with asyncio.timeout(seconds):
                await self._writer.acquire()
        except TimeoutError:
            raise StorageUnavailable(
                f"another write of this process held the writer lock for more than {seconds} s"
            ) from None
        try:
            yield
        finally:
            self._writer.release()

    async def read(self, work: Callable[[Connection], T]) -> T:
        reads = self._reads
        if reads is None:
            raise StorageUnavailable("the store is not started")
        with translated_errors("PostgreSQL"):
            async with reads.connect() as conn:
                return await conn.run_sync(work)
