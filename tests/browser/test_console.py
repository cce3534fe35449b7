"""The console (`/console`), driven in headless Chromium against a real server, with every host
but the service unreachable: the overview counts and follows the store, a query for one course
pages to its last event, the tail goes on across a restart of the server without a gap or a
duplicate, stored HTML is shown as text and runs nothing, and with tokens the page asks for one.

Each view's screenshot is written to ``EVENTSTORE_SCREENSHOTS`` (default
``.artifacts/screenshots`` in the repository, which git ignores).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.driven_browser import offline_page
from tests.support.live_server import REPO, ServiceProcess, free_port, service_process

WAIT_MS = 15_000
SCREENSHOTS = Path(os.environ.get("EVENTSTORE_SCREENSHOTS", REPO / ".artifacts" / "screenshots"))
HOSTILE = {
    "img": "<img src=x onerror=window.pwned='img'>",
    "script": "<script>window.pwned='script'</script>",
}


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"console-{name}.png"), full_page=True)


def append(base_url: str, *events: dict[str, Any], token: str | None = None) -> list[int]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(f"{base_url}/v1/events", json={"events": list(events)}, headers=headers)
    assert response.status_code == 201, response.text
    positions: list[int] = response.json()["positions"]
    return positions


def course_event(n: int) -> dict[str, Any]:
    kind = ["CourseDefined", "StudentSubscribed", "CourseCapacityChanged"][n % 3]
    return {
        "type": kind,
        "data": {"course_id": f"c{n % 4}", "n": n},
        "tags": [f"course:c{n % 4}", f"student:s{n % 7}"],
        "metadata": {"source": "test"},
    }


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def server(store: str) -> Iterator[ServiceProcess]:
    env = {"EVENTSTORE_DATABASE_URL": store, "EVENTSTORE_HEARTBEAT_SECONDS": "1"}
    with service_process("app", env) as service:
        yield service


def rows(page: Page, table: str) -> list[int]:
    positions = page.eval_on_selector_all(
        f"#{table} tbody tr", "rows => rows.map(row => Number(row.dataset.position))"
    )
    return [int(p) for p in positions]


def test_the_overview_counts_the_store_and_follows_it(
    chromium: str, server: ServiceProcess
) -> None:
    base = server.base_url
    append(base, *(course_event(n) for n in range(12)))

    with offline_page(chromium, base) as opened:
        page = opened.page
        page.goto(f"{base}/console#/overview")
        expect(page.locator("#figure-events")).to_have_text("12", timeout=WAIT_MS)
        expect(page.locator("#overview-types tbody tr")).to_have_count(3)
        expect(page.locator("#overview-recent tbody tr").first).to_have_attribute(
            "data-position", "12"
        )
        expect(page.locator("#overview-status .dot.live")).to_have_count(1, timeout=WAIT_MS)
        screenshot(page, "overview")

        append(base, course_event(12))
        expect(page.locator("#overview-recent tbody tr").first).to_have_attribute(
            "data-position", "13", timeout=WAIT_MS
        )
        expect(page.locator("#figure-events")).to_have_text("13", timeout=WAIT_MS)
        assert opened.foreign == []


def test_a_query_for_one_course_shows_exactly_its_events_page_by_page(
    chromium: str, server: ServiceProcess
) -> None:
    base = server.base_url
    stored = append(base, *(course_event(n) for n in range(30)))
    expected = [p for n, p in enumerate(stored) if n % 4 == 1]  # course c1
    query = json.dumps({"items": [{"types": [], "tags": ["course:c1"]}]})

    seen: list[int] = []
    with offline_page(chromium, base) as opened:
        page = opened.page
        page.goto(f"{base}/console#/browse?{httpx.QueryParams(query=query, limit=3)}")
        for _ in range(10):
            page.locator("#browse-summary").filter(has_text="events").wait_for(timeout=WAIT_MS)
            seen += rows(page, "browse-events")
            if len(seen) == 3:
                screenshot(page, "browse")
            following = page.locator("#next-page")
            if following.count() == 0:
                break
            summary = page.locator("#browse-summary").inner_text()
            following.click()
            expect(page.locator("#browse-summary")).not_to_have_text(summary, timeout=WAIT_MS)
        assert opened.foreign == []

    assert seen == expected


@pytest.mark.parametrize("guarded", [False, True], ids=["open", "with-a-token"])
def test_the_tail_goes_on_across_a_restart_without_a_gap_or_a_duplicate(
    chromium: str, store: str, guarded: bool
) -> None:
    """With tokens the stream's ticket dies with the server that signed it: the page gets a
    new one and opens the stream again after its last event."""
    port = free_port()
    env = {"EVENTSTORE_DATABASE_URL": store, "EVENTSTORE_HEARTBEAT_SECONDS": "1"}
    token = None
    if guarded:
        token = "reader-writer-0123"
        env["EVENTSTORE_API_TOKENS"] = json.dumps({token: ["read", "append"]})
    with ExitStack() as servers:
        first = servers.enter_context(service_process("app", env, port=port))
        base = first.base_url

        def append_here(*events: dict[str, Any]) -> None:
            append(base, *events, token=token)

        append_here(*(course_event(n) for n in range(3)))
        with offline_page(chromium, base) as opened:
            page = opened.page
            if token:
                page.add_init_script(f"sessionStorage.setItem('eventstore.token', '{token}')")
            page.goto(f"{base}/console#/tail?after=0")
            expect(page.locator("#tail-events tbody tr")).to_have_count(3, timeout=WAIT_MS)
            append_here(course_event(3))
            expect(page.locator("#tail-events tbody tr")).to_have_count(4, timeout=WAIT_MS)

            servers.close()  # the server goes away, and comes back on the same address
            expect(page.locator("#tail-state")).to_have_text(
                "dropped: reconnecting", timeout=WAIT_MS
            )
            servers.enter_context(service_process("app", env, port=port))
            append_here(course_event(4), course_event(5))
            expect(page.locator("#tail-events tbody tr")).to_have_count(6, timeout=WAIT_MS)

            page.click("#tail-pause")
            append_here(course_event(6))
            page.wait_for_timeout(1500)  # it arrives while paused: held, not shown
            held = rows(page, "tail-events")
            page.click("#tail-pause")
            expect(page.locator("#tail-events tbody tr")).to_have_count(7, timeout=WAIT_MS)
            log = page.locator("#tail-log").inner_text()
            screenshot(page, "tail")
            shown = rows(page, "tail-events")
            assert opened.foreign == []

    assert held == [6, 5, 4, 3, 2, 1]
    assert shown == [7, 6, 5, 4, 3, 2, 1]  # newest first, each once, none missing
    assert "connection dropped" in log
    assert "resumed after position 4" in log


def test_stored_html_is_shown_as_text_and_runs_nothing(
    chromium: str, server: ServiceProcess
) -> None:
    base = server.base_url
    append(
        base,
        {
            "type": "<svg onload=window.pwned='type'>",
            "data": HOSTILE,
            "tags": ["<b onmouseover=window.pwned='tag'>bold</b>"],
            "metadata": {"note": HOSTILE["img"]},
        },
    )

    with offline_page(chromium, base) as opened:
        page = opened.page
        for view in ["overview", "browse", "tail?after=0", "types"]:
            page.goto(f"{base}/console#/{view}")
            page.get_by_text("<b onmouseover=window.pwned='tag'>bold</b>").first.wait_for(
                timeout=WAIT_MS
            )
            if view == "browse":
                expect(page.get_by_text(json.dumps(HOSTILE["img"])).first).to_be_visible()
                expect(page.get_by_text(json.dumps(HOSTILE["script"])).first).to_be_visible()
            assert page.evaluate("() => window.pwned") is None, view
            assert page.locator("#view img, #view script, #view svg").count() == 0, view
        screenshot(page, "types")


def test_with_tokens_the_page_asks_for_one_and_says_what_a_token_may_not_do(
    chromium: str, store: str
) -> None:
    tokens = {"reader-token-0123": ["read"], "writer-token-0123": ["append"]}
    env = {"EVENTSTORE_DATABASE_URL": store, "EVENTSTORE_API_TOKENS": json.dumps(tokens)}
    with service_process("app", env) as server:
        base = server.base_url
        append(base, course_event(0), course_event(1), token="writer-token-0123")
        with offline_page(chromium, base) as opened:
            page = opened.page
            page.goto(f"{base}/console#/overview")
            dialog = page.locator("#token-dialog")
            expect(dialog).to_be_visible(timeout=WAIT_MS)

            page.fill("#token-input", "writer-token-0123")
            page.click("#token-form button[value=use]")
            expect(page.locator("#notice")).to_contain_text("needs the scope read", timeout=WAIT_MS)

            page.click("#token-button")
            page.fill("#token-input", "reader-token-0123")
            page.click("#token-form button[value=use]")
            expect(page.locator("#figure-events")).to_have_text("2", timeout=WAIT_MS)
            expect(page.locator("#overview-status .dot.live")).to_have_count(1, timeout=WAIT_MS)
            stored_in = page.evaluate("() => [localStorage.length, sessionStorage.length]")
            assert opened.foreign == []

    assert stored_in == [0, 1]  # the token is kept in this tab's session only


def test_schemas_and_snapshots_are_shown(chromium: str, server: ServiceProcess) -> None:
    base = server.base_url
    append(base, course_event(0))
    schema = {"type": "object", "required": ["course_id"]}
    assert httpx.put(f"{base}/v1/event-types/CourseDefined/schema", json=schema).is_success
    snapshot = {"position": 1, "state": {"capacity": 10, "subscribed": ["s1"]}}
    assert httpx.put(f"{base}/v1/snapshots/course-state/c0", json=snapshot).is_success

    with offline_page(chromium, base) as opened:
        page = opened.page
        page.goto(f"{base}/console#/types/CourseDefined")
        expect(page.locator("#type-schema")).to_contain_text('"required"', timeout=WAIT_MS)
        page.goto(f"{base}/console#/snapshots?name=course-state&key=c0")
        expect(page.locator("#snapshot")).to_contain_text('"subscribed"', timeout=WAIT_MS)
        expect(page.locator("#snapshot")).to_contain_text("position 1")
        screenshot(page, "snapshots")
        page.goto(f"{base}/console#/snapshots?name=course-state&key=nope")
        expect(page.locator("#snapshot")).to_contain_text("No snapshot", timeout=WAIT_MS)
        assert opened.foreign == []
