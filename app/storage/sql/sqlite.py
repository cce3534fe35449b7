"""SQLite: the zero-configuration default, a file in the working directory.

Why not aiosqlite: it hops to its thread for every statement, and an append is six statements.
Measured here, a conditional one-event append through SQLAlchemy async + aiosqlite ran at 813/s
against 2,500/s for the same transaction run whole in a thread on the standard sqlite3 driver
(synchronous=FULL; 991/s vs 5,929/s with synchronous=OFF). So this runner runs each whole
transaction on the standard driver in a database thread: one hop per transaction, and no
aiosqlite at all. The URL is ``sqlite:///path.db``; any driver named in it (``sqlite+aiosqlite``,
the spelling of earlier versions) opens the same file with the standard driver.

- One writer thread with one connection: writes from this process queue there in order, and each
  runs in ``BEGIN IMMEDIATE``, which takes SQLite's write lock at once (a deferred transaction
  that upgrades later fails with SQLITE_BUSY without waiting).
- **Several processes on one file** (workers, replicas) keep one serial writer without
  sleeping: before ``BEGIN IMMEDIATE`` the writer thread takes the store's lock file
  (``<store>-writer.lock``, an exclusive ``flock``: `sqlite_lock.py`), which the kernel hands
  to the next process the moment it is released. Without it, a writer finding SQLite's lock
  taken waits in SQLite's busy handler, which sleeps 1, 2, 5 ... 100 ms between looks and so
  learns late that the lock is free (figures: docs/design.md, "SQLite with several
  processes"). The group committer takes its batch only once it has the writer's turn
  (`writer_turn`: the lock file, taken before the batch): while another process writes, this
  process's appends keep queuing, and its batch then takes them all, so group commit still
  groups. The busy timeout bounds the whole wait (lock file, then SQLite's lock); past it the
  write fails with StorageUnavailable, nothing stored.
- Writers that do not take the lock file (another program, ``eventstore import``) are still
  waited for through SQLite's lock: ``BEGIN IMMEDIATE`` is tried again and again, each try
  waiting up to `BUSY_SLICE_MS` in SQLite's own busy handler, until the busy timeout: SQLite
  cannot interrupt its busy wait (``sqlite3_interrupt`` does not), and a write abandoned at
  shutdown must give up within a slice, not after the whole timeout. The lock file's wait is
  abandoned the same way (a helper thread blocks in ``flock``; the writer waits for it in
  slices and gives up, and a lock that arrives too late is released at once).
- Streams of every process see every commit: each process announces its commits to the others
  over local datagram sockets in ``<store>-wakeups/`` (`sqlite_wakeups.py`, the `commit_feed`);
  measured, a commit in one process wakes the engine of another in 0.7-1.0 ms at the median,
  where the engine's one-second poll of the head took 0.84 s.
- At shutdown (`drain`) a write that has not begun to commit is abandoned and answered 503; the
  transaction, still running in the writer thread, then rolls back instead of committing
  (`runner.Commit` decides, under a lock, which of the two came first).
- Reader threads, each with its own connection, read in a deferred transaction: in WAL mode that
  is one consistent snapshot for the head and the events, and readers never wait for the writer.
- Each database thread keeps its own SQLAlchemy connection open (no pool checkout per
  transaction: measured, that halves the cost of a small read).
- Durability: WAL with ``synchronous=FULL`` by default, so an acknowledged append survives a
  machine crash; ``NORMAL`` trades the last few appends on power loss for speed.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from app.config import Settings
from app.errors import StorageUnavailable
from app.storage.sql.migrations import upgrade
from app.storage.sql.runner import Abandoned, Commit, Cutoff, translated_errors
from app.storage.sql.sqlite_lock import WriterLock, lock_path
from app.storage.sql.sqlite_wakeups import SqliteCommitFeed

logger = logging.getLogger(__name__)

T = TypeVar("T")

READER_THREADS = 4
BUSY_SLICE_MS = 50
"""The longest one try of the writer's ``BEGIN IMMEDIATE`` waits for another process's lock."""


def database_path(url: str) -> str:
    """The store file a standard-driver SQLite URL names."""
    database = make_url(url).database
    assert database is not None
    return database


def sync_url(database_url: str) -> str:
    """The standard-driver URL of a ``sqlite[+driver]:///path`` URL; in-memory is refused
    (every connection would see its own empty database: use ``memory://``)."""
    url = make_url(database_url)
    if not url.database or url.database == ":memory:":
        raise ValueError(
            "EVENTSTORE_DATABASE_URL names an in-memory SQLite database; give a file path, "
            "or use memory:// for a store that lives in the process"
        )
    return url.set(drivername="sqlite+pysqlite").render_as_string(hide_password=False)


class SqliteRunner:
    def __init__(self, settings: Settings) -> None:
        self._url = sync_url(settings.database_url)
        self._settings = settings
        path = database_path(self._url)
        self._lock = WriterLock(lock_path(path))
        self._locking = False  # whether the lock file could be opened (`start`)
        self.commit_feed = SqliteCommitFeed(path)
        self._writer_thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._reader_threads = ThreadPoolExecutor(
            READER_THREADS, thread_name_prefix="sqlite-reader"
        )
        busy_ms = settings.sqlite_busy_timeout_ms
        self._writer = self._engine(
            begin=self._begin_immediate, pool_size=1, busy_ms=min(busy_ms, BUSY_SLICE_MS)
        )
        self._readers = self._engine(begin=self._begin, pool_size=READER_THREADS, busy_ms=busy_ms)
        self._local = threading.local()  # each database thread's open connection and commit
        self._opened: list[Connection] = []
        self._cutoff = Cutoff()

    def _engine(
        self, *, begin: Callable[[sqlite3.Connection], None], pool_size: int, busy_ms: int
    ) -> Engine:
        settings = self._settings
        engine = create_engine(
            self._url,
            pool_size=pool_size,
            max_overflow=0,
            connect_args={"check_same_thread": False, "timeout": busy_ms / 1000},
        )

        @event.listens_for(engine, "connect")
        def configure(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
            # Let SQLAlchemy's "begin" below, not the driver, open transactions.
            dbapi_connection.isolation_level = None
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
            dbapi_connection.execute(f"PRAGMA synchronous={settings.sqlite_synchronous}")
            dbapi_connection.execute(f"PRAGMA busy_timeout={busy_ms}")

        @event.listens_for(engine, "begin")
        def start_transaction(conn: Connection) -> None:
            # On the driver's connection: through `exec_driver_sql` this cost 40 µs a transaction.
            begin(conn.connection.driver_connection)  # type: ignore[arg-type]

        return engine

    @staticmethod
    def _begin(driver: sqlite3.Connection) -> None:
        driver.execute("BEGIN")

    def _begin_immediate(self, driver: sqlite3.Connection) -> None:
        """``BEGIN IMMEDIATE``, tried until the busy timeout while a writer that does not take
        the lock file holds SQLite's write lock (see the module docstring), and given up once
        the write is abandoned."""
        commit: Commit | None = getattr(self._local, "commit", None)
        deadline: float = getattr(self._local, "deadline", None) or self._deadline()
        while True:
            try:
                driver.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                busy = error.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
                if not busy or time.monotonic() >= deadline:
                    raise
            if commit is not None and commit.abandoned:
                raise Abandoned

    def _deadline(self) -> float:
        return time.monotonic() + self._settings.sqlite_busy_timeout_ms / 1000

    async def start(self) -> None:
        try:
            self._lock.open()
            self._locking = True
        except OSError as error:
            logger.warning(
                "SQLite: cannot open the lock file %s (%s); writers of other processes are "
                "waited for in SQLite's busy handler",
                self._lock.path,
                error,
            )

        def migrate() -> None:
            with self._locked(Commit()):
                conn = self._connection(self._writer)
                with conn.begin():
                    upgrade(conn)

        with translated_errors("SQLite"):
            await asyncio.get_running_loop().run_in_executor(self._writer_thread, migrate)

    async def close(self) -> None:
        # Every database thread is idle once its last transaction returned.
        self._writer_thread.shutdown(wait=True)
        self._reader_threads.shutdown(wait=True)
        self._lock.close()
        for conn in self._opened:
            conn.close()
        self._writer.dispose()
        self._readers.dispose()

    def _connection(self, engine: Engine) -> Connection:
        """This thread's connection to ``engine``, opened on first use or after a failure."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = engine.connect()
            self._local.conn = conn
            self._opened.append(conn)
        return conn

    @contextmanager
    def _locked(self, commit: Commit) -> Iterator[None]:
        """Hold the lock file (or use the writer's turn taken for this transaction), then
        SQLite's write lock (`_begin_immediate`), within one busy timeout; in the writer
        thread."""
        deadline = self._deadline()
        if self._locking:
            deadline = self._lock.hold(deadline, lambda: commit.abandoned)
        self._local.commit, self._local.deadline = commit, deadline
        try:
            yield
        finally:
            self._local.commit = self._local.deadline = None
            self._lock.release()

    @asynccontextmanager
    async def writer_turn(self) -> AsyncIterator[None]:
        """The lock file, taken for this process's next write (`WriterTurns`); released on
        exit unless that write used it. Its wait is bounded as a write's is: the busy timeout,
        or the drain's deadline."""
        if self._locking and not self._lock.try_take_turn(self._deadline()):
            await self._wait_for_turn()
        try:
            yield
        finally:
            if self._locking:
                self._lock.end_turn()

    async def _wait_for_turn(self) -> None:
        """Wait for the turn in the writer thread (``flock`` blocks); a turn arriving after
        the wait was given up is released at once."""
        abandoned = threading.Event()
        lock = self._lock
        waiting = asyncio.get_running_loop().run_in_executor(
            self._writer_thread, lock.take_turn, self._deadline(), abandoned.is_set
        )

        def too_late(waited: asyncio.Future[None]) -> None:
            if not waited.cancelled() and waited.exception() is None:
                lock.end_turn()

        with translated_errors("SQLite"):
            try:
                async with self._cutoff.bounding():
                    await asyncio.shield(waiting)
            except BaseException:
                abandoned.set()
                waiting.add_done_callback(too_late)
                raise

    def drain(self, deadline: float) -> None:
        self._cutoff.set(deadline)

    async def write(self, work: Callable[[Connection], T]) -> T:
        commit = Commit()

        def transaction() -> T:
            if commit.abandoned:  # abandoned while it waited for the writer thread
                raise Abandoned
            with self._locked(commit):
                conn = self._connection(self._writer)
                with conn.begin():
                    result = work(conn)
                    commit.begin()  # raises Abandoned, which rolls back, if it was
                return result

        # BEGIN raises the driver's own errors (see `_engine`); they are translated too.
        with translated_errors("SQLite"):
            running = asyncio.get_running_loop().run_in_executor(self._writer_thread, transaction)
            try:
                async with self._cutoff.bounding():
                    return await asyncio.shield(running)
            except StorageUnavailable:
                if not commit.abandon():
                    return await running  # it had begun to commit: its outcome stands
                running.add_done_callback(_retrieved)  # its Abandoned is nobody's business
                raise

    async def read(self, work: Callable[[Connection], T]) -> T:
        def transaction() -> T:
            conn = self._connection(self._readers)
            with conn.begin():
                return work(conn)

        with translated_errors("SQLite"):
            async with self._cutoff.bounding():
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._reader_threads, transaction)


def _retrieved(future: asyncio.Future[Any]) -> None:
    """Retrieve the outcome of an abandoned write, so that asyncio does not log it."""
    if not future.cancelled():
        future.exception()
