"""A real browser's EventSource reads ``GET /v1/events/stream`` across origins.

The service runs as a real process (``python -m app``) with ``EVENTSTORE_CORS_ORIGINS`` naming the
origin of a small static site served by this test; a second static site, on another port, is an
origin the service does not allow. Headless Chromium loads a page that opens
``new EventSource(SERVICE + "/v1/events/stream?after=0&tag=...")`` and writes what it received
(each message's ``lastEventId`` and parsed ``data``) into the DOM, which the test reads back
(see `tests.browser.chromium`).

- From the allowed origin, events appended before the page loads (catch-up) and while it is open
  (live) all arrive, exactly once, in position order, ids equal to positions, data intact; events
  with another tag do not. The page tells the static site how many events it has (``/progress``),
  so the live events are appended only once it has caught up on an open stream.
- From the other origin, the browser refuses the stream (no ``Access-Control-Allow-Origin``): the
  EventSource fails for good and the page receives nothing.
- With streams that end every half second, the browser reconnects by itself, cross-origin, with
  ``Last-Event-ID``, and still gets every event exactly once (the URL says ``after=0``: a
  reconnect that ignored the header would deliver duplicates).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.support.chromium import dump_dom
from tests.support.live_server import live_server
from tests.support.site import (
    DOM_SECONDS,
    Progress,
    StaticSite,
    append,
    event,
    page_dom,
    page_result,
    wait_for_page,
    write_html,
)

PAGE = """<!doctype html>
<html>
<head><meta charset="utf-8"><title>open</title></head>
<body>
<pre id="result"></pre>
<script>
"use strict";
const PAGE = {page};
const STREAM_URL = {stream_url};
const WANT = {want};
const result = {{state: "open", messages: [], errors: 0, readyState: null}};
const source = new EventSource(STREAM_URL);

function finish(state) {{
  result.state = state;
  result.readyState = source.readyState;
  document.getElementById("result").textContent = JSON.stringify(result);
  document.title = state;
}}

function progress() {{
  const query = "?page=" + encodeURIComponent(PAGE) + "&n=" + result.messages.length
    + "&errors=" + result.errors;
  fetch("/progress" + query).catch(() => {{}});
}}

source.onopen = progress;
source.onmessage = (message) => {{
  try {{
    result.messages.push({{id: message.lastEventId, data: JSON.parse(message.data)}});
    if (result.messages.length >= WANT) {{
      source.close();  // nothing in flight any more: Chromium dumps the DOM
      finish("complete");
    }} else {{
      progress();
    }}
  }} catch (error) {{
    source.close();
    finish("page error: " + error);
  }}
}};
source.onerror = () => {{
  result.errors += 1;
  if (source.readyState === EventSource.CLOSED) {{
    finish("closed");  // failed for good (a refused CORS check does that); no reconnect
  }} else {{
    progress();  // reconnecting, with Last-Event-ID
  }}
}};
</script>
</body>
</html>
"""


@pytest.fixture(scope="module")
def service(
    chromium: str, allowed_site: StaticSite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The service, allowing only ``allowed_site``'s origin (requests ``chromium`` first, so
    that nothing starts when the browser tests are skipped)."""
    store = tmp_path_factory.mktemp("store") / "store.db"
    env = {
        "EVENTSTORE_DATABASE_URL": f"sqlite:///{store}",
        "EVENTSTORE_CORS_ORIGINS": json.dumps([allowed_site.origin]),
    }
    with live_server(env) as url:
        yield url


def write_page(site: StaticSite, name: str, service: str, stream: str, want: int) -> str:
    """Write the EventSource page into ``site``; return its URL."""
    page = PAGE.format(
        page=json.dumps(name), stream_url=json.dumps(f"{service}{stream}"), want=want
    )
    return write_html(site, name, page)


