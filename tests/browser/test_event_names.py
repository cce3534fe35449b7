"""A page hears events by their type: with ``event_names=true`` EventSource dispatches each
message under its event type, to ``addEventListener(type, ...)``, history and live alike."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.driven_browser import offline_page
from tests.support.live_server import live_server

LISTEN = """([url, count]) => { window.heard = new Promise((resolve, reject) => {
    const heard = [];
    const source = new EventSource(url);
    for (const type of ["CourseDefined", "StudentSubscribed"]) {
        source.addEventListener(type, (message) => {
            heard.push([type, Number(message.lastEventId), JSON.parse(message.data).type]);
            if (heard.length === count) { source.close(); resolve(heard); }
        });
    }
    source.onmessage = (message) => heard.push(["message", Number(message.lastEventId), null]);
    setTimeout(() => { source.close(); reject(new Error(JSON.stringify(heard))); }, 15000);
}); }"""


def append(base_url: str, event_type: str) -> None:
    body = {"events": [{"type": event_type, "tags": ["course:c1"]}]}
    assert httpx.post(f"{base_url}/v1/events", json=body).status_code == 201


def test_add_event_listener_hears_each_event_by_its_type(chromium: str, tmp_path: Path) -> None:
    with live_server({"EVENTSTORE_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}) as base:
        append(base, "CourseDefined")
        with offline_page(chromium, base) as opened:
            opened.page.goto(f"{base}/healthz")  # a page of the service's own origin
            opened.page.evaluate(LISTEN, [f"{base}/v1/events/stream?after=0&event_names=true", 2])
            append(base, "StudentSubscribed")
            heard = opened.page.evaluate("() => window.heard")

    assert heard == [
        ["CourseDefined", 1, "CourseDefined"],
        ["StudentSubscribed", 2, "StudentSubscribed"],
    ]
