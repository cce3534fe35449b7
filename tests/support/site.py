"""What the browser tests serve and do around a page: a static site on 127.0.0.1 that serves the
test pages and records their progress, and appends to the service under test.

A page reports to its site how many events it has and how many errors (reconnects) it saw
(``/progress?page=...&n=...&errors=...``), so that a test appends its live events only once the
page is where it should be, and waits with a deadline instead of a fixed time.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.support.chromium import DomDump, element_text

PROGRESS_SECONDS = 20.0  # page load, connect and catch-up, in real time
DOM_SECONDS = 30.0  # from the last append to the dumped DOM


@dataclass(frozen=True)
class Progress:
    """What a page reported: the messages it has, the errors (reconnects) it saw."""

    messages: int
    errors: int


class StaticSite(ThreadingHTTPServer):
    """Serves the files of ``root`` on 127.0.0.1 and records the pages' ``/progress`` reports."""

    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), SiteHandler)
        self.root = root
        self.origin = f"http://127.0.0.1:{self.server_address[1]}"
        self._progress: dict[str, Progress] = {}
        self._changed = threading.Condition()

    def report(self, page: str, reported: Progress) -> None:
        with self._changed:
            known = self._progress.get(page, Progress(0, 0))
            self._progress[page] = Progress(
                max(known.messages, reported.messages), max(known.errors, reported.errors)
            )
            self._changed.notify_all()

    def wait_for(self, page: str, wanted: Progress, *, timeout: float) -> bool:
        """Whether ``page`` reported at least ``wanted`` within ``timeout`` seconds."""

        def reached() -> bool:
            now = self._progress.get(page)
            return (
                now is not None and now.messages >= wanted.messages and now.errors >= wanted.errors
            )

        with self._changed:
            return self._changed.wait_for(reached, timeout=timeout)

    def progress(self, page: str) -> Progress | None:
        with self._changed:
            return self._progress.get(page)


class SiteHandler(SimpleHTTPRequestHandler):
    def __init__(self, request: Any, client_address: Any, server: Any) -> None:
        super().__init__(request, client_address, server, directory=str(server.root))

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path != "/progress":
            super().do_GET()
            return
        params = parse_qs(url.query)
        reported = Progress(int(params["n"][0]), int(params["errors"][0]))
        cast(StaticSite, self.server).report(params["page"][0], reported)
        self.send_response(HTTPStatus.NO_CONTENT)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        pass  # no request log on stderr


def serve_site(root: Path) -> Iterator[StaticSite]:
    """A `StaticSite` of the new folder ``root``, serving until the generator is closed."""
    root.mkdir()
    site = StaticSite(root)
    thread = threading.Thread(target=site.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield site
    finally:
        site.shutdown()
        thread.join(timeout=10)
        site.server_close()


def write_html(site: StaticSite, name: str, html: str) -> str:
    """Write the page ``name`` into ``site``; return its URL."""
    (site.root / f"{name}.html").write_text(html, encoding="utf-8")
    return f"{site.origin}/{name}.html"


def wait_for_page(site: StaticSite, page: str, wanted: Progress, browser: DomDump) -> None:
    """Wait until ``page`` reports ``wanted``; fail when Chromium ends or time runs out."""
    deadline = time.monotonic() + PROGRESS_SECONDS
    while not site.wait_for(page, wanted, timeout=0.1):
        if browser.exited():
            raise browser.early_exit()
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the page did not reach {wanted} within {PROGRESS_SECONDS} s: "
                f"it reported {site.progress(page)}"
            )


def page_dom(site: StaticSite, page: str, browser: DomDump) -> str:
    try:
        return browser.dom(timeout=DOM_SECONDS)
    except AssertionError as error:
        raise AssertionError(f"{error}\nThe page last reported {site.progress(page)}.") from None


def page_result(dom: str) -> dict[str, Any]:
    """The JSON the page wrote into its ``#result`` element."""
    text = element_text(dom, "result")
    assert text, f"the page wrote no result:\n{dom}"
    result: dict[str, Any] = json.loads(text)
    return result


def append(
    service: str, *events: dict[str, Any], headers: Mapping[str, str] | None = None
) -> list[int]:
    """Append ``events`` in one request; their positions."""
    response = httpx.post(
        f"{service}/v1/events", json={"events": list(events)}, headers=headers, timeout=10
    )
    assert response.status_code == 201, response.text
    positions: list[int] = response.json()["positions"]
    return positions


def event(tag: str, number: int) -> dict[str, Any]:
    # Data a browser could mangle: markup, non-ASCII, nesting, a big integer, null.
    data = {"n": number, "text": f"<b>&'\"é ✓ {number}</b>", "nested": {"list": [1, None]}}
    return {"type": "Noted", "data": {**data, "big": 2**53 - 1}, "tags": [tag]}
