"""A real service process on a free port, for tests that need real sockets (streams, clients) and
for the benchmarks (which also pin it to a CPU and read its memory and CPU time)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class ServiceProcess:
    process: subprocess.Popen[bytes]
    port: int
    log: IO[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def output(self) -> str:
        """Everything the process has printed so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError(f"no VmRSS for process {self.pid}")

    def cpu_seconds(self) -> float:
        """utime + stime of every thread of the process."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def settings_env(database: str = "memory://", **settings: str) -> dict[str, str]:
    """The environment of a service on ``database``, logging warnings and worse, with each
    keyword as ``EVENTSTORE_<NAME>`` (for ``service_process(..., inherit_settings=False)``)."""
    return {
        "EVENTSTORE_DATABASE_URL": database,
        "EVENTSTORE_LOG_LEVEL": "warning",
        **{f"EVENTSTORE_{name.upper()}": value for name, value in settings.items()},
    }


WITH_OPEN_FILES = (
    "import os, resource, sys; "
    "resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), int(sys.argv[2]))); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[3:]])"
)
"""``python -c WITH_OPEN_FILES soft hard <argv>``: run ``python <argv>`` with those open-file
limits (in the same process, so its pid stays the service's)."""


def _wait_until_healthy(service: ServiceProcess, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if service.process.poll() is not None:
            raise RuntimeError(f"the service exited during start-up:\n{service.output()}")
        try:
            if httpx.get(f"{service.base_url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the service did not answer /healthz in time:\n{service.output()}")
        time.sleep(0.05)


@contextmanager
def service_process(
    module: str = "app",
    env: Mapping[str, str] | None = None,
    *,
    options: Sequence[str] = (),
    inherit_settings: bool = True,
    cpu: int | None = None,
    startup_seconds: float = 20.0,
    open_files: tuple[int, int] | None = None,
    port: int | None = None,
    one_process: bool = True,
    python: str = sys.executable,
    cwd: Path = REPO,
) -> Iterator[ServiceProcess]:
    """Run ``python -m <module> --host 127.0.0.1 --port <port> <options>`` (a free port unless
    given: a restart on the same address) with ``env`` added to this environment (without its
    ``EVENTSTORE_*`` settings unless ``inherit_settings``; with ``one_process``, one worker
    process unless ``env`` says otherwise), pinned to ``cpu`` and under the
    (soft, hard) ``open_files`` limits if given; stop it on exit. ``python`` and ``cwd`` run
    another checkout's service (the benchmarks compare with an earlier version)."""
    port = free_port() if port is None else port
    base_env = {
        name: value
        for name, value in os.environ.items()
        if inherit_settings or not name.startswith("EVENTSTORE_")
    }
    if one_process:  # unless asked for more (the service's default is one per CPU)
        base_env.setdefault("EVENTSTORE_WORKERS", "1")
    argv = ["-m", module, "--host", HOST, "--port", str(port), *options]
    if open_files is not None:
        argv = ["-c", WITH_OPEN_FILES, *map(str, open_files), *argv]
    # The output goes to a file: a pipe nobody reads would block a chatty server.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [python, *argv],
            cwd=cwd,
            env={**base_env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        service = ServiceProcess(process, port, log)
        try:
            if cpu is not None:
                os.sched_setaffinity(process.pid, {cpu})
            _wait_until_healthy(service, startup_seconds)
            yield service
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def refused_start(
    env: Mapping[str, str], *, cwd: Path = REPO, seconds: float = 30.0
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m app`` on a free port and the in-memory store, with ``env`` and none of
    this environment's ``EVENTSTORE_*``, expecting it to refuse its configuration and exit; one
    that serves instead runs into the timeout, which fails the caller."""
    base = {name: value for name, value in os.environ.items() if not name.startswith("EVENTSTORE_")}
    return subprocess.run(
        [sys.executable, "-m", "app", "--host", HOST, "--port", str(free_port())],
        cwd=cwd,
        env={**base, "EVENTSTORE_DATABASE_URL": "memory://", "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=seconds,
        check=False,
    )


@contextmanager
def live_server(env: Mapping[str, str], *, startup_seconds: float = 20.0) -> Iterator[str]:
    """Run `python -m app` with ``env`` added to the environment; yield its base URL."""
    with service_process("app", env, startup_seconds=startup_seconds) as service:
        yield service.base_url
