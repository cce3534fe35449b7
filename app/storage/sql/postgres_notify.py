"""LISTEN/NOTIFY between replicas sharing one PostgreSQL database: wake-ups, never data.

Each process's tail reader (app/streaming.py) waits in `SqlEngine.wait_for_new`. Commits made by
this process wake it directly; commits made by another replica are announced with ``NOTIFY`` on
the channel ``eventstore_commits`` (payload: the last position committed) and heard here, which
pokes the engine's `CommitSignal`: the engine re-reads the head and the tail reader re-reads from
its own last position. The engine also polls the head about once a second, so a lost
notification costs latency, never an event. Deliberate choices:

- **One dedicated connection per engine**, outside the pool (raw asyncpg, ``application_name``
  ``eventstore-listener``): a LISTEN must stay on one session for the life of the process, which
  a pooled connection cannot promise. It carries both the LISTEN and this process's NOTIFYs (an
  autocommit ``SELECT pg_notify(...)``): no pool checkout per append, and one lock serializes its
  users, since an asyncpg connection runs one operation at a time.
- **Announcements are coalesced and sent after the append returns.** `announce` only records the
  highest committed position and sets an event; one sender task sends the latest one. It runs
  after the commit and outside both writer locks (the advisory lock is transaction-scoped, the
  asyncio lock is released when the write returns), a burst of appends costs a few NOTIFYs, and
  an append never waits for, nor fails because of, a notification. A failed NOTIFY is logged at
  debug and retried with the next announcement or after a reconnect; the poll covers the gap.
- **The payload is a hint.** Another store (another schema) on the same database may use the
  same channel, so the engine uses the position only to skip a wake-up that says nothing new; a
  wake-up always leads to a re-read from the database.
- **Supervised.** Loss is noticed by asyncpg's termination callback (the server closed the
  session, e.g. ``pg_terminate_backend`` or a restart) and by a ``SELECT 1`` probe every
  `PROBE_SECONDS` (a silently dead network path). The supervisor reconnects with bounded
  exponential backoff (0.1 s doubling to 5 s) and then wakes the engine with no position, a
  forced catch-up: whatever was committed while nobody listened is read from the database. If
  the first connection fails at start-up the engine starts anyway and polls until it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)

CHANNEL = "eventstore_commits"
APPLICATION_NAME = "eventstore-listener"
NOTIFY_SQL = "SELECT pg_notify($1, $2)"

CONNECT_TIMEOUT = 5.0
IO_TIMEOUT = 5.0
"""Longest wait for one statement on the listener connection (probe, NOTIFY, close)."""
PROBE_SECONDS = 10.0
"""How often a quiet listener connection is checked with ``SELECT 1``."""
BACKOFF_MIN = 0.1
BACKOFF_MAX = 5.0

_SQLALCHEMY_ONLY_OPTIONS = ("prepared_statement_cache_size", "prepared_statement_name_func")

Wake = Callable[[int | None], None]


def listener_dsn(database_url: str) -> str:
    """The plain ``postgresql://`` DSN asyncpg connects to for ``database_url``."""
    url = make_url(database_url).set(drivername="postgresql")
    url = url.difference_update_query(_SQLALCHEMY_ONLY_OPTIONS)
    return url.render_as_string(hide_password=False)


def _position(payload: str) -> int | None:
    return int(payload) if payload.isdecimal() else None


