"""GET /v1/head, /healthz, /readyz, /metrics."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from app.access.tokens import ANONYMOUS
from app.errors import StorageUnavailable
from app.storage.memory import MemoryEngine
from tests.support.api import (
    api_client,
    append,
    append_ok,
    assert_problem,
    client_for,
    event,
    make_settings,
    running_app,
)

pytestmark = pytest.mark.anyio


class UnreachableEngine(MemoryEngine):
    """An in-memory store whose database stops answering when ``reachable`` is cleared."""

    reachable = True

    async def ping(self) -> None:
        await self.head()

    async def head(self) -> int:
        if not self.reachable:
            raise StorageUnavailable("connection refused")
        return await super().head()


async def test_head_of_an_empty_store_is_zero(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/head")

    assert response.status_code == 200
    assert response.json() == {"head": 0}


async def test_head_is_the_last_position(client: httpx.AsyncClient) -> None:
    await append_ok(client, event("A"), event("B"), event("C"))

    assert (await client.get("/v1/head")).json() == {"head": 3}


async def test_healthz_says_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_says_ready_when_the_database_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


async def test_readyz_is_503_with_retry_after_when_the_database_does_not_answer() -> None:
    store = UnreachableEngine()
    async with api_client(store=store) as client:
        store.reachable = False
        response = await client.get("/readyz")
        health = await client.get("/healthz")

    assert_problem(response, 503, "about:blank")
    assert response.headers["retry-after"] == "1"
    assert "connection refused" not in response.text
    assert health.status_code == 200


async def test_storage_unavailable_on_any_route_is_503() -> None:
    store = UnreachableEngine()
    async with api_client(store=store) as client:
        store.reachable = False
        response = await client.get("/v1/head")

    assert_problem(response, 503, "about:blank")


async def test_metrics_are_prometheus_text(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE eventstore_http_requests_total counter" in response.text


async def test_metrics_count_requests_by_route_template_and_status(
    client: httpx.AsyncClient,
) -> None:
    await client.put("/v1/snapshots/s/k1", json={"position": 0, "state": None})
    await client.put("/v1/snapshots/s/k2", json={"position": 0, "state": None})
    await client.get("/no/such/route")

    text = (await client.get("/metrics")).text

    assert (
        'eventstore_http_requests_total{method="PUT",route="/v1/snapshots/{name}/{key}",'
        'status="200"} 2.0' in text
    )
    assert 'route="<unmatched>",status="404"} 1.0' in text
    assert "k1" not in text
    assert 'eventstore_http_request_duration_seconds_count{method="PUT"' in text


async def test_metrics_count_appends_conflicts_and_events(client: httpx.AsyncClient) -> None:
    sent = event("A", "k:1", id="6f1c1b7e-2f59-4a49-9a4e-0d4b0a9c1b11")
    await append(client, sent, event("B"))
    await append(client, sent, event("B"))  # not a replay: B has no id
    await append(client, event("C", "k:1"), condition={"fail_if_events_match": {"items": []}})
    replay = [event("D", id="0c7a3e1e-8f1b-4a3c-9d2e-5b6a7c8d9e0f")]
    await append(client, *replay)
    await append(client, *replay)

    text = (await client.get("/metrics")).text

    assert 'eventstore_appends_total{outcome="stored"} 2.0' in text
    assert 'eventstore_appends_total{outcome="replayed"} 1.0' in text
    assert "eventstore_append_conflicts_total 1.0" in text
    assert "eventstore_events_appended_total 3.0" in text


async def test_each_app_has_its_own_metrics() -> None:
    async with running_app(make_settings()) as first, client_for(first) as first_client:
        await first_client.get("/healthz")
        async with running_app(make_settings()) as second, client_for(second) as second_client:
            text = (await second_client.get("/metrics")).text

    assert 'route="/healthz"' not in text


async def test_metrics_show_how_appends_were_grouped_into_transactions(tmp_path: Path) -> None:
    settings = make_settings(database_url=f"sqlite:///{tmp_path}/store.db")
    async with api_client(settings) as client:
        await append_ok(client, event("Alone"))
        together = await asyncio.gather(*(append(client, event(str(n))) for n in range(8)))
        text = (await client.get("/metrics")).text

    assert [response.status_code for response in together] == [201] * 8
    batches = _sample(text, "eventstore_append_batches_total")
    assert _sample(text, "eventstore_append_batched_requests_total") == 9
    assert 2 <= batches < 9, "concurrent appends shared transactions"
    assert _sample(text, "eventstore_append_batch_largest") > 1


async def test_a_memory_store_publishes_no_batch_metrics(client: httpx.AsyncClient) -> None:
    await append_ok(client, event("A"))
    assert "eventstore_append_batches" not in (await client.get("/metrics")).text


def _sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} is not in /metrics")


async def test_metrics_show_the_streams_open_now() -> None:
    """Streams hold their slot until their response ends; the gauge reads the slots."""
    async with running_app(make_settings()) as app, client_for(app) as client:
        streams = app.state["access"].streams
        held = [streams.acquire(ANONYMOUS), streams.acquire(ANONYMOUS)]
        assert _sample((await client.get("/metrics")).text, "eventstore_streams_open") == 2
        held[0].release()
        assert _sample((await client.get("/metrics")).text, "eventstore_streams_open") == 1
        finished = await client.get("/v1/events/stream", params={"after": 0, "live": "false"})
        assert finished.status_code == 200
        assert _sample((await client.get("/metrics")).text, "eventstore_streams_open") == 1
