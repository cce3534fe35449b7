"""The life of a service of two worker processes: it stops cleanly and within the grace on
SIGTERM, replaces a worker that dies (releasing the streams it held), stops when a worker cannot
start, forwards SIGHUP to every worker, and refuses more than one worker with ``memory://``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from app.access.tokens import Scope, token_line
from tests.support.live_server import HOST, free_port, refused_start, service_process
from tests.support.workers import (
    Connection,
    connection_to,
    serving_workers,
    worker_pids,
)
from tests.workers.conftest import STREAMS_PER_TOKEN, workers_env
from tests.workers.test_workers import bearer, open_stream, pair

GRACE = 2
"""The grace of `workers_env`."""


def sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/store.db"


def until_closed(connection: Connection, seconds: float) -> bytes:
    """What the server still sends on ``connection`` until it closes it."""
    connection.sock.settimeout(seconds)
    received = b""
    while data := connection.sock.recv(65536):
        received += data
    return received


def test_sigterm_stops_every_worker_cleanly_within_the_grace(tmp_path: Path) -> None:
    with service_process("app", workers_env(sqlite(tmp_path)), inherit_settings=False) as service:
        serving_workers(service.pid, service.port, 2)
        first, second = pair(service)
        assert open_stream(first) == 200
        assert open_stream(second) == 200
        idle = Connection(service.port)
        assert idle.request("GET", "/healthz").status == 200
        started = time.monotonic()
        service.process.send_signal(signal.SIGTERM)
        status = service.process.wait(timeout=GRACE + 10)
        stopped = time.monotonic() - started
        for stream in (first, second):  # each stream's body was ended, not cut
            assert until_closed(stream, 1).endswith(b"0\r\n\r\n")
        output = service.output()
    assert status == 0, output
    assert stopped < GRACE + 2, output
    assert "ERROR" not in output, output
    assert "Traceback" not in output, output


def test_a_worker_killed_is_replaced_and_its_streams_released(tmp_path: Path) -> None:
    with service_process("app", workers_env(sqlite(tmp_path)), inherit_settings=False) as service:
        victim, survivor = serving_workers(service.pid, service.port, 2)
        pids = [victim, survivor]
        for _ in range(STREAMS_PER_TOKEN):
            assert open_stream(connection_to(service.port, victim, pids)) == 200
        assert open_stream(connection_to(service.port, survivor, pids)) == 429
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while (replaced := worker_pids(service.pid)) == [survivor] or victim in replaced:
            assert time.monotonic() < deadline, "no worker took the dead one's place"
            time.sleep(0.05)
        replaced = serving_workers(service.pid, service.port, 2)
        newcomer = next(pid for pid in replaced if pid != survivor)
        for pid in (survivor, newcomer):
            assert open_stream(connection_to(service.port, pid, replaced)) == 200
        output = service.output()
        assert service.process.poll() is None, output
    assert f"(pid {victim}) died (killed by SIGKILL)" in output


def test_workers_stop_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    with service_process("app", workers_env(sqlite(tmp_path)), inherit_settings=False) as service:
        pids = serving_workers(service.pid, service.port, 2)
        service.process.kill()
        service.process.wait()
        deadline = time.monotonic() + GRACE + 5
        while alive := [pid for pid in pids if Path(f"/proc/{pid}").exists()]:
            assert time.monotonic() < deadline, f"workers {alive} still run without a supervisor"
            time.sleep(0.05)


def test_a_worker_that_cannot_start_stops_the_service() -> None:
    unreachable = "postgresql+asyncpg://postgres@127.0.0.1:1/none"
    env = {name: value for name, value in os.environ.items() if not name.startswith("EVENTSTORE_")}
    env.update(workers_env(unreachable, db_connect_timeout_seconds="1"))
    finished = subprocess.run(
        [sys.executable, "-m", "app", "--host", HOST, "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 3, finished.stderr
    assert "failed to start" in finished.stderr, finished.stderr
    assert "stopping the service" in finished.stderr, finished.stderr


def test_sighup_reloads_the_tokens_of_every_worker(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text(token_line("old", "old-s3cret", [Scope.READ]) + "\n")
    env = workers_env(sqlite(tmp_path), api_tokens_file=str(tokens), api_tokens_reload_seconds="0")
    env["EVENTSTORE_API_TOKENS"] = "{}"
    with service_process("app", env, inherit_settings=False) as service:
        serving_workers(service.pid, service.port, 2)
        tokens.write_text(token_line("new", "new-s3cret", [Scope.READ]) + "\n")
        service.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        for connection in pair(service):
            while connection.request("GET", "/v1/events", bearer("new-s3cret")).status != 200:
                assert time.monotonic() < deadline, service.output()
                time.sleep(0.05)
            assert connection.request("GET", "/v1/events", bearer("old-s3cret")).status == 401
        assert service.process.poll() is None


def test_more_than_one_worker_with_memory_is_refused_in_one_line() -> None:
    refused = refused_start({"EVENTSTORE_WORKERS": "2"})
    assert refused.returncode != 0
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, refused.stderr
    assert "EVENTSTORE_WORKERS" in lines[0], lines
    assert "memory://" in lines[0], lines


def test_memory_is_served_by_one_process_by_default() -> None:
    env = {"EVENTSTORE_DATABASE_URL": "memory://", "EVENTSTORE_LOG_LEVEL": "info"}
    with service_process("app", env, inherit_settings=False, one_process=False) as service:
        assert worker_pids(service.pid) == []
        assert "one process" in service.output()
