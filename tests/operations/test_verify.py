"""``eventstore verify`` passes on a sound store and fails, with a report naming what it found,
on one corrupted on purpose: a deleted event, a dangling tag row, counts that lie, a schema
behind the latest revision."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from app.storage.sql.operations.database import run_on, writing
from tests.operations.conftest import KINDS, empty_store
from tests.support.stores import eventstore, fill_store

EVENTS = 3000


def corrupt(url: str, *statements: str) -> None:
    def work(conn: Connection) -> None:
        with writing(conn):
            for statement in statements:
                conn.execute(text(statement))

    run_on([url], work)


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url = asyncio.run(empty_store(request.param, tmp_path, "verified"))
    asyncio.run(fill_store(url, EVENTS))
    return url


def verify(url: str) -> tuple[int, str]:
    done = eventstore("verify", "--database-url", url, check=False)
    return done.returncode, done.stdout + done.stderr


def test_a_sound_store_passes(store: str) -> None:
    status, report = verify(store)
    assert status == 0, report
    assert "FAIL" not in report
    assert "every check passed" in report


CORRUPTIONS: dict[str, tuple[list[str], list[str]]] = {
    "a deleted event": (
        ["DELETE FROM events WHERE position = 1234"],
        ["FAIL  positions 1..head without holes", "holes begin at 1234", "position 1234: no such"],
    ),
    "a dangling tag": (
        ["INSERT INTO event_tags (tag, position) VALUES ('ghost', 999999)"],
        ["FAIL  tag rows point at events", "tag 'ghost' at position 999999: no such event"],
    ),
    "a lost tag row": (
        ["DELETE FROM event_tags WHERE tag = 'flagged' AND position = 6"],
        ["FAIL  every tag of every event has its row"],
    ),
    "counts that lie": (
        ["UPDATE tag_counts SET event_count = event_count + 1 WHERE tag = 'course:c3'"],
        ["FAIL  discovery counts equal the log", "tag 'course:c3'"],
    ),
    "an old schema": (
        ["UPDATE alembic_version SET version_num = '0001'"],
        ["FAIL  migrations current", "revision 0001, this version's is 0003"],
    ),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_a_corrupted_store_fails_with_a_report(store: str, corruption: str) -> None:
    statements, expected = CORRUPTIONS[corruption]
    corrupt(store, *statements)
    status, report = verify(store)
    assert status == 1, report
    for line in expected:
        assert line in report


def test_sqlite_integrity_is_checked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    asyncio.run(fill_store(url, 200))
    status, report = verify(url)
    assert status == 0
    assert "ok    SQLite integrity_check" in report


def test_a_store_never_migrated_fails(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    status, report = verify(url)
    assert status == 1
    assert "never migrated" in report
