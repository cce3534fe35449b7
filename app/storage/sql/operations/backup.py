"""Backups that stay consistent while the service writes.

- **SQLite: ``VACUUM INTO``.** One statement that copies the store as one read transaction sees
  it: in WAL mode the service's appends go on meanwhile, and the copy holds exactly what was
  committed when it began (every append acknowledged before then). It is written beside the
  destination, synced, checked with ``PRAGMA integrity_check`` and renamed into place, so a
  destination that exists is always a whole backup. The online backup API (``sqlite3``'s
  ``backup``) was the other candidate: copied in steps it starts again whenever the service
  writes in between, which under a steady load may be forever; in one step it is what
  ``VACUUM INTO`` does, without the compaction.
- **PostgreSQL: pg_dump**, not a re-implementation: it takes a consistent snapshot of its own
  (REPEATABLE READ) and the service goes on writing. `pg_dump_command` is the command with the
  flags that matter (custom format, restorable by ``pg_restore`` into a database owned by
  anyone); the tool says it, checks that pg_dump is installed, and runs it when asked.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from app.storage.sql.sqlite import sync_url


class BackupRefused(Exception):
    """The backup cannot be made as asked; the message says why."""


def sqlite_path(url: str) -> Path:
    database = make_url(sync_url(url)).database
    assert database is not None  # sync_url refuses a URL without one
    return Path(database)


def backup_sqlite(url: str, destination: Path) -> None:
    """A consistent copy of the SQLite store at ``url`` in ``destination`` (a new file)."""
    source = sqlite_path(url)
    if not source.exists():
        raise BackupRefused(f"there is no store at {source}")
    if destination.exists():
        raise BackupRefused(f"{destination} exists: a backup never overwrites a file")
    partial = destination.with_name(destination.name + ".partial")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    connection = sqlite3.connect(source, isolation_level=None)
    try:
        connection.execute("PRAGMA busy_timeout=60000")
        connection.execute("VACUUM INTO ?", (str(partial),))
    finally:
        connection.close()
    try:
        _check_and_sync(partial)
        partial.rename(destination)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    directory = os.open(destination.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _check_and_sync(path: Path) -> None:
    checked = sqlite3.connect(path, isolation_level=None)
    try:
        result = [row[0] for row in checked.execute("PRAGMA integrity_check")]
    finally:
        checked.close()
    if result != ["ok"]:
        raise BackupRefused(f"the copy failed its integrity check: {'; '.join(result)}")
    with path.open("rb+") as copied:
        os.fsync(copied.fileno())


def pg_dump_command(url: str, destination: Path) -> list[str]:
    """The pg_dump command that backs up the PostgreSQL store at ``url`` into ``destination``;
    the password, if any, is left out (give it in ``PGPASSWORD`` or ``~/.pgpass``)."""
    given = make_url(url)
    libpq = URL.create(
        "postgresql", given.username, None, given.host, given.port, given.database, given.query
    )
    return [
        "pg_dump",
        "--format=custom",
        "--no-owner",
        "--no-privileges",
        f"--file={destination}",
        f"--dbname={libpq.render_as_string(hide_password=False)}",
    ]


def pg_password(url: str) -> str | None:
    return make_url(url).password


def pg_dump_path() -> str | None:
    return shutil.which("pg_dump")
