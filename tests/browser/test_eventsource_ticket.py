"""A real browser page streams from a service with access control, the way the API documents it:
it fetches a stream ticket with its token, then opens an EventSource with ``?ticket=``.

The service runs as a real process with API tokens and ``EVENTSTORE_CORS_ORIGINS`` naming the
origin of the static site the page comes from (see `tests.browser.site`), so every request of the
page is cross-origin, as in production behind a separate front end. Headless Chromium runs the
page and the test reads back what it received (see `tests.browser.chromium`).

- The page ``fetch()``es ``POST /v1/stream-tickets`` with ``Authorization: Bearer``: the browser's
  CORS preflight for that header must pass. Then its EventSource receives the events appended
  before (catch-up) and while it is open (live), with its tag only, exactly once, in position
  order, ids equal to positions, data intact.
- From the same page: a request without a token gets a 401 the page can read (the problem
  carries the CORS headers, so the page can tell "log in again" from a network failure), and a
  request with ``credentials: "include"`` is answered (``Access-Control-Allow-Credentials:
  true``; without it the browser rejects the fetch).
- When the ticket expires, the stream ends; EventSource reconnects by itself with the expired
  ticket and is refused for good (401), and the page mints a new ticket and opens a new stream
  after the last event it has: it still gets every event exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.chromium import dump_dom
from tests.support.live_server import live_server
from tests.support.site import (
    Progress,
    StaticSite,
    append,
    event,
    page_dom,
    page_result,
    wait_for_page,
    write_html,
)

WRITER = "writer-token-b41d7e02"
PAGE_TOKEN = "page-token-6c93a5f1"
"""The token the page holds: it may read, nothing else."""
TOKENS = {WRITER: ["read", "append"], PAGE_TOKEN: ["read"]}
WRITE = {"Authorization": f"Bearer {WRITER}"}
SHORT_TICKET_SECONDS = 2

PAGE = """<!doctype html>
<html>
<head><meta charset="utf-8"><title>open</title></head>
<body>
<pre id="result"></pre>
<script>
"use strict";
const CONFIG = __CONFIG__;  // page, service, token, tag, want, renewals
const result = {
  state: "open", messages: [], errors: 0, tickets: 0,
  withoutToken: null, credentialed: null, readyState: null,
};
let source = null;

function finish(state) {
  result.state = state;
  if (source !== null) {
    result.readyState = source.readyState;
    source.close();  // nothing in flight any more: Chromium dumps the DOM
  }
  document.getElementById("result").textContent = JSON.stringify(result);
  document.title = state;
}

function progress() {
  const query = "?page=" + encodeURIComponent(CONFIG.page) + "&n=" + result.messages.length
    + "&errors=" + result.errors;
  fetch("/progress" + query).catch(() => {});
}

function withToken(init) {
  return {...init, headers: {Authorization: "Bearer " + CONFIG.token}};
}

async function mintTicket() {
  // Cross-origin with an Authorization header: the browser sends a CORS preflight first.
  const response = await fetch(CONFIG.service + "/v1/stream-tickets", withToken({method: "POST"}));
  if (!response.ok) {
    throw new Error("no ticket: " + response.status);
  }
  result.tickets += 1;
  return (await response.json()).ticket;
}

function lastPosition() {
  const count = result.messages.length;
  return count === 0 ? 0 : Number(result.messages[count - 1].id);
}

async function openStream() {
  const ticket = await mintTicket();
  source = new EventSource(CONFIG.service + "/v1/events/stream?after=" + lastPosition()
    + "&tag=" + encodeURIComponent(CONFIG.tag) + "&ticket=" + encodeURIComponent(ticket));
  source.onopen = progress;
  source.onmessage = (message) => {
    try {
      result.messages.push({id: message.lastEventId, data: JSON.parse(message.data)});
    } catch (error) {
      finish("page error: " + error);
      return;
    }
    if (result.messages.length >= CONFIG.want) {
      finish("complete");
    } else {
      progress();
    }
  };
  source.onerror = () => {
    result.errors += 1;
    if (source.readyState !== EventSource.CLOSED) {
      progress();  // reconnecting by itself: the same URL, with Last-Event-ID
    } else if (result.tickets <= CONFIG.renewals) {
      // Refused for good (the ticket expired): a new ticket, after the last event the page has.
      openStream().catch((error) => finish("page error: " + error));
    } else {
      finish("closed");
    }
  };
}

async function main() {
  const refused = await fetch(CONFIG.service + "/v1/stream-tickets", {method: "POST"});
  result.withoutToken = refused.status;
  // Rejected by the browser unless the answer says Access-Control-Allow-Credentials: true.
  const head = await fetch(CONFIG.service + "/v1/head", withToken({credentials: "include"}));
  result.credentialed = {status: head.status, body: await head.json()};
  await openStream();
}

