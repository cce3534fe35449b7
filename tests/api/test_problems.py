"""Errors outside the domain: unknown routes, wrong methods, unexpected exceptions."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import httpx
import pytest

from app.domain import AppendCondition, AppendResult, EventInput
from app.errors import WriteRefused
from app.storage.memory import MemoryEngine
from tests.support.api import (
    api_client,
    append,
    assert_problem,
    client_for,
    event,
    make_settings,
    running_app,
)

pytestmark = pytest.mark.anyio


class BrokenEngine(MemoryEngine):
    """An in-memory store with a bug in `head`, once ``broken`` is set."""

    broken = False

    async def head(self) -> int:
        if self.broken:
            raise RuntimeError("secret internal detail")
        return await super().head()


async def test_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v2/nothing")

    body = assert_problem(response, 404, "/problems/not-found")
    assert "/v2/nothing" in body["detail"]


async def test_wrong_method_is_a_405_problem_allowing_every_method_of_the_path(
    client: httpx.AsyncClient,
) -> None:
    response = await client.delete("/v1/events")

    assert_problem(response, 405, "about:blank")
    assert response.headers["allow"] == "GET, POST"


async def test_unexpected_exception_is_a_500_problem_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = BrokenEngine()
    async with running_app(make_settings(), store=store) as app:
        store.broken = True
        async with client_for(app, raise_app_exceptions=False) as client:
            with caplog.at_level(logging.ERROR, logger="app.api.problems"):
                response = await client.get("/v1/head")

    assert_problem(response, 500, "about:blank")
    assert "secret internal detail" not in response.text
    assert any("GET /v1/head" in record.getMessage() for record in caplog.records)


class RefusingEngine(MemoryEngine):
    """An in-memory store whose database refuses every append's rows (a trigger of its own)."""

    async def append(
        self, events: Sequence[EventInput], condition: AppendCondition | None = None
    ) -> AppendResult:
        raise WriteRefused("SQLite refused the rows: secret trigger text")


async def test_rows_the_database_refuses_are_a_422_write_refused_problem(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with api_client(store=RefusingEngine()) as client:
        with caplog.at_level(logging.WARNING, logger="app.api.problems"):
            response = await append(client, event("A"))

    body = assert_problem(response, 422, "/problems/write-refused")
    assert "nothing was stored" in body["detail"]
    assert "secret trigger text" not in response.text
    assert any("secret trigger text" in record.getMessage() for record in caplog.records)
