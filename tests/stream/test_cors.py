"""With ``EVENTSTORE_CORS_ORIGINS``, a browser page of an allowed origin may open the stream."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.support.live_server import live_server
from tests.support.sse import STREAM_PATH, open_stream
from tests.support.streams import client_for

pytestmark = pytest.mark.anyio

ALLOWED = "http://allowed.test"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = tmp_path_factory.mktemp("store") / "store.db"
    env = {
        "EVENTSTORE_DATABASE_URL": f"sqlite:///{store}",
        "EVENTSTORE_CORS_ORIGINS": json.dumps([ALLOWED]),
    }
    with live_server(env) as url:
        yield url


async def allowed_origin(base_url: str, origin: str) -> str | None:
    async with (
        client_for(base_url) as client,
        open_stream(client, headers={"Origin": origin}) as stream,
    ):
        allowed: str | None = stream.response.headers.get("access-control-allow-origin")
        return allowed


async def test_allowed_origin_may_read_the_stream(base_url: str) -> None:
    assert await allowed_origin(base_url, ALLOWED) == ALLOWED


async def test_other_origin_may_not(base_url: str) -> None:
    assert await allowed_origin(base_url, "http://other.test") is None


async def test_reconnect_with_last_event_id_passes_a_preflight(base_url: str) -> None:
    async with client_for(base_url) as client:
        response = await client.options(
            STREAM_PATH,
            headers={
                "Origin": ALLOWED,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "last-event-id",
            },
        )
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "last-event-id" in response.headers["access-control-allow-headers"].lower()


async def test_a_refused_stream_still_carries_the_cors_header(base_url: str) -> None:
    async with client_for(base_url) as client:
        response = await client.get(
            STREAM_PATH, params={"after": "-1"}, headers={"Origin": ALLOWED}
        )
    assert response.status_code == 422
    assert response.headers["access-control-allow-origin"] == ALLOWED
