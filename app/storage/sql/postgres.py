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
- At shutdown (`drain`, see `runner.py`), a write not yet committing is abandoned: its waits and
  statements are cancelled, its connection closed (the server rolls the transaction back) and
  its request answered 503; the commit itself is never interrupted. Closing the pool takes at
  most `CLOSE_SECONDS`.
- Replicas wake each other's tail readers with LISTEN/NOTIFY (`commit_feed`, in
  `postgres_notify.py`) on one dedicated connection per process, outside the pool.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from app.config import Settings
from app.errors import StorageUnavailable
from app.storage.sql.migrations import upgrade
from app.storage.sql.postgres_notify import PostgresCommitFeed
from app.storage.sql.runner import Cutoff, translated_errors

logger = logging.getLogger(__name__)

T = TypeVar("T")

CLOSE_SECONDS = 2.0
"""The longest closing the pool's connections may take at shutdown."""

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
        self._cutoff = Cutoff()
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
            try:
                async with asyncio.timeout(CLOSE_SECONDS):
                    await self._engine.dispose()
            except TimeoutError:
                logger.warning("PostgreSQL connections not closed within %s s", CLOSE_SECONDS)
            self._engine = self._reads = None

    def drain(self, deadline: float) -> None:
        self._cutoff.set(deadline)

    async def write(self, work: Callable[[Connection], T]) -> T:
        def locked(conn: Connection) -> T:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITER_LOCK})
            return work(conn)

        with translated_errors("PostgreSQL"):
            async with AsyncExitStack() as held:
                conn: AsyncConnection | None = None
                try:
                    async with self._cutoff.bounding():
                        await held.enter_async_context(self._writer_lock())
                        conn = await held.enter_async_context(self.engine.connect())
                        await conn.begin()
                        result = await conn.run_sync(locked)
                except StorageUnavailable:
                    if conn is not None:  # abandoned: closed at once, the server rolls back
                        await conn.invalidate()
                    raise
                await conn.commit()  # not abandoned once begun (runner.py)
                return result

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
            async with self._cutoff.bounding(), reads.connect() as conn:
                return await conn.run_sync(work)
