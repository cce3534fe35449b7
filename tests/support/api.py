"""Building an API client over ASGI for one app, and small request helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast
from uuid import uuid4

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from app.api.state import ServiceState
from app.config import Settings
from app.main import create_app
from app.storage.protocol import EventStorageEngine


def make_settings(**overrides: Any) -> Settings:
    """In-memory settings, with every value the API tests rely on set explicitly (so that an
    ``EVENTSTORE_*`` variable in the environment cannot change them)."""
    values: dict[str, Any] = {
        "database_url": "memory://",
        "max_body_bytes": 4 * 1024 * 1024,
        "max_events_per_append": 1000,
        "max_read_limit": 1000,
        "max_query_items": 100,
        "max_values_per_item": 100,
        "snapshot_after_events": 100,
        "metadata_tag_keys": [],
        "api_tokens": {},
        "api_tokens_file": None,
        "metrics_public": False,
        "append_rate_per_token": None,
        "max_streams": 10_000,
        "max_streams_per_token": 1_000,
        "cors_origins": [],
    }
    values.update(overrides)
    return Settings(**values)


@dataclass(frozen=True)
class RunningApp:
    """An app whose lifespan runs, called as a server calls it: each request's scope gets a
    shallow copy of the lifespan ``state``, as uvicorn gives it."""

    app: FastAPI
    state: ServiceState

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app({**scope, "state": dict(self.state)}, receive, send)


@asynccontextmanager
async def running_app(
    settings: Settings, *, store: EventStorageEngine | None = None
) -> AsyncIterator[RunningApp]:
    """`create_app(settings)` with its lifespan running; ``store`` replaces the engine that
    the settings would build."""
    app = (
        create_app(settings) if store is None else create_app(settings, build_store=lambda _: store)
    )
    async with LifespanManager(app) as manager:
        # asgi-lifespan keeps the state the lifespan yielded here (it has no public accessor).
        yield RunningApp(app, cast(ServiceState, manager._state))


def client_for(app: RunningApp, *, raise_app_exceptions: bool = True) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    return httpx.AsyncClient(transport=transport, base_url="http://eventstore.test")


@asynccontextmanager
async def api_client(
    settings: Settings | None = None, *, store: EventStorageEngine | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        running_app(settings or make_settings(), store=store) as app,
        client_for(app) as client,
    ):
        yield client


def event(event_type: str = "Happened", *tags: str, **fields: Any) -> dict[str, Any]:
    return {"type": event_type, "tags": list(tags), **fields}


async def append(client: httpx.AsyncClient, *events: dict[str, Any], **body: Any) -> httpx.Response:
    return await client.post("/v1/events", json={"events": list(events), **body})


async def append_ok(client: httpx.AsyncClient, *events: dict[str, Any]) -> list[int]:
    response = await append(client, *events)
    assert response.status_code == 201, response.text
    positions: list[int] = response.json()["positions"]
    return positions


def new_id() -> str:
    return str(uuid4())


def assert_problem(response: httpx.Response, status: int, problem_type: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == problem_type
    assert body["status"] == status
    assert isinstance(body["title"], str)
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


def error_locs(body: dict[str, Any]) -> list[list[str | int]]:
    return [error["loc"] for error in body["errors"]]


def raw_append_scope(content_length: int) -> Scope:
    """The ASGI scope of ``POST /v1/events`` declaring ``content_length``, for tests that call
    the app as raw ASGI (to control what ``receive`` hands it)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/events",
        "raw_path": b"/v1/events",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"eventstore.test"),
            (b"content-type", b"application/json"),
            (b"content-length", str(content_length).encode()),
        ],
        "client": ("127.0.0.1", 1234),
        "server": ("eventstore.test", 80),
    }
