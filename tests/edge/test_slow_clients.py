"""Every wait for a client is timed (`app.server.protocol`).

uvicorn closed nothing: a connection that sent nothing, or half a request line, stayed open as
long as its client liked (seen past 80 s). With the timeouts at one second here, each is closed,
with a 408 problem when the client had begun a request.

The bounds of the waits below are the timeout plus a wide margin (`MARGIN`): the property is that
the connection is closed at all, in about the time configured, not a measure of how quickly.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.live_server import HOST, ServiceProcess, service_process, settings_env
from tests.support.raw_http import parse_answer, received_until_closed, request_head

TIMEOUT = 1.0
MARGIN = 5.0


@pytest.fixture(scope="module")
def service() -> Iterator[ServiceProcess]:
    env = settings_env(
        header_timeout_seconds=str(TIMEOUT),
        body_timeout_seconds=str(TIMEOUT),
        keep_alive_seconds=str(int(TIMEOUT)),
    )
    with service_process("app", env, inherit_settings=False) as process:
        yield process


def connect(service: ServiceProcess) -> socket.socket:
    return socket.create_connection((HOST, service.port), timeout=MARGIN)


def assert_408(data: bytes) -> str:
    answer = parse_answer(data)
    assert answer.status == 408, data[:300]
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["connection"] == "close"
    detail: str = answer.json()["detail"]
    return detail


def head_of(service: ServiceProcess) -> int:
    head: int = httpx.get(f"{service.base_url}/v1/head").json()["head"]
    return head


def test_a_connection_that_says_nothing_is_closed(service: ServiceProcess) -> None:
    with connect(service) as silent:
        started = time.monotonic()
        assert received_until_closed(silent, TIMEOUT + MARGIN) == b""
    assert time.monotonic() - started >= TIMEOUT * 0.9


def test_half_a_request_line_is_408(service: ServiceProcess) -> None:
    with connect(service) as slow:
        slow.sendall(b"GET /v1/he")
        detail = assert_408(received_until_closed(slow, TIMEOUT + MARGIN))
    assert "line and headers" in detail


def answered(connection: socket.socket) -> bool:
    """Whether the server has sent something on ``connection``, or closed it."""
    readable, _, _ = select.select([connection], [], [], 0)
    return bool(readable)


def test_a_head_sent_byte_by_byte_is_408_however_busy_the_client(service: ServiceProcess) -> None:
    """Slowloris: a byte every 0.2 s keeps the connection busy, but not past the deadline."""
    head = request_head("GET", "/v1/head", *(f"X-Slow-{n}: 1" for n in range(100)))
    with connect(service) as slow:
        started = time.monotonic()
        for byte in head:
            if answered(slow):
                break
            try:
                slow.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            assert time.monotonic() - started < TIMEOUT + MARGIN, "never cut off"
            time.sleep(0.2)
        assert_408(received_until_closed(slow, MARGIN))


def test_a_body_that_stops_coming_is_408_and_stores_nothing(service: ServiceProcess) -> None:
    body = b'{"events": [{"type": "Slow"}]}'
    with connect(service) as slow:
        slow.sendall(request_head("POST", "/v1/events", f"Content-Length: {len(body)}"))
        slow.sendall(body[:10])
        detail = assert_408(received_until_closed(slow, TIMEOUT + MARGIN))
    assert "body" in detail
    assert head_of(service) == 0


def test_an_idle_keep_alive_connection_is_closed(service: ServiceProcess) -> None:
    """Within 3.5 s for a keep-alive of 1 s: uvicorn's default of 5 s would not be."""
    with connect(service) as idle:
        idle.sendall(request_head("GET", "/healthz"))
        time.sleep(0.2)
        answer = idle.recv(65536)
        assert parse_answer(answer).status == 200
        assert received_until_closed(idle, 3.5) == b""


def test_a_request_in_one_piece_is_not_timed_out(service: ServiceProcess) -> None:
    """A slow application is not a slow client: a stream open far longer than every timeout
    goes on, and so does a connection answering many requests."""
    with httpx.Client(base_url=service.base_url) as client:
        with client.stream("GET", "/v1/events/stream", params={"after": 0}) as stream:
            time.sleep(3 * TIMEOUT)
            appended = httpx.post(
                f"{service.base_url}/v1/events", json={"events": [{"type": "Late"}]}
            )
            assert appended.status_code == 201, appended.text
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    assert '"Late"' in line
                    break
        for _ in range(3):
            assert client.get("/healthz").status_code == 200
            time.sleep(TIMEOUT / 2)
