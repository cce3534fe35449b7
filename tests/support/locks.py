"""Locks held by another session or process, as an operator's tool or a backup would, and the
answer every request gets meanwhile: `table_locked` (PostgreSQL), `sqlite_write_lock_held`,
`sqlite_lock_file_held`, `assert_unavailable`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

PROBLEM = "application/problem+json"


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["retry-after"] == "1"
    assert response.json()["status"] == 503


@asynccontextmanager
async def table_locked(url: str) -> AsyncIterator[None]:
    """Another session holds ``LOCK TABLE events IN ACCESS EXCLUSIVE MODE`` for the block."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    locker = await asyncpg.connect(dsn)
    try:
        async with locker.transaction():
            await locker.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
            yield
    finally:
        await locker.close()


LOCKER = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
connection.execute("ROLLBACK")
connection.close()
"""
"""Holds the write lock of the SQLite file given as argument until a line arrives on stdin."""


@contextmanager
def sqlite_write_lock_held(path: Path) -> Iterator[None]:
    """Another process holds ``BEGIN EXCLUSIVE`` on ``path`` for the duration of the block."""
    with _held_by_another_process(LOCKER, str(path)):
        yield


@contextmanager
def _held_by_another_process(script: str, path: str) -> Iterator[None]:
    """Run ``python -c script path``, which says "locked" once it holds its lock, and keep it
    holding until the block ends."""
    with subprocess.Popen(
        [sys.executable, "-c", script, path],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as locker:
        assert locker.stdin is not None
        assert locker.stdout is not None
        try:
            assert locker.stdout.readline().strip() == "locked"
            yield
        finally:
            locker.stdin.write("\n")
            locker.stdin.flush()
            assert locker.wait(timeout=10) == 0


FILE_LOCKER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.readline()
"""
"""Holds the flock of the lock file given as argument until a line arrives on stdin."""


@contextmanager
def sqlite_lock_file_held(path: Path) -> Iterator[None]:
    """Another process holds the writer lock file of the SQLite store ``path``
    (`app.storage.sql.sqlite_lock`), as another service process writing does, for the block."""
    with _held_by_another_process(FILE_LOCKER, f"{path}-writer.lock"):
        yield
