"""Headless Chromium for the browser tests: load a page, let it run, read its DOM back.

The browser is driven with ``--dump-dom`` and ``--virtual-time-budget``: Chromium loads the URL
and prints the serialized DOM once the page has been idle for the budget (virtual time only
advances while no request is in flight). An open EventSource is a request in flight, so the dump
happens only after the page closes its stream: a test page closes it when it has what it waits
for, or when the connection fails for good, then writes its result into the DOM.

Chromium comes from the system (``scripts/ensure_browser`` installs Debian's ``chromium``), or
from ``EVENTSTORE_CHROMIUM``. When there is none the tests are skipped, loudly, or fail when
``EVENTSTORE_REQUIRE_BROWSER=1`` (CI).
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import pytest

CHROMIUM_VARIABLE = "EVENTSTORE_CHROMIUM"
REQUIRE_BROWSER_VARIABLE = "EVENTSTORE_REQUIRE_BROWSER"

# No sandbox (CI runs as root), no GPU; nothing that phones home: on a closed network those
# background connections are refused and get in the way. Console messages go to stderr.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--enable-logging=stderr",
    "--v=0",
)


def browser_unavailable(reason: str) -> NoReturn:
    if os.environ.get(REQUIRE_BROWSER_VARIABLE) == "1":
        pytest.fail(f"a browser is required ({REQUIRE_BROWSER_VARIABLE}=1): {reason}")
    pytest.skip(f"BROWSER TESTS NOT RUN: {reason}")


def find_chromium() -> str:
    """The Chromium executable, or skip (fail under ``EVENTSTORE_REQUIRE_BROWSER=1``)."""
    configured = os.environ.get(CHROMIUM_VARIABLE)
    if configured:
        found = shutil.which(configured)
        if found is None:
            browser_unavailable(f"{CHROMIUM_VARIABLE}={configured} is not an executable")
        return found
    found = shutil.which("chromium")
    if found is None:
        browser_unavailable(
            "no 'chromium' on PATH: run scripts/ensure_browser (as root on Debian) or set "
            f"{CHROMIUM_VARIABLE} to a Chromium or Chrome executable"
        )
    return found


class DomDump:
    """A running ``chromium --dump-dom``: check it is alive, then collect the DOM it prints."""

    def __init__(self, process: subprocess.Popen[bytes], stdout: Path, stderr: Path) -> None:
        self.process = process
        self._stdout = stdout
        self._stderr = stderr

    def console(self) -> str:
        """What Chromium wrote to stderr so far: its log, the page's console messages."""
        return self._stderr.read_text(errors="replace")

    def exited(self) -> bool:
        return self.process.poll() is not None

    def early_exit(self) -> AssertionError:
        """The failure to raise when Chromium ended before the test was done with the page."""
        return AssertionError(
            f"chromium ended early (status {self.process.returncode}). The page:\n"
            f"{self._stdout.read_text(errors='replace')}\nIts log:\n{self._tail()}"
        )

    def dom(self, *, timeout: float) -> str:
        """The serialized DOM, once the page went idle; fails after ``timeout`` seconds."""
        try:
            status = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"chromium printed no DOM within {timeout} s: the page never closed its stream "
                f"(it did not get what it waited for). Its log:\n{self._tail()}"
            ) from None
        if status != 0:
            raise AssertionError(f"chromium failed (status {status}):\n{self._tail()}")
        return self._stdout.read_text(errors="replace")

    def _tail(self, lines: int = 40) -> str:
        noise = ("dbus", "zygote", "vaapi", "D-Bus", "sandbox_linux")
        kept = [line for line in self.console().splitlines() if not any(n in line for n in noise)]
        return "\n".join(kept[-lines:])


@contextmanager
def dump_dom(chromium: str, url: str, *, virtual_time_budget_ms: int = 10_000) -> Iterator[DomDump]:
    """Start headless Chromium on ``url`` with a fresh profile; kill it (and its children) on
    exit, whatever happened."""
    with tempfile.TemporaryDirectory(
        prefix="eventstore-chromium-", ignore_cleanup_errors=True
    ) as scratch:
        home = Path(scratch)
        stdout, stderr = home / "dom.html", home / "chromium.log"
        with stdout.open("wb") as out, stderr.open("wb") as err:
            process = subprocess.Popen(
                [
                    chromium,
                    *FLAGS,
                    f"--user-data-dir={home / 'profile'}",
                    f"--virtual-time-budget={virtual_time_budget_ms}",
                    "--dump-dom",
                    url,
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                # Nothing lands in the real home directory.
                env={
                    **os.environ,
                    "HOME": str(home),
                    "XDG_CONFIG_HOME": str(home / "config"),
                    "XDG_CACHE_HOME": str(home / "cache"),
                },
                start_new_session=True,  # its own process group: killed as one below
            )
        try:
            yield DomDump(process, stdout, stderr)
        finally:
            _kill(process)


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # the group: renderer, GPU, zygote processes too
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def element_text(dom: str, element_id: str) -> str:
    """The text of the element with ``id="element_id"`` (no nested tags) in a dumped DOM."""
    found = re.search(rf'<(\w+) id="{re.escape(element_id)}">(.*?)</\1>', dom, re.DOTALL)
    if found is None:
        raise AssertionError(f"no element #{element_id} in the page:\n{dom}")
    return html.unescape(found.group(2))