class PostgresCommitFeed:
    """`app.storage.sql.CommitFeed` over LISTEN/NOTIFY on one supervised asyncpg connection."""

    def __init__(self, database_url: str) -> None:
        self._dsn = listener_dsn(database_url)
        self._wake: Wake | None = None
        self._conn: Any = None  # the current asyncpg connection, None while reconnecting
        self._lock = asyncio.Lock()  # one operation at a time on that connection
        self._announced = 0
        self._sent = 0
        self._to_send = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.connections = 0
        """Connections made so far (1 after a clean start; each reconnect adds one)."""

    @property
    def listening(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    @property
    def server_pid(self) -> int | None:
        """The backend process of the LISTEN connection (``pg_stat_activity.pid``)."""
        return int(self._conn.get_server_pid()) if self.listening else None

    async def start(self, wake: Wake) -> None:
        """Connect and LISTEN before returning (when the database answers), then supervise."""
        self._wake = wake
        try:
            self._conn = await self._connect()
        except Exception as error:  # whatever it is, the supervisor retries; the poll covers
            logger.warning("commit feed: cannot LISTEN (%r); polling until it can", error)
        self._tasks = [
            asyncio.create_task(self._supervise(), name="pg-commit-listener"),
            asyncio.create_task(self._send(), name="pg-commit-announcer"),
        ]

    async def close(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        conn, self._conn = self._conn, None
        if conn is not None:
            await _discard(conn)
        self._wake = None

    def announce(self, position: int) -> None:
        if position > self._announced:
            self._announced = position
            self._to_send.set()

    # --- the connection ---

    async def _connect(self) -> Any:
        conn = await asyncpg.connect(
            self._dsn,
            timeout=CONNECT_TIMEOUT,
            server_settings={"application_name": APPLICATION_NAME},
        )
        try:
            async with asyncio.timeout(IO_TIMEOUT):
                await conn.add_listener(CHANNEL, self._on_notification)
        except BaseException:
            conn.terminate()
            raise
        self.connections += 1
        return conn

    def _on_notification(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if self._wake is not None:
            self._wake(_position(payload))

    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        delay = BACKOFF_MIN
        while True:
            if self._conn is None:
                try:
                    self._conn = await self._connect()
                except Exception as error:
                    logger.warning("commit feed: cannot LISTEN (%r); retry in %.1fs", error, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, BACKOFF_MAX)
                    continue
                logger.info("commit feed: listening again; catching up")
                if self._wake is not None:
                    self._wake(None)  # whatever committed while nobody listened
            conn = self._conn
            self._to_send.set()  # an announcement that could not go out goes now
            connected_at = loop.time()
            await self._until_lost(conn)
            self._conn = None
            await _discard(conn)
            logger.warning("commit feed: the LISTEN connection was lost; reconnecting")
            if loop.time() - connected_at >= BACKOFF_MAX:
                delay = BACKOFF_MIN
            else:  # lost soon after connecting: do not hammer the server
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)

    async def _until_lost(self, conn: Any) -> None:
        lost = asyncio.Event()
        if conn.is_closed():
            return
        conn.add_termination_listener(lambda _conn: lost.set())
        while not lost.is_set() and not conn.is_closed():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PROBE_SECONDS):
                    await lost.wait()
            if lost.is_set() or conn.is_closed():
                return
            try:
                async with asyncio.timeout(IO_TIMEOUT), self._lock:
                    await conn.fetchval("SELECT 1")
            except Exception as error:
                logger.warning("commit feed: the LISTEN connection does not answer: %r", error)
                return

    # --- announcements ---

    async def _send(self) -> None:
        while True:
            await self._to_send.wait()
            self._to_send.clear()
            position, conn = self._announced, self._conn
            if position <= self._sent or conn is None:
                continue  # nothing new, or disconnected: the supervisor sets _to_send again
            try:
                async with asyncio.timeout(IO_TIMEOUT), self._lock:
                    await conn.execute(NOTIFY_SQL, CHANNEL, str(position))
            except Exception as error:
                logger.debug("commit feed: NOTIFY %d failed: %r", position, error)
            else:
                self._sent = max(self._sent, position)


async def _discard(conn: Any) -> None:
    """Close ``conn`` politely if it answers, else abort it; never raises (but cancellation)."""
    if conn.is_closed():
        return
    closed = False
    try:
        async with asyncio.timeout(IO_TIMEOUT):
            await conn.close()
        closed = True
    except Exception as error:
        logger.debug("commit feed: closing the LISTEN connection: %r", error)
    finally:
        if not closed:
            conn.terminate()
