"""A real service process on a free port, for tests that need real sockets (streams, clients)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_healthy(
    process: subprocess.Popen[bytes], base_url: str, log: IO[bytes], seconds: float
) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            log.seek(0)
            output = log.read().decode(errors="replace")
            raise RuntimeError(f"the service exited during start-up:\n{output}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the service did not answer /healthz in time")
        time.sleep(0.05)


@contextmanager
def live_server(env: Mapping[str, str], *, startup_seconds: float = 20.0) -> Iterator[str]:
    """Run `python -m app` with ``env`` added to the environment; yield its base URL."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    # The output goes to a file: a pipe nobody reads would block a chatty server.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_healthy(process, base_url, log, startup_seconds)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
