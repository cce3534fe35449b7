"""Open connections are capped, and idle ones make room (`app.server.connections`).

Under the common limit of 1,024 open files, 1,050 sockets that sent nothing left the service
unable to accept anyone: every other client, ``/healthz`` included, got "connection reset". Now
the open-file limit is raised to the hard limit, connections are capped below it, and a new
connection beyond the cap closes the longest idle one; when every connection is busy, the new
one is answered 503 at once.
"""

from __future__ import annotations

import resource
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.support.live_server import HOST, ServiceProcess, service_process, settings_env
from tests.support.raw_http import parse_answer, received_until_closed, request_head

IDLE_SOCKETS = 1_100
OPEN_FILES = 1_024
WAIT = 10.0


@pytest.fixture
def many_files() -> Iterator[None]:
    """This process may open the idle sockets and a few more."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = IDLE_SOCKETS + 200
    if soft >= wanted:
        yield
        return
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"this process may open {hard} files, fewer than the {wanted} needed")
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def connect(service: ServiceProcess) -> socket.socket:
    return socket.create_connection((HOST, service.port), timeout=WAIT)


def closed_by_server(connection: socket.socket) -> bool:
    """Whether the server closed ``connection`` (it never sends anything to an idle one)."""
    timeout = connection.gettimeout()
    connection.setblocking(False)  # select() takes no descriptor above 1,023
    try:
        return connection.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True
    finally:
        connection.settimeout(timeout)


@pytest.mark.usefixtures("many_files")
def test_idle_sockets_beyond_the_open_file_limit_leave_the_service_answering() -> None:
    with (
        service_process(
            "app", settings_env(), inherit_settings=False, open_files=(OPEN_FILES, OPEN_FILES)
        ) as service,
        ExitStack() as sockets,
    ):
        idle = [sockets.enter_context(connect(service)) for _ in range(IDLE_SOCKETS)]
        time.sleep(0.5)  # all accepted by now (or not)
        with httpx.Client(base_url=service.base_url, timeout=WAIT) as client:
            health = client.get("/healthz")
            appended = client.post("/v1/events", json={"events": [{"type": "Still"}]})
            read = client.get("/v1/events")
        closed = sum(closed_by_server(connection) for connection in idle)
        newest_open = not any(closed_by_server(connection) for connection in idle[-100:])
        output = service.output()

    assert health.status_code == 200, health.text
    assert appended.status_code == 201, appended.text
    assert [event["type"] for event in read.json()["events"]] == ["Still"]
    assert closed >= IDLE_SOCKETS + 3 - OPEN_FILES, "more connections open than files"
    assert newest_open, "the newest connections were closed, not the oldest"
    assert "Too many open files" not in output, output[-2000:]
    print(f"\n{closed} of {IDLE_SOCKETS} idle sockets closed to make room")


def test_a_new_connection_closes_the_longest_idle_one() -> None:
    with (
        service_process(
            "app", settings_env(max_connections="8"), inherit_settings=False
        ) as service,
        ExitStack() as sockets,
        httpx.Client(base_url=service.base_url, timeout=WAIT) as client,
    ):
        # One keep-alive client that stays busy, then idle sockets that never say a word.
        assert client.get("/healthz").status_code == 200
        idle = [sockets.enter_context(connect(service)) for _ in range(7)]
        time.sleep(0.3)
        assert client.get("/healthz").status_code == 200  # busy again: now the last in line
        assert not any(closed_by_server(connection) for connection in idle)

        newcomer = sockets.enter_context(connect(service))  # the ninth: the first idle one goes
        newcomer.sendall(request_head("GET", "/healthz"))
        assert parse_answer(newcomer.recv(65536)).status == 200
        time.sleep(0.3)
        assert [closed_by_server(connection) for connection in idle] == [True] + [False] * 6
        with connect(service) as another:  # the newcomer is idle now, last in line
            another.sendall(request_head("GET", "/healthz"))
            assert parse_answer(another.recv(65536)).status == 200
            time.sleep(0.3)
            assert [closed_by_server(connection) for connection in idle] == [True] * 2 + [False] * 5
            assert not closed_by_server(newcomer)
        assert client.get("/healthz").status_code == 200  # kept alive all along


def test_when_every_connection_is_busy_a_new_one_is_answered_503() -> None:
    with (
        service_process(
            "app", settings_env(max_connections="3"), inherit_settings=False
        ) as service,
        ExitStack() as streams,
    ):
        clients = [
            streams.enter_context(httpx.Client(base_url=service.base_url, timeout=WAIT))
            for _ in range(3)
        ]
        opened = [
            streams.enter_context(client.stream("GET", "/v1/events/stream", params={"after": 0}))
            for client in clients
        ]
        assert all(stream.status_code == 200 for stream in opened)

        with connect(service) as refused:
            started = time.monotonic()
            refused.sendall(request_head("GET", "/healthz"))
            answer = parse_answer(received_until_closed(refused, WAIT))
            seconds = time.monotonic() - started
        assert answer.status == 503
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["retry-after"] == "1"
        assert answer.json()["status"] == 503
        print(f"\nrefused in {seconds * 1000:.1f} ms")

        opened[0].close()  # its connection closes: room for one
        deadline = time.monotonic() + WAIT
        while (appended := post_once(service)) is None:
            assert time.monotonic() < deadline, "no room after a stream closed"
            time.sleep(0.1)
        assert appended.status_code == 201, appended.text
        for stream in opened[1:]:  # the streams went on all along
            data = next(line for line in stream.iter_lines() if line.startswith("data:"))
            assert '"Room"' in data


def post_once(service: ServiceProcess) -> httpx.Response | None:
    """An append on a new connection; None if it was refused for want of room."""
    response = httpx.post(f"{service.base_url}/v1/events", json={"events": [{"type": "Room"}]})
    return None if response.status_code == 503 else response


def soft_open_files(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise LookupError("no open-file limit")


def test_the_open_file_limit_is_raised_to_the_hard_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2 * OPEN_FILES:
        pytest.skip(f"the hard limit here is {hard}")
    with service_process(
        "app",
        settings_env(log_level="info"),
        inherit_settings=False,
        open_files=(OPEN_FILES, 2 * OPEN_FILES),
    ) as service:
        raised = soft_open_files(service.pid)
        output = service.output()
    assert raised == 2 * OPEN_FILES
    assert f"open-file limit {2 * OPEN_FILES}" in output
