"""The head of a request is bounded as it arrives (`app.server.protocol`).

uvicorn's httptools protocol took a head of any size: one connection sending a 150 MB header
made every other request wait 10-16 s, and two of them left the server 200 MB larger. Now the
request line is 414 and the header fields 431 past their limits, answered as problems while the
client is still sending, and the rest of the service does not notice.
"""

from __future__ import annotations

import multiprocessing
import select
import socket
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.live_server import HOST, ServiceProcess, service_process, settings_env
from tests.support.raw_http import (
    answer_complete,
    exchange,
    parse_answer,
    received_until_closed,
)

ATTACK_BYTES = 150 * 2**20
ATTACK_SECONDS = 10.0
"""How long an attacker goes on sending before it gives up waiting for an answer."""
PAUSE = 0.02
"""Between two attacks of one attacker: the attack is the server's problem, not the CPU of the
machine the test runs on (two cores, shared with the server and the reader)."""
SAMPLES = 40
LINE_LIMIT = 2048
FIELDS_LIMIT = 4096


@pytest.fixture(scope="module")
def service() -> Iterator[ServiceProcess]:
    env = settings_env(max_request_line_bytes=str(LINE_LIMIT), max_header_bytes=str(FIELDS_LIMIT))
    with service_process("app", env, inherit_settings=False) as process:
        yield process


@dataclass(frozen=True)
class Attack:
    sent: int
    answer: bytes
    seconds: float


def huge_header(port: int) -> Attack:
    """Send a header of `ATTACK_BYTES` as fast as the server takes it, stopping as soon as an
    answer is in (or the server closes, or `ATTACK_SECONDS` pass)."""
    with socket.create_connection((HOST, port), timeout=5) as connection:
        connection.sendall(f"GET /v1/head HTTP/1.1\r\nHost: {HOST}\r\nX-Huge: ".encode())
        connection.setblocking(False)
        filler = b"a" * 2**16
        sent, answer = 0, b""
        started = time.monotonic()
        while time.monotonic() - started < ATTACK_SECONDS and not answer_complete(answer):
            sending = [connection] if sent < ATTACK_BYTES else []
            readable, writable, _ = select.select([connection], sending, [], 0.1)
            try:
                if readable:
                    received = connection.recv(2**16)
                    if not received:
                        break
                    answer += received
                elif writable:
                    sent += connection.send(filler)
            except BlockingIOError:
                continue
            except (BrokenPipeError, ConnectionResetError):  # the answer may be in already
                answer += received_until_closed(connection, 1.0)
                break
        return Attack(sent, answer, time.monotonic() - started)


def latencies(client: httpx.Client, count: int) -> list[float]:
    measured = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get("/v1/head")
        measured.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    return measured


def attack_until(port: int, started: Any, stop: Any, results: Any) -> None:
    """Attack again and again until ``stop`` is set, then put every attack in ``results``. Runs
    in a process of its own, so that the attack does not slow the reader down on this side."""
    attacks = []
    started.set()
    while not stop.wait(PAUSE):
        attacks.append(huge_header(port))
    results.put(attacks)


def test_a_150_mb_header_is_refused_while_it_is_sent_and_nobody_else_waits(
    service: ServiceProcess,
) -> None:
    """Two attackers send 150 MB headers, each again 20 ms after the last was refused, while a
    reader measures its latency.
    Every attack is answered 431 long before its header is sent; the reader's median stays
    within 5x its idle median plus 10 ms (the issue's 2x, with room for a shared, loaded
    machine: without the limit each read took seconds); the server does not grow (it grew by
    316 MB)."""
    spawn = multiprocessing.get_context("spawn")
    stop, results = spawn.Event(), spawn.Queue()
    started = [spawn.Event() for _ in range(2)]
    attackers = [
        spawn.Process(target=attack_until, args=(service.port, each, stop, results))
        for each in started
    ]
    with httpx.Client(base_url=service.base_url, timeout=ATTACK_SECONDS) as reader:
        idle = statistics.median(latencies(reader, SAMPLES))
        rss_before = service.rss_kib()
        for process in attackers:
            process.start()
        try:
            for each in started:
                assert each.wait(30), "an attacker did not start"
            time.sleep(0.2)
            under_attack = latencies(reader, SAMPLES)
        finally:
            stop.set()
            attacks: list[Attack] = []
            for _ in attackers:
                attacks += results.get(timeout=ATTACK_SECONDS + 20)
            for process in attackers:
                process.join(10)
        rss_growth_mib = (service.rss_kib() - rss_before) / 1024

    busy = statistics.median(under_attack)
    print(
        f"\n{len(attacks)} attacks; idle median {idle * 1000:.2f} ms, under attack "
        f"{busy * 1000:.2f} ms; each refused after {max(a.sent for a in attacks):,} bytes "
        f"sent at most, in {max(a.seconds for a in attacks) * 1000:.0f} ms at most; "
        f"RSS {rss_growth_mib:+.1f} MiB"
    )
    assert attacks
    for attack in attacks:
        answer = parse_answer(attack.answer)
        assert answer.status == 431, attack.answer[:300]
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["connection"] == "close"
        assert answer.json()["status"] == 431
        assert attack.sent < ATTACK_BYTES, "answered only once everything was sent"
    assert busy <= 5 * idle + 0.010
    assert rss_growth_mib < 50


def problem(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["connection"] == "close"
    detail: str = response.json()["detail"]
    return detail


def test_the_request_line_and_the_header_fields_have_their_limits(
    service: ServiceProcess,
) -> None:
    line_frame = len("GET ") + len(" HTTP/1.1\r\n")
    room = LINE_LIMIT - line_frame - len("/v1/head?x=")
    with httpx.Client(base_url=service.base_url) as client:
        assert client.get("/v1/head", params={"x": "a" * room}).status_code == 200
        detail = problem(client.get("/v1/head", params={"x": "a" * (room + 1)}), 414)
        assert str(LINE_LIMIT) in detail
        with httpx.Client(base_url=service.base_url) as fresh:  # a refusal closes the connection
            detail = problem(fresh.get("/healthz", headers={"X-Big": "a" * FIELDS_LIMIT}), 431)
        assert str(FIELDS_LIMIT) in detail
        many = {f"X-{n:04}": "a" * 90 for n in range(FIELDS_LIMIT // 100)}
        with httpx.Client(base_url=service.base_url) as fresh:
            problem(fresh.get("/healthz", headers=many), 431)  # each small, too many together
        few = dict(list(many.items())[: FIELDS_LIMIT // 200])
        with httpx.Client(base_url=service.base_url) as fresh:
            assert fresh.get("/healthz", headers=few).status_code == 200


def test_what_is_not_http_is_a_400_problem(service: ServiceProcess) -> None:
    answer = parse_answer(exchange(service.port, b"GET /healthz HTTP/1.1\r\nHost x\r\n\r\n", []))

    assert answer.status == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["status"] == 400
