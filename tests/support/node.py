"""Node.js programs for the client tests: their npm packages, and running them.

`node_packages` installs a folder's packages with ``scripts/ensure_node_packages`` (``npm ci``,
when the lock file changed), or skips the test, loudly, where npm is missing or cannot install
them; with ``EVENTSTORE_REQUIRE_NODE=1`` (CI) it fails instead.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import NoReturn

import pytest

from tests.support.live_server import REPO

REQUIRE_NODE_VARIABLE = "EVENTSTORE_REQUIRE_NODE"
NO_NPM = 3
"""The exit status of ``scripts/ensure_node_packages`` when npm is not installed."""


def node_unavailable(reason: str) -> NoReturn:
    if os.environ.get(REQUIRE_NODE_VARIABLE) == "1":
        pytest.fail(f"Node.js is required ({REQUIRE_NODE_VARIABLE}=1): {reason}")
    pytest.skip(f"NODE.JS CLIENT TESTS NOT RUN: {reason}")


def node_packages(folder: Path) -> Path:
    """``folder/node_modules``, installed."""
    result = subprocess.run(
        [str(REPO / "scripts" / "ensure_node_packages"), str(folder)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        reason = "npm is not installed" if result.returncode == NO_NPM else result.stderr[-2000:]
        node_unavailable(reason)
    return folder / "node_modules"


def run(command: list[str], cwd: Path, *, timeout: float = 120) -> str:
    """Run ``command`` in ``cwd``; its output, or fail the test with it."""
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(command)}:\n{output}"
    return result.stdout
