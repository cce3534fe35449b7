"""Errors outside the domain: unknown routes, wrong methods, unexpected exceptions."""

from __future__ import annotations

import logging

import httpx
import pytest

from app.storage.memory import MemoryEngine
from tests.support.api import assert_problem, client_for, make_settings, running_app

pytestmark = pytest.mark.anyio


class BrokenEngine(MemoryEngine):
    async def head(self) -> int:
        raise RuntimeError("secret internal detail")


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
    async with running_app(make_settings()) as app:
        app.state.engine = BrokenEngine()
        async with client_for(app, raise_app_exceptions=False) as client:
            with caplog.at_level(logging.ERROR, logger="app.api.problems"):
                response = await client.get("/v1/head")

    assert_problem(response, 500, "about:blank")
    assert "secret internal detail" not in response.text
    assert any("GET /v1/head" in record.getMessage() for record in caplog.records)
