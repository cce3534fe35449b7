"""Headless Chromium driven by Playwright, for tests that click: the system's Chromium (the one
`tests.support.chromium` finds), never a browser Playwright downloads.

`offline_page` opens a page on which every host but the service's is unreachable, as on a
machine with no internet: names other than 127.0.0.1 do not resolve, and any request to
another origin is aborted and recorded in ``foreign``, so that a test can assert there were
none.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from playwright.sync_api import Page, Route, sync_playwright

from tests.support.chromium import FLAGS

OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"


@dataclass
class OfflinePage:
    page: Page
    foreign: list[str] = field(default_factory=list)
    """Requests the page made to any origin but the service's (all aborted)."""


@contextmanager
def offline_page(chromium: str, base_url: str) -> Iterator[OfflinePage]:
    origin = urlsplit(base_url)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            args=[flag for flag in FLAGS if flag != "--headless"] + [OFFLINE],
        )
        try:
            page = browser.new_page()
            opened = OfflinePage(page)

            def guard(route: Route) -> None:
                target = urlsplit(route.request.url)
                if (target.scheme, target.netloc) == (origin.scheme, origin.netloc):
                    route.continue_()
                else:
                    opened.foreign.append(route.request.url)
                    route.abort()

            page.route("**/*", guard)
            yield opened
        finally:
            browser.close()
