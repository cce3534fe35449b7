"""Appending over HTTP and checking what a stream delivered against what was appended."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from socket import SO_RCVBUF, SOL_SOCKET
from typing import Any

import httpx

from tests.support.sse import WAIT, Message, positions

STREAM_DEFAULTS = {
    "heartbeat_seconds": "15",
    "stream_max_seconds": "3600",
    "stream_send_timeout_seconds": "10",
    "stream_buffer_events": "10000",
    "stream_batch_size": "500",
    "cors_origins": "[]",
    "api_tokens": "{}",
    "max_streams": "10000",
    "max_streams_per_token": "1000",
}
"""Set explicitly, so that an ``EVENTSTORE_*`` variable in the environment cannot change them."""


def service_env(database: str, **settings: str) -> dict[str, str]:
    """The environment of a server on ``database``: `STREAM_DEFAULTS`, then ``settings`` (each
    ``EVENTSTORE_<NAME>``)."""
    return {
        "EVENTSTORE_DATABASE_URL": database,
        "EVENTSTORE_LOG_LEVEL": "warning",
        **{
            f"EVENTSTORE_{name.upper()}": value
            for name, value in (STREAM_DEFAULTS | settings).items()
        },
    }


Serve = Callable[..., str]
"""The ``serve`` fixture: ``serve(heartbeat_seconds="0.2", ...)`` starts a server with these
settings and returns its URL."""

Appended = dict[int, dict[str, Any]]
"""Position -> the event as it was sent."""


def client_for(base_url: str, *, receive_buffer: int | None = None) -> httpx.AsyncClient:
    """A client of ``base_url``; ``receive_buffer`` fixes its sockets' receive buffers (no
    autotuning), so that a server soon blocks on a stream the client does not read."""
    options = [] if receive_buffer is None else [(SOL_SOCKET, SO_RCVBUF, receive_buffer)]
    transport = httpx.AsyncHTTPTransport(socket_options=options)
    return httpx.AsyncClient(base_url=base_url, timeout=WAIT, transport=transport)


def event(event_type: str = "Happened", *tags: str, data: Any = None) -> dict[str, Any]:
    return {"type": event_type, "tags": list(tags), "data": data}


async def append(
    client: httpx.AsyncClient, *events: dict[str, Any], condition: dict[str, Any] | None = None
) -> Appended:
    """Append ``events`` in one request; the events by the positions they were stored at."""
    body: dict[str, Any] = {"events": list(events)}
    if condition is not None:
        body["condition"] = condition
    response = await client.post("/v1/events", json=body)
    assert response.status_code == 201, response.text
    stored: list[int] = response.json()["positions"]
    return dict(zip(stored, events, strict=True))


async def append_each(client: httpx.AsyncClient, *events: dict[str, Any]) -> Appended:
    """Append ``events`` one request each."""
    appended: Appended = {}
    for one in events:
        appended |= await append(client, one)
    return appended


def assert_delivered(messages: list[Message], appended: Appended) -> None:
    """``messages`` are exactly the events of ``appended``, in position order, each once, and
    each carries what was appended."""
    got, expected = positions(messages), sorted(appended)
    assert got == expected, (
        f"missing {sorted(set(expected) - set(got))}, unexpected {sorted(set(got) - set(expected))}"
        f", duplicated {sorted(p for p, n in Counter(got).items() if n > 1)}"
        f", in order {got == sorted(got)}"
    )
    for message in messages:
        received = message.event()
        sent = appended[message.position]
        assert received["position"] == message.position
        assert (received["type"], received["tags"]) == (sent["type"], sent["tags"])
        assert received["data"] == sent["data"], f"the data of {message.position} changed"
