"""The test suite empties only databases it created itself (`tests.support.postgres`): pointed
at a database that holds anything else, it stops instead of wiping it."""

from __future__ import annotations

import os
import uuid

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.support.engines import POSTGRES_URL_VARIABLE, postgres_unavailable
from tests.support.postgres import NotCreatedByTests, recreate_schema

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


async def test_a_database_the_suite_did_not_create_is_never_emptied() -> None:
    configured = os.environ.get(POSTGRES_URL_VARIABLE)
    if not configured:
        postgres_unavailable(f"{POSTGRES_URL_VARIABLE} is not set")
    server = make_url(configured).set(drivername="postgresql")
    name = f"eventstore_foreign_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(
        server.set(database="postgres").render_as_string(hide_password=False)
    )
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        foreign = server.set(database=name).render_as_string(hide_password=False)
        owner = await asyncpg.connect(foreign)
        try:
            await owner.execute("CREATE TABLE precious (value text)")
            await owner.execute("INSERT INTO precious VALUES ('kept')")
        finally:
            await owner.close()

        with pytest.raises(NotCreatedByTests, match=name):
            await recreate_schema(make_url(configured).set(database=name).render_as_string(False))

        owner = await asyncpg.connect(foreign)
        try:
            assert await owner.fetchval("SELECT value FROM precious") == "kept"
        finally:
            await owner.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.close()
