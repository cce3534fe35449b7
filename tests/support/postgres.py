"""An empty PostgreSQL database for tests and benchmarks: `recreate_schema`.

The one way the test suite and the benchmarks reset a database; `tests.support.engines` adds
the skip-or-fail policy for a server that cannot be reached.

Only a database this module created is ever emptied: it creates the database it is given when
the server does not have it, marks it with a comment (`MARK`), and refuses to touch a database
without that mark. So pointing ``EVENTSTORE_TEST_POSTGRES_URL`` (or a benchmark's
``--postgres``) at a database that holds anything else fails loudly instead of wiping it.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy.engine import URL, make_url

MARK = "eventstore test database: created by its test suite, emptied by every run"


class NotCreatedByTests(Exception):
    """The database exists but was not created here: it is never emptied."""


async def recreate_schema(url: str) -> None:
    """Drop and recreate the ``public`` schema of ``url``'s database (its tables, its
    alembic_version), creating the database first if the server does not have it."""
    target = make_url(url).set(drivername="postgresql")
    try:
        connection = await _connect(target)
    except asyncpg.InvalidCatalogNameError:
        await _create_database(target)
        connection = await _connect(target)
    try:
        comment = await connection.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
            "WHERE datname = current_database()"
        )
        if comment != MARK:
            raise NotCreatedByTests(
                f"the database {target.database!r} was not created by the test suite, so it is "
                "not emptied: name a database that does not exist yet (it will be created)"
            )
        # A connection left open by an earlier run must not make this wait forever.
        await connection.execute("SET lock_timeout = '10s'")
        await connection.execute("SET client_min_messages = warning")  # no NOTICE per table
        await connection.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")
    finally:
        await connection.close()


async def _connect(url: URL) -> Any:
    return await asyncpg.connect(url.render_as_string(hide_password=False), timeout=5)


async def _create_database(url: URL) -> None:
    connection = await _connect(url.set(database="postgres"))
    try:
        await connection.execute(f'CREATE DATABASE "{url.database}"')
        await connection.execute(f"COMMENT ON DATABASE \"{url.database}\" IS '{MARK}'")
    finally:
        await connection.close()
