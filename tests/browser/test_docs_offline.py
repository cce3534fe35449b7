"""The interactive API docs work on a machine with no internet: /docs (Swagger UI) and /redoc
load everything from the service, list every operation, and Swagger's "Try it out" appends
with its pre-filled example, twice in a row (the first example carries no ids and no
condition, so the second send is not a replay nor a conflict)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.driven_browser import offline_page
from tests.support.live_server import live_server

WAIT_MS = 20_000
OPERATIONS = ["append_events", "read_events", "list_events", "stream_events", "put_snapshot"]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = tmp_path_factory.mktemp("store") / "store.db"
    with live_server({"EVENTSTORE_DATABASE_URL": f"sqlite:///{store}"}) as url:
        yield url


def test_swagger_ui_appends_with_try_it_out_twice_offline(chromium: str, base_url: str) -> None:
    with offline_page(chromium, base_url) as opened:
        page = opened.page
        page.goto(f"{base_url}/docs")
        page.wait_for_selector(".opblock", timeout=WAIT_MS)
        for operation_id in OPERATIONS:
            assert page.locator(f"[id$='-{operation_id}']").count() == 1, operation_id

        append = page.locator("[id$='-append_events']")
        append.locator(".opblock-summary").click()
        append.locator(".try-out__btn").click()
        statuses = []
        for _ in range(2):
            append.locator(".execute").click()
            status = append.locator(".live-responses-table tbody .response-col_status").first
            status.wait_for(timeout=WAIT_MS)
            statuses.append(status.inner_text().strip())
            append.locator(".btn-clear").click()

        assert opened.foreign == []
    assert statuses == ["201", "201"]
    assert httpx.get(f"{base_url}/v1/head").json() == {"head": 2}


def test_redoc_renders_every_operation_offline(chromium: str, base_url: str) -> None:
    with offline_page(chromium, base_url) as opened:
        page = opened.page
        page.goto(f"{base_url}/redoc")
        page.get_by_role("heading", name="Append events").wait_for(timeout=WAIT_MS)
        text = page.inner_text("body")
        assert opened.foreign == []
    for summary in ["Append events", "Read events matching a query", "Store a snapshot"]:
        assert summary in text


def test_the_root_page_leads_to_the_docs(chromium: str, base_url: str, tmp_path: Path) -> None:
    with offline_page(chromium, base_url) as opened:
        page = opened.page
        page.goto(base_url)
        page.click("text=Interactive API docs")
        page.wait_for_selector(".opblock", timeout=WAIT_MS)
        assert page.url == f"{base_url}/docs"
