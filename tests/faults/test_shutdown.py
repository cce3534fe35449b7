"""SIGTERM while appends wait for a database that another session or process has locked.

uvicorn gave open requests the grace (``EVENTSTORE_SHUTDOWN_GRACE_SECONDS``), then cancelled
them: on PostgreSQL, with the events table locked, three appends in flight were answered 500
("graceful shutdown exceeded") although they were committed later, when the lock went, and the
process took 38 s to exit. Now an append that cannot finish within the grace is answered 503
with ``Retry-After`` and is never stored (retried after a restart with the same ids, it is stored
now, once: a 201, not a replayed 200); the open stream ends with a complete body; and the
process exits within the grace plus `EXIT_MARGIN`, whatever the database does.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.engines import database_url
from tests.support.live_server import ServiceProcess, service_process
from tests.support.locks import (
    assert_unavailable,
    sqlite_lock_file_held,
    sqlite_write_lock_held,
    table_locked,
)
from tests.support.sse import open_stream

pytestmark = pytest.mark.anyio

GRACE = 2
EXIT_MARGIN = 5.0
"""The documented bound is the grace plus 2 s (closing the database's connections); 3 s more
for a loaded machine."""
APPENDS = 3


def service_env(url: str) -> dict[str, str]:
    """Database timeouts far longer than the grace: the lock outlasts the shutdown."""
    return {
        "EVENTSTORE_DATABASE_URL": url,
        "EVENTSTORE_LOG_LEVEL": "info",
        "EVENTSTORE_API_TOKENS": "{}",
        "EVENTSTORE_SHUTDOWN_GRACE_SECONDS": str(GRACE),
        "EVENTSTORE_DB_LOCK_TIMEOUT_SECONDS": "60",
        "EVENTSTORE_DB_STATEMENT_TIMEOUT_SECONDS": "60",
        "EVENTSTORE_SQLITE_BUSY_TIMEOUT_MS": "60000",
    }


def appends() -> list[dict[str, Any]]:
    return [
        {"events": [{"id": str(uuid.uuid4()), "type": "Waiting", "tags": ["sigterm"]}]}
        for _ in range(APPENDS)
    ]


async def exit_seconds(service: ServiceProcess, started: float) -> float:
    """Wait for the process to exit; how long after ``started`` it did (or fail)."""
    try:
        await asyncio.to_thread(service.process.wait, GRACE + EXIT_MARGIN + 30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {GRACE + EXIT_MARGIN + 30} s after SIGTERM")
    return time.monotonic() - started


async def sigterm_while_appends_wait(
    url: str, locked: Callable[[], AbstractAsyncContextManager[None]], sent: list[dict[str, Any]]
) -> None:
    with service_process("app", service_env(url), inherit_settings=False) as service:
        async with (
            httpx.AsyncClient(base_url=service.base_url, timeout=60) as http,
            open_stream(http, {"after": 0}) as stream,
            locked(),
        ):
            waiting = [asyncio.create_task(http.post("/v1/events", json=b)) for b in sent]
            await asyncio.sleep(0.5)
            assert not any(task.done() for task in waiting), "an append did not wait"
            started = time.monotonic()
            service.process.send_signal(signal.SIGTERM)
            answers = await asyncio.gather(*waiting)
            answered = time.monotonic() - started
            rest = await stream.rest(timeout=GRACE + EXIT_MARGIN)  # complete, or it raises
            exited = await exit_seconds(service, started)
        output = service.output()

    for answer in answers:
        assert_unavailable(answer)
    assert answered < GRACE + 1, f"answered {answered:.2f} s after SIGTERM"
    assert rest == []
    assert stream.ended
    assert exited < GRACE + EXIT_MARGIN
    for logged in ("Exception in ASGI application", "without completing response", "Cancel"):
        assert logged not in output, output[-3000:]
    print(f"\n503 after {answered:.2f} s; exited after {exited:.2f} s (grace {GRACE} s)")


async def stored_once_after_restart(url: str, sent: list[dict[str, Any]]) -> None:
    with service_process("app", service_env(url), inherit_settings=False) as service:
        async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as http:
            retried = [await http.post("/v1/events", json=body) for body in sent]
            stored = (await http.get("/v1/events", params={"tag": "sigterm"})).json()["events"]
    assert [answer.status_code for answer in retried] == [201] * APPENDS  # not replays
    assert sorted(event["id"] for event in stored) == sorted(
        body["events"][0]["id"] for body in sent
    )


@pytest.mark.postgres
async def test_sigterm_with_appends_waiting_on_a_locked_postgres_table(tmp_path: Path) -> None:
    url = await database_url("postgres", tmp_path)
    with service_process("app", service_env(url), inherit_settings=False):
        pass  # the schema, so that there is a table to lock

    @asynccontextmanager
    async def locked() -> AsyncIterator[None]:
        async with table_locked(url):
            yield

    sent = appends()
    await sigterm_while_appends_wait(url, locked, sent)
    await stored_once_after_restart(url, sent)


@pytest.mark.parametrize("holder", ["foreign writer", "another service process"])
async def test_sigterm_with_appends_waiting_on_a_locked_sqlite_file(
    tmp_path: Path, holder: str
) -> None:
    # A foreign writer holds SQLite's own lock (the busy handler waits); another service
    # process holds the lock file (a blocking flock waits, in a thread that cannot be stopped).
    path = tmp_path / "store.db"
    url = f"sqlite:///{path}"
    with service_process("app", service_env(url), inherit_settings=False):
        pass  # the schema, so that the file exists
    hold = sqlite_write_lock_held if holder == "foreign writer" else sqlite_lock_file_held

    @asynccontextmanager
    async def locked() -> AsyncIterator[None]:
        with hold(path):
            yield

    sent = appends()
    await sigterm_while_appends_wait(url, locked, sent)
    await stored_once_after_restart(url, sent)
