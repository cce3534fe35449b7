"""Two worker processes serving one address (``EVENTSTORE_WORKERS=2``), on SQLite and on
PostgreSQL: connections spread over both, and what one client may do (tickets, stream and
append limits) and what ``/metrics`` says hold for the whole service, whichever process serves
each request."""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest

from tests.support.live_server import ServiceProcess
from tests.support.workers import Connection, connection_to, owners, worker_pids
from tests.workers.conftest import APPEND_BURST, READER, STREAMS_PER_TOKEN, WRITER

STREAM = "/v1/events/stream"
EVENT = {"events": [{"type": "Tested", "data": {}, "tags": ["t:1"]}]}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def pair(service: ServiceProcess) -> tuple[Connection, Connection]:
    """A connection to each of the two workers."""
    first, second = worker_pids(service.pid)
    pids = [first, second]
    return connection_to(service.port, first, pids), connection_to(service.port, second, pids)


def open_stream(connection: Connection, token: str = READER, **params: str) -> int:
    """Ask for a stream on ``connection``; its status (the body is left unread)."""
    query = "&".join(f"{name}={value}" for name, value in params.items())
    connection.send("GET", f"{STREAM}?{query}", {} if "ticket" in params else bearer(token))
    status, _ = connection.head()
    return status


def sample(metrics: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{label}="{value}"' for label, value in sorted(labels.items()))
    for line in metrics.splitlines():
        found = re.fullmatch(rf"{name}(?:\{{(.*)\}})? (\S+)", line)
        if found and ",".join(sorted((found.group(1) or "").split(","))) == wanted:
            return float(found.group(2))
    raise AssertionError(f"no sample {name}{{{wanted}}} in:\n{metrics}")


@pytest.mark.parametrize("count", [16, 64])
def test_connections_opened_at_once_are_spread_over_both_workers(
    service: ServiceProcess, count: int
) -> None:
    pids = worker_pids(service.pid)
    connections = Connection.at_once(service.port, count)
    try:
        for connection in connections:
            connection.send("GET", "/healthz")
        for connection in connections:
            assert connection.head()[0] == 200
        held = Counter(owners(service.port, [c.client_port for c in connections], pids))
    finally:
        for connection in connections:
            connection.close()
    # SO_REUSEPORT spreads them by a hash, like coin flips: with 64, fewer than 16 on one side
    # has odds of about 1 in 25,000. One shared socket gave 58/6, 53/11 and 51/13 in 7 trials.
    assert set(held) == set(pids), held
    assert min(held.values()) >= (count // 4 if count >= 64 else 1), held


def test_a_ticket_from_one_worker_opens_a_stream_on_the_other(service: ServiceProcess) -> None:
    first, second = pair(service)
    answer = first.request("POST", "/v1/stream-tickets", bearer(READER))
    assert answer.status == 200, answer.body
    assert open_stream(second, ticket=answer.json()["ticket"]) == 200


def test_the_streams_per_token_limit_holds_across_workers(service: ServiceProcess) -> None:
    first, second = pair(service)
    assert open_stream(first) == 200
    assert open_stream(second) == 200
    assert STREAMS_PER_TOKEN == 2
    for worker in pair(service):
        assert open_stream(worker) == 429
    first.close()  # the stream ends; the other worker may open one now
    third = pair(service)[1]
    deadline = time.monotonic() + 10
    while (status := open_stream(third)) == 429:
        assert time.monotonic() < deadline, "the slot was not freed"
        third = pair(service)[1]
        time.sleep(0.1)
    assert status == 200


def test_the_append_rate_holds_across_workers(service: ServiceProcess) -> None:
    first, second = pair(service)
    statuses = [
        (first if turn % 2 else second).request("POST", "/v1/events", bearer(WRITER), EVENT).status
        for turn in range(APPEND_BURST + 2)
    ]
    assert statuses == [201] * APPEND_BURST + [429, 429]


def test_metrics_count_the_requests_of_both_workers(service: ServiceProcess) -> None:
    first, second = pair(service)
    for _ in range(3):
        assert first.request("GET", "/v1/events", bearer(READER)).status == 200
    for _ in range(4):
        assert second.request("GET", "/v1/events", bearer(READER)).status == 200
    assert open_stream(pair(service)[1]) == 200
    for connection in (first, second):
        metrics = connection.request("GET", "/metrics", bearer(WRITER)).body.decode()
        requests = sample(
            metrics,
            "eventstore_http_requests_total",
            method="GET",
            route="/v1/events",
            status="200",
        )
        assert requests == 7
        assert sample(metrics, "eventstore_streams_open") == 1
