"""The console on a large store: what its first load transfers, and how soon it shows rows.

    scripts/bench console [--events 1000000] [--loads 10] [--postgres URL]

A store of ``--events`` events (`bench.stores.fill`) is served by a service process pinned to
CPU 0; headless Chromium (Playwright, on CPU 1 with this script) loads the console ``--loads``
times, each in a fresh page with an empty cache:

- **weight**: the bytes of every response of the first load (bodies and headers, as Chromium
  counts them), the page's files apart from the API's answers;
- **time to first rows**: from the start of the navigation to the overview's newest events on
  screen, and to the first page of a query of one tag (``#/browse``), each the median and the
  worst of the loads.

Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

from bench.stores import fill, pinned_server, progress, store_url
from tests.support.chromium import FLAGS, find_chromium

BROWSE = '#/browse?query={"items":[{"types":[],"tags":["course:4242"]}]}&limit=50'


def first_rows(page: Page, url: str, rows: str) -> float:
    """Milliseconds from navigating to ``url`` until ``rows`` has a row."""
    started = time.perf_counter()
    page.goto(url)
    page.locator(f"{rows} tbody tr").first.wait_for(timeout=60_000)
    return (time.perf_counter() - started) * 1000


def weigh(base_url: str, chromium: str, loads: int) -> dict[str, Any]:
    overview: list[float] = []
    browse: list[float] = []
    transferred = {"files": 0, "api": 0}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=[f for f in FLAGS if f != "--headless"]
        )
        try:
            for load in range(loads):
                page = browser.new_page()
                sizes: list[tuple[str, int]] = []

                def finished(request: Any, sizes: list[tuple[str, int]] = sizes) -> None:
                    counted = request.sizes()
                    sizes.append(
                        (request.url, counted["responseBodySize"] + counted["responseHeadersSize"])
                    )

                page.on("requestfinished", finished)
                overview.append(
                    first_rows(page, f"{base_url}/console#/overview", "#overview-recent")
                )
                if load == 0:
                    for url, size in sizes:
                        transferred["api" if "/v1/" in url else "files"] += size
                browse.append(first_rows(page, f"{base_url}/console{BROWSE}", "#browse-events"))
                page.close()
        finally:
            browser.close()
    return {"overview": sorted(overview), "browse": sorted(browse), **transferred}


async def prepare(args: argparse.Namespace, workdir: Path) -> tuple[str, float]:
    url = await store_url(workdir, "console", args.postgres)
    progress(f"filling {args.events:,} events")
    return url, await fill(url, args.events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL database of its own")
    args = parser.parse_args()
    chromium = find_chromium()
    with tempfile.TemporaryDirectory(prefix="bench-console-") as folder:
        url, seconds = asyncio.run(prepare(args, Path(folder)))
        with pinned_server(url) as server:
            weigh(server.base_url, chromium, 1)  # warm-up
            result = weigh(server.base_url, chromium, args.loads)
    store = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"\nThe console on a store of {args.events:,} events ({store}; filled in {seconds:.0f} s), "
        f"{args.loads} loads in fresh pages"
    )
    print(
        f"  first load: {result['files']:,} bytes of the page's files, "
        f"{result['api']:,} bytes of API answers"
    )
    for name in ("overview", "browse"):
        values = result[name]
        print(
            f"  first rows, {name:<9} median {statistics.median(values):7.0f} ms, "
            f"worst {values[-1]:7.0f} ms"
        )


if __name__ == "__main__":
    main()
