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

    assert_problem(response, 405, "/problems/method-not-allowed")
    assert response.headers["allow"] == "GET, POST"


async def test_unexpected_exception_is_a_500_problem_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = BrokenEngine()
    async with running_app(make_settings(), store=store) as app:
        store.broken = True
        async with client_for(app, raise_app_exceptions=False) as client:
            with caplog.at_level(logging.ERROR, logger="app.api.problems"):
                response = await client.get("/v1/head", headers={"X-Request-ID": "trace-500"})

    assert_problem(response, 500, "about:blank")
    assert "secret internal detail" not in response.text
    assert response.headers["x-request-id"] == "trace-500"
    logged = [record.getMessage() for record in caplog.records]
    assert any("GET /v1/head (request trace-500)" in message for message in logged), logged


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


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_trailing_slash_is_a_404_naming_the_path_without_it(
    client: httpx.AsyncClient, method: str
) -> None:
    response = await client.request(method, "/v1/events/", json={"events": [event("A")]})

    body = assert_problem(response, 404, "/problems/not-found")
    assert body["detail"].endswith("paths have no trailing slash: /v1/events")
    assert (await client.get("/v1/head")).json() == {"head": 0}


async def test_every_problem_type_resolves_to_a_page_that_explains_it(
    client: httpx.AsyncClient,
) -> None:
    """The type of a problem body, resolved against the service, is a page for people."""
    problem = (await client.delete("/v1/events")).json()

    page = await client.get(problem["type"], headers={"Accept": "text/html"})
    listed = (await client.get("/problems")).json()

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Method not allowed" in page.text
    assert "Allow" in page.text
    assert {entry["type"] for entry in listed} >= {
        "/problems/validation",
        "/problems/append-condition-failed",
        "/problems/event-id-reused",
        "/problems/method-not-allowed",
        "/problems/write-refused",
    }
    for entry in listed:
        explained = (await client.get(entry["type"])).json()
        assert explained["status"] == entry["status"]
        assert explained["meaning"]
        assert explained["remedy"]


async def test_an_unknown_problem_type_is_a_404_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/problems/no-such"), 404, "/problems/not-found")


async def test_the_root_leads_to_the_docs(client: httpx.AsyncClient) -> None:
    as_json = (await client.get("/")).json()
    as_page = await client.get("/", headers={"Accept": "text/html,application/xhtml+xml"})

    assert as_json["docs"] == "/docs"
    assert as_json["openapi"] == "/openapi.json"
    assert as_page.status_code == 200
    assert 'href="/docs"' in as_page.text


async def test_a_page_on_a_refused_origin_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The browser hides the refusal from the page; the operator learns of it from the log."""
    settings = make_settings(cors_origins=["https://allowed.example"])
    async with api_client(settings) as client:
        with caplog.at_level(logging.INFO, logger="app.api.cors"):
            for origin in [
                "https://other.example",
                "https://other.example",
                "https://allowed.example",
            ]:
                await client.get("/v1/head", headers={"Origin": origin})
            await client.post(
                "/v1/events",
                json={"events": [event("A")]},
                headers={"Origin": "http://eventstore.test"},  # the service's own origin
            )

    lines = [record.getMessage() for record in caplog.records if record.name == "app.api.cors"]
    assert len(lines) == 1
    assert "'https://other.example'" in lines[0]
    assert "EVENTSTORE_CORS_ORIGINS" in lines[0]
