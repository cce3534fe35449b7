"""PostgreSQL over asyncpg: for several service replicas sharing one store.

- Every write transaction, with or without a condition, first takes one transaction-scoped
  advisory lock (``pg_advisory_xact_lock`` on a constant), then draws positions. Writers from all
  replicas queue on it, so commit order equals position order and a reader that follows
  ``position > last`` never skips an event that commits late. Within one process, writers also
  queue on an asyncio lock first, so that waiting writers do not each hold a pooled connection
  idle inside a transaction.
- **The hot paths run on plain asyncpg** (`HotPaths` of `engine.py`), on a pool of the runner's
  own with the same connection arguments: a read is one statement returning the head with the
  events (`postgres_reads.py`), an append batch one call of a server-side function
  (`postgres_append.py`). No SQLAlchemy, no greenlet, no transaction block: each is one round
  trip in autocommit. Released connections are not reset (asyncpg's default would send a
  ``RESET ALL`` and more on every release, one more round trip): those statements leave no
  session state behind, and a connection cut short by an error other than the server's own
  answer is closed instead of returned.
- Everything else (snapshots, discovery, schemas, the head, migrations) runs through
  SQLAlchemy: transactions through ``AsyncConnection.run_sync``, the same Core functions as on
  SQLite, driven by asyncpg without threads; the general append path (`batch.py`) is kept for
  a batch whose schema registry keeps changing under it (`postgres_append.py`).
- Reads run in autocommit: no transaction is needed for them to be consistent, since under the
  writer lock every position up to a head that was seen is committed (see `reads.py`).
- Schema migrations take another advisory lock, so replicas starting together migrate once.
- Connection failures surface as StorageUnavailable (HTTP 503); SQLAlchemy discards the broken
  connection, so the next request gets a fresh one and the service recovers without a restart.
  A connection whose end the driver has already read while it sat idle in a pool (the server
  restarted, an administrator ended the session) is never handed out: asyncpg's pool replaces
  it at checkout, and SQLAlchemy's pool does too through `_discard_closed`. That costs no
  round trip (a pre-ping would cost one per checkout); it spares the first request after an
  outage its 503. A connection that dies during a request still makes that request a 503.
- **Nothing waits for the database without a bound.** With the ``events`` table locked by another
  session, every read, append and ``/readyz`` used to wait for the whole lock. Now each session
  runs with ``lock_timeout`` and ``statement_timeout`` (`Settings.db_lock_timeout_seconds`,
  `Settings.db_statement_timeout_seconds`, sent as connection parameters, so no statement is
  added to any transaction): PostgreSQL cancels a statement that waits or runs longer, the
  transaction is rolled back, and the request is a 503. asyncpg's own ``command_timeout``, one
  second longer, covers a server or network that stopped answering (asyncpg then cancels the
  statement and the connection is discarded); ``timeout`` bounds a connect; both pools' checkout
  and the writer lock of this process wait at most `Settings.db_pool_timeout_seconds`. Every one
  of these errors is StorageUnavailable (`runner.storage_error`). The lock timeout applies to the
  advisory writer lock too: a replica's append waits that long for the others'.
- At shutdown (`drain`, see `runner.py`), a write not yet committing is abandoned: its waits and
  statements are cancelled, its connection closed (the server rolls the transaction back) and
  its request answered 503; the commit itself is never interrupted. An append batch is one
  statement that commits when it ends, so once it is sent it is not abandoned blindly: at the
  deadline the runner asks the server to cancel it (``pg_cancel_backend``, from a connection of
  its own) and waits for the statement's own answer: cancelled, it stored nothing (503); ended,
  it committed, and its requests get their results. Its connection is then closed (a late
  cancel must not hit the connection's next statement). Closing the pools takes at most
  `CLOSE_SECONDS`.
- Replicas wake each other's tail readers with LISTEN/NOTIFY (`commit_feed`, in
  `postgres_notify.py`) on one dedicated connection per process, outside the pool.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from app.config import Settings
from app.domain import Query, ReadResult
from app.errors import StorageUnavailable
from app.storage.sql.batch import AppendRequest, Outcome, decide_batch
from app.storage.sql.migrations import upgrade
from app.storage.sql.postgres_append import (
    APPEND_BATCH,
    REGISTRY,
    SCHEMA_ATTEMPTS,
    SchemaRegistry,
    SchemasChanged,
    call_for,
    outcomes_of,
)
from app.storage.sql.postgres_notify import PostgresCommitFeed
from app.storage.sql.postgres_reads import read_arguments, read_result
from app.storage.sql.runner import SHUTTING_DOWN, Cutoff, translated_errors

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


def plain_dsn(database_url: str) -> str:
    """``postgresql://...``, as asyncpg itself takes it."""
    url = make_url(database_url)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _discard_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """SQLAlchemy's pool checkout: refuse a connection the server already closed, so that the
    pool connects a new one (see the module docstring)."""
    driver: asyncpg.Connection = dbapi_connection.driver_connection
    if driver.is_closed():
        raise DisconnectionError("the server closed this connection while it was idle")


async def _keep_session(connection: asyncpg.Connection) -> None:
    """The pool's reset on release: nothing to send (see the module docstring)."""


CANCEL_SECONDS = 1.0
"""The longest asking the server to cancel an abandoned append batch may take."""