main().catch((error) => finish("page error: " + error));
</script>
</body>
</html>
"""


def write_page(
    site: StaticSite, name: str, service: str, *, tag: str, want: int, renewals: int
) -> str:
    """Write the ticket page into ``site``: it streams ``tag`` until it has ``want`` events,
    minting a new ticket up to ``renewals`` times when its stream is refused; return its URL."""
    config = {
        "page": name,
        "service": service,
        "token": PAGE_TOKEN,
        "tag": tag,
        "want": want,
        "renewals": renewals,
    }
    return write_html(site, name, PAGE.replace("__CONFIG__", json.dumps(config)))


def start_service(site: StaticSite, store: str, **settings: str) -> Iterator[str]:
    env = {
        "EVENTSTORE_DATABASE_URL": f"sqlite:///{store}",
        "EVENTSTORE_API_TOKENS": json.dumps(TOKENS),
        "EVENTSTORE_CORS_ORIGINS": json.dumps([site.origin]),
        "EVENTSTORE_STREAM_TICKET_SECONDS": "300",
        **{f"EVENTSTORE_{name.upper()}": value for name, value in settings.items()},
    }
    with live_server(env) as url:
        yield url


@pytest.fixture(scope="module")
def service(
    chromium: str, allowed_site: StaticSite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The service with tokens, allowing ``allowed_site``'s origin (requests ``chromium`` first,
    so that nothing starts when the browser tests are skipped)."""
    yield from start_service(allowed_site, str(tmp_path_factory.mktemp("store") / "store.db"))


@pytest.fixture(scope="module")
def short_ticket_service(
    chromium: str, allowed_site: StaticSite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Like ``service``, but tickets expire after `SHORT_TICKET_SECONDS`."""
    store = str(tmp_path_factory.mktemp("store") / "store.db")
    yield from start_service(allowed_site, store, stream_ticket_seconds=str(SHORT_TICKET_SECONDS))


def stored_events(service: str, tag: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{service}/v1/events", params={"tag": tag, "after": 0}, headers=WRITE, timeout=10
    )
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def test_a_page_streams_with_a_ticket_it_fetched_with_its_token(
    chromium: str, allowed_site: StaticSite, service: str
) -> None:
    page, tag, other = "ticket", "browser:ticket", "browser:not-mine"
    before = [
        *append(service, event(tag, 1), event(other, 101), headers=WRITE),
        *append(service, event(tag, 2), headers=WRITE),
    ]
    url = write_page(allowed_site, page, service, tag=tag, want=5, renewals=0)

    with dump_dom(chromium, url) as browser:
        # Catch-up: the page has the two earlier events and its stream is still open.
        wait_for_page(allowed_site, page, Progress(2, 0), browser)
        after = [
            *append(service, event(tag, 3), headers=WRITE),
            *append(service, event(other, 102), event(tag, 4), event(tag, 5), headers=WRITE),
        ]
        dom = page_dom(allowed_site, page, browser)

    result = page_result(dom)
    assert result["state"] == "complete", result
    assert (result["tickets"], result["errors"]) == (1, 0), result
    assert result["withoutToken"] == 401, result
    assert result["credentialed"]["status"] == 200, result
    assert result["credentialed"]["body"]["head"] >= before[-1], result

    stored = stored_events(service, tag)
    positions = [e["position"] for e in stored]
    assert positions == [before[0], before[2], after[0], after[2], after[3]]
    # Every event once, in position order, ids equal to positions, each the stored event as is.
    assert [m["id"] for m in result["messages"]] == [str(p) for p in positions]
    assert [m["data"] for m in result["messages"]] == stored
    assert [m["data"]["data"] for m in result["messages"]] == [
        event(tag, n)["data"] for n in range(1, 6)
    ]


def test_when_its_ticket_expires_the_page_gets_a_new_one_and_misses_nothing(
    chromium: str, allowed_site: StaticSite, short_ticket_service: str
) -> None:
    service, page, tag = short_ticket_service, "renewal", "browser:renewal"
    positions = append(service, event(tag, 1), event(tag, 2), headers=WRITE)
    url = write_page(allowed_site, page, service, tag=tag, want=5, renewals=1)

    # Each reconnect waits EventSource's retry delay in virtual time: a budget with room for it.
    with dump_dom(chromium, url, virtual_time_budget_ms=600_000) as browser:
        wait_for_page(allowed_site, page, Progress(2, 0), browser)
        # Live on the first stream, or caught up by the next if the ticket expired already.
        positions += append(service, event(tag, 3), headers=WRITE)
        # The first stream ended with its ticket, EventSource's reconnect was refused (its
        # second error) and the page's new stream is open.
        wait_for_page(allowed_site, page, Progress(3, 2), browser)
        positions += append(service, event(tag, 4), event(tag, 5), headers=WRITE)
        dom = page_dom(allowed_site, page, browser)

    result = page_result(dom)
    assert result["state"] == "complete", result
    assert result["tickets"] == 2, result
    assert result["errors"] >= 2, result
    assert [m["id"] for m in result["messages"]] == [str(p) for p in positions]
    assert [m["data"]["data"] for m in result["messages"]] == [
        event(tag, n)["data"] for n in range(1, 6)
    ]