def test_an_allowed_origin_gets_catch_up_and_live_events_exactly_once_in_order(
    chromium: str, allowed_site: StaticSite, service: str
) -> None:
    tag, other = "browser:allowed", "browser:elsewhere"
    before = [
        *append(service, event(tag, 1), event(other, 101)),
        *append(service, event(tag, 2)),
        *append(service, event(other, 102), event(tag, 3)),
    ]
    caught_up = 3
    wanted = 6
    stream = f"/v1/events/stream?after=0&tag={tag}"
    url = write_page(allowed_site, "allowed", service, stream, wanted)

    with dump_dom(chromium, url) as browser:
        # Catch-up: the page has the three earlier events and its stream is still open.
        wait_for_page(allowed_site, "allowed", Progress(caught_up, 0), browser)
        # Live: appended while the page listens; one at a time, then several at once.
        after = [
            *append(service, event(tag, 4)),
            *append(service, event(other, 103), event(tag, 5), event(tag, 6)),
        ]
        dom = page_dom(allowed_site, "allowed", browser)

    result = page_result(dom)
    assert result["state"] == "complete", result
    assert result["errors"] == 0, result
    messages = result["messages"]
    assert len(messages) == wanted

    read = httpx.get(f"{service}/v1/events", params={"tag": tag, "after": 0}, timeout=10)
    stored = read.json()["events"]
    positions = [e["position"] for e in stored]
    assert positions == sorted(positions)
    assert positions == [before[0], before[2], before[4], after[0], after[2], after[3]]
    # Every event once, in position order, ids equal to positions, each the stored event as is.
    assert [m["id"] for m in messages] == [str(p) for p in positions]
    assert [m["data"] for m in messages] == stored
    assert [m["data"]["data"] for m in messages] == [event(tag, n)["data"] for n in range(1, 7)]


def test_another_origin_is_refused_and_receives_nothing(
    chromium: str, other_site: StaticSite, service: str
) -> None:
    tag = "browser:refused"
    append(service, event(tag, 1), event(tag, 2))
    url = write_page(other_site, "refused", service, f"/v1/events/stream?after=0&tag={tag}", 1)

    with dump_dom(chromium, url) as browser:
        dom = browser.dom(timeout=DOM_SECONDS)
        console = browser.console()

    result = page_result(dom)
    assert result["messages"] == [], result
    assert result["state"] == "closed", result  # failed for good: EventSource.CLOSED
    assert result["readyState"] == 2, result
    assert "CORS" in console, console  # Chromium logs why: the stream had no ACAO header


@pytest.fixture(scope="module")
def short_stream_service(
    chromium: str, allowed_site: StaticSite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Like ``service``, but every stream ends after half a second: EventSource reconnects."""
    store = tmp_path_factory.mktemp("store") / "store.db"
    env = {
        "EVENTSTORE_DATABASE_URL": f"sqlite:///{store}",
        "EVENTSTORE_CORS_ORIGINS": json.dumps([allowed_site.origin]),
        "EVENTSTORE_STREAM_MAX_SECONDS": "0.5",
    }
    with live_server(env) as url:
        yield url


def test_reconnects_resume_after_the_last_event_id(
    chromium: str, allowed_site: StaticSite, short_stream_service: str
) -> None:
    service, tag = short_stream_service, "browser:reconnect"
    positions = [*append(service, event(tag, 1)), *append(service, event(tag, 2))]
    stream = f"/v1/events/stream?after=0&tag={tag}"
    url = write_page(allowed_site, "reconnect", service, stream, 5)

    # Each reconnect waits EventSource's retry delay in virtual time: a budget with room for many.
    with dump_dom(chromium, url, virtual_time_budget_ms=600_000) as browser:
        wait_for_page(allowed_site, "reconnect", Progress(2, 1), browser)
        positions += append(service, event(tag, 3))
        wait_for_page(allowed_site, "reconnect", Progress(3, 2), browser)
        positions += append(service, event(tag, 4), event(tag, 5))
        dom = page_dom(allowed_site, "reconnect", browser)

    result = page_result(dom)
    assert result["state"] == "complete", result
    assert result["errors"] >= 2, result  # its streams did end, and it reconnected
    # No duplicates although the URL says after=0: each reconnect resumed after Last-Event-ID.
    assert [m["id"] for m in result["messages"]] == [str(p) for p in positions]
    assert [m["data"]["data"] for m in result["messages"]] == [
        event(tag, n)["data"] for n in range(1, 6)
    ]