class PostgresRunner:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._engine: AsyncEngine | None = None
        self._reads: AsyncEngine | None = None
        self._pool: asyncpg.Pool | None = None
        self._registry: SchemaRegistry | None = None
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
        event.listen(self._engine.sync_engine, "checkout", _discard_closed)
        # The same pool, in autocommit: a read needs no BEGIN nor ROLLBACK (see the docstring).
        self._reads = self._engine.execution_options(isolation_level="AUTOCOMMIT")

        def migrate(conn: Connection) -> None:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            upgrade(conn)

        async with self.engine.begin() as conn:
            await conn.run_sync(migrate)
        self._pool = asyncpg.create_pool(
            plain_dsn(settings.database_url),
            min_size=0,
            max_size=settings.db_pool_size,
            reset=_keep_session,
            **connect_args(settings),
        )
        await self._pool  # min_size 0: connects nothing yet

    async def close(self) -> None:
        try:
            async with asyncio.timeout(CLOSE_SECONDS):
                if self._pool is not None:
                    await self._pool.close()
                if self._engine is not None:
                    await self._engine.dispose()
        except TimeoutError:
            logger.warning("PostgreSQL connections not closed within %s s", CLOSE_SECONDS)
            if self._pool is not None:
                self._pool.terminate()
        self._engine = self._reads = self._pool = None

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

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection of the asyncpg pool, waited for at most ``db_pool_timeout_seconds``.
        Closed rather than returned when the block raises: after an error, a cancellation or a
        timeout, the connection may be gone or still busy (a server that announced its shutdown
        raised an error of its own while the socket closed), and a new one costs a connect
        only after a failure."""
        pool = self._pool
        if pool is None:
            raise StorageUnavailable("the store is not started")
        seconds = self._settings.db_pool_timeout_seconds
        try:
            conn = await pool.acquire(timeout=seconds)
        except TimeoutError:
            raise StorageUnavailable(
                f"PostgreSQL: no connection of the pool within {seconds} s"
            ) from None
        try:
            yield conn
        except BaseException:
            conn.terminate()
            raise
        finally:
            await pool.release(conn)

    async def read_events(
        self, query: Query, *, after: int, before: int | None, limit: int, backwards: bool
    ) -> ReadResult:
        """`read_events` of `reads.py` in one statement (`postgres_reads.py`)."""
        sql, arguments = read_arguments(
            query, after=after, before=before, limit=limit, backwards=backwards
        )
        with translated_errors("PostgreSQL"):
            async with self._cutoff.bounding(), self._connection() as conn:
                rows = await conn.fetch(sql, *arguments)
        return read_result(rows, after=after, before=before, limit=limit, backwards=backwards)

    async def decide_batch(self, batch: list[AppendRequest], now: datetime) -> list[Outcome]:
        """`decide_batch` of `batch.py` in one call of the server-side function
        (`postgres_append.py`)."""
        for _ in range(SCHEMA_ATTEMPTS):
            registry = self._registry
            if registry is None:
                registry = self._registry = await self._read_registry()
            call = call_for(batch, now, registry)
            rows = await self._append(call.arguments)
            try:
                return outcomes_of(batch, call, rows)
            except SchemasChanged:
                self._registry = None
        # The registry kept changing: read the schemas inside the transaction instead.
        return await self.write(partial(decide_batch, batch=batch, now=now))

    async def _read_registry(self) -> SchemaRegistry:
        with translated_errors("PostgreSQL"):
            async with self._cutoff.bounding(), self._connection() as conn:
                return SchemaRegistry.from_rows(await conn.fetch(REGISTRY))

    async def _append(self, arguments: list[Any]) -> Sequence[Any]:
        """One call of the append function; at the deadline, its own answer (module docstring)."""
        with translated_errors("PostgreSQL"):
            async with AsyncExitStack() as held:
                async with self._cutoff.bounding():
                    await held.enter_async_context(self._writer_lock())
                    conn = await held.enter_async_context(self._connection())
                call = asyncio.ensure_future(conn.fetch(APPEND_BATCH, *arguments))
                try:
                    async with self._cutoff.bounding():
                        return await asyncio.shield(call)
                except StorageUnavailable:  # the deadline, with the statement sent
                    if not call.done():
                        await self._cancel(conn.get_server_pid())
                    try:
                        rows: Sequence[Any] = await call
                    except asyncpg.QueryCanceledError:
                        raise StorageUnavailable(SHUTTING_DOWN) from None
                    finally:
                        conn.terminate()
                    return rows

    async def _cancel(self, pid: int) -> None:
        """Ask the server to cancel the statement of backend ``pid``; give up quietly (the
        statement then ends by itself, by its timeouts at the latest)."""
        try:
            async with asyncio.timeout(CANCEL_SECONDS):
                canceller = await asyncpg.connect(
                    plain_dsn(self._settings.database_url), **connect_args(self._settings)
                )
                try:
                    await canceller.execute("SELECT pg_cancel_backend($1)", pid)
                finally:
                    await canceller.close()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            logger.warning("could not cancel an abandoned append on PostgreSQL: %s", error)

    async def read(self, work: Callable[[Connection], T]) -> T:
        reads = self._reads
        if reads is None:
            raise StorageUnavailable("the store is not started")
        with translated_errors("PostgreSQL"):
            async with self._cutoff.bounding(), reads.connect() as conn:
                return await conn.run_sync(work)
