"""A browser page of an allowed origin may call the API with its token; no other origin may.

The page sends ``Authorization: Bearer ...``, so the browser first asks a preflight, and reads
the answer only if it names the page's origin exactly (never ``*``, which browsers refuse with
credentials) and allows credentials. A 401 must carry the same headers, or the page cannot even
see why it was refused. Because credentials are allowed, ``*`` and anything that is not an exact
origin are refused as configuration, by `Settings` and by ``python -m app`` at start.

`tests/stream/test_cors.py` covers the stream (EventSource) over a real server; this covers the
token-carrying requests, over ASGI.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from app.config import Settings
from tests.support.api import api_client, assert_problem, event, make_settings
from tests.support.live_server import refused_start

pytestmark = pytest.mark.anyio

ORIGIN = "https://app.example"
OTHER_ORIGIN = "https://evil.example"
WRITER = "writer-token-0123456789"
READER = "reader-token-0123456789"
APPEND_BODY = {"events": [event("SeatClaimed", "seat:7")]}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(
        cors_origins=[ORIGIN], api_tokens={WRITER: ["read", "append"], READER: ["read"]}
    )
    async with api_client(settings) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_credentialed_cors(response: httpx.Response) -> None:
    assert response.headers.get("access-control-allow-origin") == ORIGIN
    assert response.headers.get("access-control-allow-credentials") == "true"
    assert "origin" in response.headers.get("vary", "").lower()


async def preflight(client: httpx.AsyncClient, origin: str) -> httpx.Response:
    return await client.options(
        "/v1/events",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
    )


async def test_preflight_of_an_append_with_a_token_is_allowed(client: httpx.AsyncClient) -> None:
    response = await preflight(client, ORIGIN)

    assert response.status_code == 200, response.text
    assert_credentialed_cors(response)
    allowed_headers = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed_headers
    assert "content-type" in allowed_headers
    assert "POST" in response.headers["access-control-allow-methods"]


async def test_an_append_from_the_origin_can_be_read_by_the_page(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/v1/events", json=APPEND_BODY, headers={"Origin": ORIGIN, **bearer(WRITER)}
    )

    assert response.status_code == 201, response.text
    assert_credentialed_cors(response)
    exposed = response.headers["access-control-expose-headers"].lower()
    assert "retry-after" in exposed
    assert "idempotent-replayed" in exposed
    assert "www-authenticate" in exposed  # a page can see why it was refused


@pytest.mark.parametrize(
    ("credentials", "status", "problem_type"),
    [
        ({}, 401, "/problems/unauthorized"),
        (bearer("not-a-known-token"), 401, "/problems/unauthorized"),
        (bearer(READER), 403, "/problems/forbidden"),
    ],
    ids=["no-token", "unknown-token", "missing-scope"],
)
async def test_a_refusal_from_the_origin_can_be_read_by_the_page(
    client: httpx.AsyncClient, credentials: dict[str, str], status: int, problem_type: str
) -> None:
    response = await client.post(
        "/v1/events", json=APPEND_BODY, headers={"Origin": ORIGIN, **credentials}
    )

    assert_problem(response, status, problem_type)
    assert_credentialed_cors(response)
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_another_origin_is_not_allowed(client: httpx.AsyncClient) -> None:
    refused_preflight = await preflight(client, OTHER_ORIGIN)
    response = await client.post(
        "/v1/events", json=APPEND_BODY, headers={"Origin": OTHER_ORIGIN, **bearer(WRITER)}
    )

    assert refused_preflight.status_code == 400
    assert "access-control-allow-origin" not in refused_preflight.headers
    assert "access-control-allow-origin" not in response.headers


async def test_without_configured_origins_no_origin_is_allowed() -> None:
    async with api_client(make_settings(api_tokens={WRITER: ["append"]})) as client:
        response = await client.post(
            "/v1/events", json=APPEND_BODY, headers={"Origin": ORIGIN, **bearer(WRITER)}
        )

    assert response.status_code == 201, response.text
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-credentials" not in response.headers


@pytest.mark.parametrize(
    "origin",
    [
        "*",
        "https://app.example/app",
        "https://app.example?x=1",
        "https://app.example#top",
        "app.example",
        "//app.example",
        "ftp://app.example",
        "",
        "https://*.example",  # Starlette compares literally: it would never match
    ],
)
def test_anything_but_an_exact_origin_is_refused(origin: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(cors_origins=[ORIGIN, origin])

    [error] = caught.value.errors()
    assert error["loc"] == ("cors_origins",)
    assert "is not an origin like https://app.example.com" in error["msg"]


@pytest.mark.parametrize(
    "origin", ["https://app.example", "http://localhost:5173", "https://app.example:8443"]
)
def test_exact_origins_are_accepted(origin: str) -> None:
    assert Settings(cors_origins=[origin]).cors_origins == [origin]


@pytest.mark.parametrize("written", ["https://app.example/", "HTTPS://App.Example"])
def test_origins_are_kept_as_browsers_send_them(written: str) -> None:
    """A trailing slash (as a URL is often copied) and capitals would never match what a
    browser sends in Origin: they are normalised, not refused."""
    assert Settings(cors_origins=[written]).cors_origins == ["https://app.example"]


def test_origins_that_are_not_json_are_explained_with_an_example(tmp_path: Path) -> None:
    result = refused_start({"EVENTSTORE_CORS_ORIGINS": "https://app.example"}, cwd=tmp_path)

    assert result.returncode != 0
    [message] = result.stderr.strip().splitlines()
    assert message.startswith("python -m app: invalid configuration: EVENTSTORE_CORS_ORIGINS ")
    assert "must be JSON" in message
    assert '["https://app.example.com"]' in message
    assert "EnvSettingsSource" not in message


def test_the_service_refuses_to_start_with_any_origin(tmp_path: Path) -> None:
    result = refused_start({"EVENTSTORE_CORS_ORIGINS": json.dumps(["*"])}, cwd=tmp_path)

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    [message] = result.stderr.strip().splitlines()
    assert message.startswith("python -m app: invalid configuration: EVENTSTORE_CORS_ORIGINS: ")
    assert "'*' is not an origin like https://app.example.com" in message
