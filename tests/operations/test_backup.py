"""``eventstore backup`` while 8 clients append to a running service: the backup opens,
``verify`` passes on it, and it holds every event acknowledged before the backup started. On
PostgreSQL the command names pg_dump and its flags."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Connection, select

from app.storage.sql.operations.database import run_on
from app.storage.sql.tables import events
from tests.support.live_server import service_process, settings_env
from tests.support.stores import eventstore

CLIENTS = 8
BEFORE_BACKUP = 400
"""Events acknowledged before the backup starts."""


class Appender(threading.Thread):
    """Appends one event at a time until told to stop; keeps the ids acknowledged, in order."""

    def __init__(self, base_url: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.base_url, self.stop = base_url, stop
        self.acknowledged: list[uuid.UUID] = []
        self.lock = threading.Lock()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with httpx.Client(base_url=self.base_url, timeout=30) as client:
                while not self.stop.is_set():
                    event_id = uuid.uuid4()
                    body = {"events": [{"id": str(event_id), "type": "Ticked", "tags": ["t:1"]}]}
                    response = client.post("/v1/events", json=body)
                    assert response.status_code == 201, response.text
                    with self.lock:
                        self.acknowledged.append(event_id)
        except BaseException as error:  # reported by the test
            self.error = error

    def snapshot(self) -> list[uuid.UUID]:
        with self.lock:
            return list(self.acknowledged)


def stored_ids(url: str) -> set[uuid.UUID]:
    def work(conn: Connection) -> set[uuid.UUID]:
        with conn.begin():
            return set(conn.execute(select(events.c.id)).scalars())

    return run_on([url], work)


def test_a_backup_taken_while_clients_append_holds_everything_acknowledged_before(
    tmp_path: Path,
) -> None:
    database = f"sqlite:///{tmp_path / 'live.db'}"
    backup = tmp_path / "backup.db"
    stop = threading.Event()
    with service_process("app", settings_env(database), inherit_settings=False) as service:
        appenders = [Appender(service.base_url, stop) for _ in range(CLIENTS)]
        for appender in appenders:
            appender.start()
        try:
            while sum(len(a.snapshot()) for a in appenders) < BEFORE_BACKUP:
                assert all(a.error is None for a in appenders), [a.error for a in appenders]
                stop.wait(0.01)
            before = {event_id for a in appenders for event_id in a.snapshot()}
            made = eventstore("backup", backup, "--database-url", database)
            after = {event_id for a in appenders for event_id in a.snapshot()}
        finally:
            stop.set()
            for appender in appenders:
                appender.join(timeout=30)
        assert all(a.error is None for a in appenders), [a.error for a in appenders]
    assert "verified" in made.stdout
    assert len(after) > len(before), "the clients did not append while the backup was made"

    copy = f"sqlite:///{backup}"
    eventstore("verify", "--database-url", copy)
    in_backup = stored_ids(copy)
    assert before <= in_backup
    assert in_backup <= stored_ids(database)


def test_a_backup_never_overwrites_a_file(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'store.db'}"
    eventstore("migrate", "--database-url", database)
    existing = tmp_path / "existing.db"
    existing.write_bytes(b"keep me")
    refused = eventstore("backup", existing, "--database-url", database, check=False)
    assert refused.returncode == 1
    assert "never overwrites" in refused.stderr
    assert existing.read_bytes() == b"keep me"


@pytest.mark.postgres
def test_on_postgresql_the_backup_names_pg_dump_and_its_flags(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://app:secret@db.internal:5432/eventstore"
    said = eventstore("backup", tmp_path / "store.dump", "--database-url", url)
    assert "pg_dump --format=custom --no-owner --no-privileges" in said.stdout
    assert "--dbname=postgresql://app@db.internal:5432/eventstore" in said.stdout
    assert "secret" not in said.stdout
    assert "pg_restore" in said.stdout
