"""Tokens reloaded by a running service (a real process): on SIGHUP, and when the tokens file
changes, without a restart and without dropping an open stream; a file that cannot be used keeps
the tokens in use and the log says why (without a token)."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from app.access.tokens import Scope, token_line
from tests.support.live_server import ServiceProcess, service_process
from tests.support.sse import open_stream
from tests.support.streams import client_for, event, service_env
from tests.support.tickets import bearer

pytestmark = pytest.mark.anyio

OLD = "old-token-s3cret-4b7a1c"
NEW = "new-token-s3cret-9f2d6e"
RELOAD_SECONDS = 10.0
"""How long a reload may take to be seen by the next request."""


def line(name: str, token: str) -> str:
    return token_line(name, token, [Scope.READ, Scope.APPEND]) + "\n"


def write(path: Path, text: str) -> None:
    path.write_text(text)


@pytest.fixture
def tokens_file(tmp_path: Path) -> Path:
    path = tmp_path / "tokens"
    path.write_text(line("old", OLD))
    return path


def serving(tmp_path: Path, tokens_file: Path, *, watch_seconds: float) -> Iterator[ServiceProcess]:
    env = service_env(
        f"sqlite:///{tmp_path / 'store.db'}",
        api_tokens_file=str(tokens_file),
        api_tokens_reload_seconds=str(watch_seconds),
        log_level="info",
    )
    with service_process("app", env) as service:
        yield service


@pytest.fixture
def service(tmp_path: Path, tokens_file: Path) -> Iterator[ServiceProcess]:
    """A service that reloads on SIGHUP only."""
    yield from serving(tmp_path, tokens_file, watch_seconds=0)


@pytest.fixture
def watching_service(tmp_path: Path, tokens_file: Path) -> Iterator[ServiceProcess]:
    yield from serving(tmp_path, tokens_file, watch_seconds=0.2)


async def status_with(client: httpx.AsyncClient, token: str) -> int:
    return (await client.get("/v1/head", headers=bearer(token))).status_code


async def eventually(client: httpx.AsyncClient, token: str, status: int) -> None:
    with anyio.fail_after(RELOAD_SECONDS):
        while await status_with(client, token) != status:  # noqa: ASYNC110 - nothing to wait on
            await anyio.sleep(0.05)


async def test_sighup_reloads_the_tokens_and_open_streams_go_on(
    service: ServiceProcess, tokens_file: Path
) -> None:
    async with client_for(service.base_url) as client:
        assert await status_with(client, NEW) == 401
        async with open_stream(client, {"after": 0}, headers=bearer(OLD)) as stream:
            write(tokens_file, line("new", NEW))  # the old token is removed
            await anyio.sleep(0.5)
            assert await status_with(client, NEW) == 401  # not watched: only SIGHUP reloads
            service.process.send_signal(signal.SIGHUP)
            await eventually(client, NEW, 200)
            assert await status_with(client, OLD) == 401
            stored = await client.post(
                "/v1/events", json={"events": [event("AfterReload")]}, headers=bearer(NEW)
            )
            assert stored.status_code == 201
            message = await stream.next_event()
            assert message is not None
            assert message.event()["type"] == "AfterReload"
        assert service.process.poll() is None
    assert "tokens reloaded" in service.output()


async def test_a_changed_file_is_reloaded_without_a_signal(
    watching_service: ServiceProcess, tokens_file: Path
) -> None:
    async with client_for(watching_service.base_url) as client:
        assert await status_with(client, NEW) == 401
        replacement = tokens_file.with_name("tokens.new")
        write(replacement, line("old", OLD) + line("new", NEW))
        replacement.rename(tokens_file)  # as configuration tools replace files
        await eventually(client, NEW, 200)
        assert await status_with(client, OLD) == 200


async def test_a_bad_file_keeps_the_tokens_in_use_and_says_why(
    service: ServiceProcess, tokens_file: Path
) -> None:
    async with client_for(service.base_url) as client:
        write(tokens_file, line("new", NEW) + f"broken {NEW}\n")
        service.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + RELOAD_SECONDS
        while "tokens not reloaded" not in service.output():
            assert time.monotonic() < deadline, service.output()
            await anyio.sleep(0.05)
        assert await status_with(client, OLD) == 200
        assert await status_with(client, NEW) == 401
    output = service.output()
    assert f"{tokens_file}, line 2" in output
    assert NEW not in output
    assert OLD not in output


async def test_tokens_reload_logs_are_json_when_asked(tmp_path: Path, tokens_file: Path) -> None:
    env = service_env(
        f"sqlite:///{tmp_path / 'store.db'}",
        api_tokens_file=str(tokens_file),
        api_tokens_reload_seconds="0",
        log_level="info",
        log_format="json",
    )
    with service_process("app", env) as service:
        async with client_for(service.base_url) as client:
            stored = await client.post(
                "/v1/events",
                json={"events": [event("A"), event("B")]},
                headers={**bearer(OLD), "X-Request-ID": "op-7"},
            )
            assert stored.headers["x-request-id"] == "op-7"
            service.process.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + RELOAD_SECONDS
            while "tokens reloaded" not in service.output():
                assert time.monotonic() < deadline, service.output()
                await anyio.sleep(0.05)
        output = service.output()
    lines = [json.loads(text) for text in output.splitlines() if text.strip()]
    (append,) = [entry for entry in lines if entry.get("request_id") == "op-7"]
    assert append["route"] == "/v1/events"
    assert append["status"] == 201
    assert append["token"] == "old"
    assert append["positions"] == [1, 2]
    assert append["duration_ms"] > 0
    assert any(entry["logger"] == "app.access.reload" for entry in lines)
    assert OLD not in output
