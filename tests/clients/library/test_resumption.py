"""What a subscription does when a stream repeats itself: a stream that goes back over events
already delivered (a proxy replaying, a server that ignores ``Last-Event-ID``) still yields
each event once, in order. The service itself never does that, so no real service can show
it: httpx's ``MockTransport`` plays a stream that does, and records what each connection sent.
"""

from __future__ import annotations

import itertools
import json

import httpx

from eventstore_client import EventStore, Retries

RECORDED_AT = "2026-12-01T09:30:00.000000Z"


def message(position: int) -> str:
    event = {"position": position, "id": f"id-{position}", "type": "Happened"}
    return f"id: {position}\ndata: {json.dumps({**event, 'recorded_at': RECORDED_AT})}\n\n"


def test_a_stream_that_goes_back_yields_each_event_once_in_order() -> None:
    answers = iter([[1, 2], [2, 1, 3], [3, 4]])  # each connection's events, then it ends
    resumed_from: list[str] = []

    def stream(request: httpx.Request) -> httpx.Response:
        resumed_from.append(request.headers["Last-Event-ID"])
        body = ": heartbeat\n\n" + "".join(message(p) for p in next(answers))
        return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})

    client = httpx.Client(base_url="http://store", transport=httpx.MockTransport(stream))
    with client, EventStore(client=client) as store:
        subscription = store.subscribe(after=0, reconnect=Retries(attempts=0, backoff=0.001))
        with subscription:
            received = [event.position for event in itertools.islice(subscription, 4)]

    assert received == [1, 2, 3, 4]
    assert resumed_from == ["0", "2", "3"]
    assert subscription.connections == 3
