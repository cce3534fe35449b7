"""Open stores by URL for the operator's tool, and run its work on them.

Deliberate choices:

- **One way for both databases.** Every operation is a synchronous function of Core
  `Connection`s. SQLite connections come from the standard driver; PostgreSQL ones from
  asyncpg, whose sync facade works inside SQLAlchemy's greenlet. `run_on` runs the whole
  function in one greenlet (`greenlet_spawn`) on an event loop of its own, so a copy from one
  database to the other is one loop over both connections, with no thread and no queue.
- **The same writer lock as the service.** A write transaction here (`writing`) takes what
  every append of the service takes before it draws positions: SQLite's ``BEGIN IMMEDIATE``,
  PostgreSQL's ``pg_advisory_xact_lock`` on the writer key. So an import into a store that a
  service is serving interleaves with its appends batch by batch, and positions stay without
  holes. Nothing here sets a statement timeout: the operator's work is long on purpose.
- **Reads in short transactions.** An export reads a page a transaction, bounded by the head
  it read first: everything up to that head is committed and never changes, so the pages are
  consistent without one long transaction (which on SQLite would keep the write-ahead log
  from being checkpointed while the service writes).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AsyncExitStack, contextmanager
from typing import Any, TypeVar

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.util import greenlet_spawn

from app.storage.sql.migrations import SCRIPT_LOCATION, upgrade
from app.storage.sql.postgres import MIGRATION_LOCK, WRITER_LOCK, async_url
from app.storage.sql.sqlite import sync_url

T = TypeVar("T")

BUSY_TIMEOUT_SECONDS = 60.0
"""How long a SQLite write of the tool waits for the service's writer (it holds it briefly)."""

_BEGIN = "eventstore.begin"


def kind_of(url: str) -> str:
    """``sqlite`` or ``postgresql``; anything else is refused."""
    name = make_url(url).get_backend_name()
    if name not in {"sqlite", "postgresql"}:
        raise ValueError(
            f"{url!r}: the tool works on sqlite:///path.db and postgresql+asyncpg://... stores"
        )
    return name


def run_on(urls: Sequence[str], work: Callable[..., T]) -> T:
    """``work(*connections)``, one open connection per URL, in the order given."""
    for url in urls:
        kind_of(url)
    return asyncio.run(_run(urls, work))


async def _run(urls: Sequence[str], work: Callable[..., T]) -> T:
    async with AsyncExitStack() as opened:
        connections: list[Connection] = []
        for url in urls:
            if kind_of(url) == "sqlite":
                engine = _sqlite_engine(url)
                opened.callback(engine.dispose)
                connections.append(opened.enter_context(engine.connect()))
            else:
                async_engine = create_async_engine(async_url(url), poolclass=NullPool)
                opened.push_async_callback(async_engine.dispose)
                async_connection = await opened.enter_async_context(async_engine.connect())
                connections.append(async_connection.sync_connection)  # type: ignore[arg-type]
        return await greenlet_spawn(work, *connections)


def _sqlite_engine(url: str) -> Any:
    engine = create_engine(
        sync_url(url),
        poolclass=NullPool,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_SECONDS},
    )

    @event.listens_for(engine, "connect")
    def configure(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun below, not by the driver
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=FULL")
        dbapi_connection.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")

    @event.listens_for(engine, "begin")
    def start_transaction(conn: Connection) -> None:
        driver = conn.connection.driver_connection
        driver.execute(conn.info.get(_BEGIN, "BEGIN"))  # type: ignore[union-attr]

    return engine


@contextmanager
def reading(conn: Connection) -> Iterator[None]:
    """A read transaction (SQLite: one snapshot of the store)."""
    with conn.begin():
        yield


@contextmanager
def writing(conn: Connection) -> Iterator[None]:
    """A write transaction holding the store's writer lock; commits when the block ends."""
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        conn.info[_BEGIN] = "BEGIN IMMEDIATE"
    try:
        with conn.begin():
            if not sqlite:
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITER_LOCK})
            yield
    finally:
        conn.info.pop(_BEGIN, None)


def migrate(conn: Connection) -> None:
    """Bring the schema to the latest revision, as the service does at start-up (on
    PostgreSQL under the same lock, so that a starting replica does not migrate at once)."""
    with writing(conn):
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        upgrade(conn)


def current_revision(conn: Connection) -> str | None:
    """The schema's revision (None: never migrated)."""
    with reading(conn):
        return MigrationContext.configure(conn).get_current_revision()


def latest_revision() -> str:
    """The revision this version of the service migrates to."""
    head = ScriptDirectory(str(SCRIPT_LOCATION)).get_current_head()
    if head is None:
        raise RuntimeError("no migration found")
    return head


def masked(url: str) -> str:
    """``url`` with its password hidden, for messages."""
    return make_url(url).render_as_string(hide_password=True)
