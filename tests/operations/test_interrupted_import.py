"""An import killed half way (SIGKILL, a real process) and run again leaves the target exactly
equal to the source: every event once, at its position, with its counts and snapshots."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from app.storage.sql.operations.database import run_on
from tests.operations.conftest import KINDS, empty_store
from tests.support.live_server import REPO
from tests.support.stores import cli_env, eventstore, eventstore_command, fill_store

EVENTS = 60_000
BATCH = 100
"""Events per transaction of the import: many transactions, so that the kill lands inside."""


def head(url: str) -> int:
    def work(conn: Connection) -> int:
        try:
            with conn.begin():
                return int(conn.execute(text("SELECT max(position) FROM events")).scalar() or 0)
        except SQLAlchemyError:
            return 0  # not migrated yet

    return run_on([url], work)


@pytest.mark.parametrize("kind", KINDS)
def test_an_import_killed_half_way_completes_when_run_again(kind: str, tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    asyncio.run(fill_store(source, EVENTS))
    exported = tmp_path / "export.ndjson"
    eventstore("export", exported, "--database-url", source)
    target = asyncio.run(empty_store(kind, tmp_path, "interrupted"))

    importing = subprocess.Popen(
        eventstore_command(
            "import", exported, "--database-url", target, "--batch-size", str(BATCH)
        ),
        cwd=REPO,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    try:
        while head(target) < EVENTS // 10:
            assert importing.poll() is None, "the import ended before it could be killed"
            assert time.monotonic() < deadline, "the import stored nothing in two minutes"
            time.sleep(0.02)
        importing.send_signal(signal.SIGKILL)
    finally:
        importing.kill()
        importing.wait()
    killed_at = head(target)
    assert 0 < killed_at < EVENTS, "the kill did not land half way: make the store larger"

    again = eventstore("import", exported, "--database-url", target)
    assert f"{EVENTS - killed_at} events stored, {killed_at} already there" in " ".join(
        again.stderr.split()
    )
    copy = tmp_path / "target.ndjson"
    eventstore("export", copy, "--database-url", target)
    assert copy.read_bytes() == exported.read_bytes()
    eventstore("verify", "--database-url", target)
