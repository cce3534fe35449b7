"""Who may call what: every endpoint against every kind of credential.

The matrix is complete by construction: `test_the_matrix_covers_every_route` fails when a route
is added without a row here. Each row is called with no token, a malformed header, an unknown
token, a token of each single scope and a token of every scope, and must answer exactly: 401
(with ``WWW-Authenticate: Bearer``) without a known token, 403 without the scope, its own
success status with it. Health, readiness and the OpenAPI document stay open.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest

from app.access.tokens import Scope
from app.main import create_app
from tests.support.api import api_client, make_settings

pytestmark = pytest.mark.anyio

TOKENS = {
    "reader-token": ["read"],
    "appender-token": ["append"],
    "snapshotter-token": ["snapshot"],
    "scraper-token": ["metrics"],
    "schema-admin-token": ["admin"],
    "admin-token": ["read", "append", "snapshot", "admin", "metrics"],
}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    scope: Scope | None  # None: open to anyone
    success: int
    json: Any = None
    route: str = ""  # the route's template, where it differs from the path

    @property
    def template(self) -> str:
        return self.route or self.path.split("?")[0]


SNAPSHOT = "/v1/snapshots/{name}/{key}"
SCHEMA = "/v1/event-types/{event_type}/schema"
ENDPOINTS = [
    Endpoint("POST", "/v1/events", Scope.APPEND, 201, {"events": [{"type": "Happened"}]}),
    Endpoint("POST", "/v1/events/query", Scope.READ, 200, {}),
    Endpoint("GET", "/v1/events", Scope.READ, 200),
    Endpoint("GET", "/v1/events/stream?after=0&live=false", Scope.READ, 200),
    Endpoint("GET", "/v1/head", Scope.READ, 200),
    Endpoint("POST", "/v1/stream-tickets", Scope.READ, 200),
    Endpoint(
        "PUT",
        "/v1/snapshots/counter/k1",
        Scope.SNAPSHOT,
        200,
        {"position": 0, "state": {"n": 0}},
        route=SNAPSHOT,
    ),
    Endpoint("GET", "/v1/snapshots/counter/k1", Scope.READ, 200, route=SNAPSHOT),
    Endpoint(
        "DELETE",
        "/v1/snapshots/counter/k1",
        Scope.SNAPSHOT,
        204,
        route=SNAPSHOT,
    ),
    Endpoint("GET", "/v1/event-types", Scope.READ, 200),
    Endpoint("GET", "/v1/tags", Scope.READ, 200),
    Endpoint("GET", "/v1/stats", Scope.READ, 200),
    Endpoint("PUT", "/v1/event-types/B/schema", Scope.ADMIN, 200, {"type": "object"}, route=SCHEMA),
    Endpoint("GET", "/v1/event-types/A/schema", Scope.READ, 200, route=SCHEMA),
    Endpoint("DELETE", "/v1/event-types/A/schema", Scope.ADMIN, 204, route=SCHEMA),
    Endpoint("GET", "/metrics", Scope.METRICS, 200),
    Endpoint("GET", "/healthz", None, 200),
    Endpoint("GET", "/readyz", None, 200),
]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


CREDENTIALS: dict[str, dict[str, str]] = {
    "no token": {},
    "unknown token": bearer("not-a-token"),
    "other scheme": {"Authorization": "Basic YWRtaW4tdG9rZW46"},
    "empty bearer": {"Authorization": "Bearer "},
    "scope read": bearer("reader-token"),
    "scope append": bearer("appender-token"),
    "scope snapshot": bearer("snapshotter-token"),
    "scope metrics": bearer("scraper-token"),
    "scope admin": bearer("schema-admin-token"),
    "every scope": bearer("admin-token"),
}


ADMIN = bearer("admin-token")


def expected_status(endpoint: Endpoint, credential: str) -> int:
    if endpoint.scope is None:
        return endpoint.success
    header = CREDENTIALS[credential].get("Authorization", "")
    token = header.removeprefix("Bearer ")
    if token not in TOKENS:
        return 401
    return endpoint.success if endpoint.scope.value in TOKENS[token] else 403


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """A guarded service holding one event, the snapshot the snapshot rows touch, and the
    schema of the schema rows."""
    async with api_client(make_settings(api_tokens=TOKENS)) as client:
        stored = await client.post("/v1/events", json={"events": [{"type": "A"}]}, headers=ADMIN)
        assert stored.status_code == 201
        snapshot = {"position": 1, "state": {"n": 1}}
        put = await client.put("/v1/snapshots/counter/k1", json=snapshot, headers=ADMIN)
        assert put.status_code == 200
        schema = await client.put("/v1/event-types/A/schema", json=True, headers=ADMIN)
        assert schema.status_code == 200
        yield client


async def call(
    client: httpx.AsyncClient, endpoint: Endpoint, headers: dict[str, str]
) -> httpx.Response:
    return await client.request(endpoint.method, endpoint.path, json=endpoint.json, headers=headers)


@pytest.mark.parametrize("credential", list(CREDENTIALS))
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.template}")
async def test_each_endpoint_answers_each_credential(
    client: httpx.AsyncClient, endpoint: Endpoint, credential: str
) -> None:
    response = await call(client, endpoint, CREDENTIALS[credential])

    want = expected_status(endpoint, credential)
    assert response.status_code == want, response.text
    if want == 401:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "/problems/unauthorized"
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith("Bearer ")
        presented = "Authorization" in CREDENTIALS[credential]
        assert ('error="invalid_token"' in challenge) is presented
    elif want == 403:
        problem = response.json()
        assert problem["type"] == "/problems/forbidden"
        assert problem["scope"] == endpoint.scope


async def test_the_matrix_covers_every_route() -> None:
    """Every operation of the API (the OpenAPI document lists them all) has a row here."""
    paths = create_app(make_settings()).openapi()["paths"]
    operations = {(method.upper(), path) for path, item in paths.items() for method in item}

    assert operations == {(endpoint.method, endpoint.template) for endpoint in ENDPOINTS}


async def test_the_openapi_document_and_docs_are_open(client: httpx.AsyncClient) -> None:
    assert (await client.get("/openapi.json")).status_code == 200
    assert (await client.get("/docs")).status_code == 200


async def test_access_is_checked_before_the_body(client: httpx.AsyncClient) -> None:
    """A caller without a token learns nothing from the service about its request."""
    for body in (b"{not json", b'{"events": []}'):
        response = await client.post(
            "/v1/events", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 401
    forbidden = await client.post(
        "/v1/events",
        content=b"{not json",
        headers={"Content-Type": "application/json", "Authorization": "Bearer reader-token"},
    )
    assert forbidden.status_code == 403


async def test_a_refused_append_stores_nothing(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer reader-token"}):
        refused = await client.post("/v1/events", json={"events": [{"type": "B"}]}, headers=headers)
        assert refused.status_code in (401, 403)
    head = await client.get("/v1/head", headers=ADMIN)
    assert head.json() == {"head": 1}


async def test_problems_never_echo_the_token(client: httpx.AsyncClient) -> None:
    for token in ("not-a-token-but-secret-looking", "reader-token"):
        response = await client.post(
            "/v1/events",
            json={"events": [{"type": "B"}]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code in (401, 403)
        assert token not in response.text
        assert token not in str(response.headers)


async def test_the_scheme_name_is_case_insensitive(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/head", headers={"Authorization": "bearer reader-token"})
    assert response.status_code == 200


async def test_metrics_can_be_public() -> None:
    settings = make_settings(api_tokens=TOKENS, metrics_public=True)
    async with api_client(settings) as client:
        assert (await client.get("/metrics")).status_code == 200
        assert (await client.get("/v1/head")).status_code == 401


async def test_without_tokens_the_api_is_open_whatever_is_sent() -> None:
    async with api_client(make_settings()) as client:
        for headers in ({}, {"Authorization": "Bearer anything"}, {"Authorization": "Basic x"}):
            appended = await client.post(
                "/v1/events", json={"events": [{"type": "A"}]}, headers=headers
            )
            assert appended.status_code == 201
            assert (await client.get("/metrics", headers=headers)).status_code == 200
            ticket = await client.post("/v1/stream-tickets", headers=headers)
            assert ticket.status_code == 200


async def test_a_ticket_is_a_short_lived_read_credential(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/stream-tickets", headers=bearer("reader-token"))

    body = response.json()
    assert set(body) == {"ticket", "expires_in"}
    assert body["expires_in"] == 300
    assert response.headers["cache-control"] == "no-store"
    stream = await client.get(
        "/v1/events/stream", params={"after": 0, "live": "false", "ticket": body["ticket"]}
    )
    assert stream.status_code == 200
    assert stream.text.startswith("id: 1\n")


@pytest.mark.parametrize("lifetime", [1, 600])
async def test_the_ticket_lifetime_is_configurable(lifetime: int) -> None:
    """The lifetime a ticket is given is the one reported (its expiry itself is tested on a
    fake clock in tests/access/test_tickets.py and against a server in tests/stream)."""
    settings = make_settings(api_tokens=TOKENS, stream_ticket_seconds=lifetime)
    async with api_client(settings) as client:
        response = await client.post("/v1/stream-tickets", headers=ADMIN)
    assert response.json()["expires_in"] == lifetime


async def test_append_rate_per_token() -> None:
    """Over its rate a token gets 429 with Retry-After and stores nothing; others go on; once
    the bucket refills, the token appends again."""
    settings = make_settings(api_tokens=TOKENS, append_rate_per_token=4, append_burst_per_token=2)
    async with api_client(settings) as client:
        body = {"events": [{"type": "A"}]}
        appender = {"Authorization": "Bearer appender-token"}
        statuses = [(await client.post("/v1/events", json=body, headers=appender)).status_code]
        statuses.append((await client.post("/v1/events", json=body, headers=appender)).status_code)
        refused = await client.post("/v1/events", json=body, headers=appender)

        assert statuses == [201, 201]
        assert refused.status_code == 429
        assert refused.json()["type"] == "/problems/too-many-requests"
        assert refused.headers["retry-after"] == "1"
        assert (await client.post("/v1/events", json=body, headers=ADMIN)).status_code == 201
        assert (await client.get("/v1/head", headers=ADMIN)).json() == {"head": 3}
        # Reads are not rate limited.
        for _ in range(5):
            assert (await client.get("/v1/head", headers=ADMIN)).status_code == 200

        await anyio.sleep(0.3)  # 4 a second: one more append is due after 0.25 s
        assert (await client.post("/v1/events", json=body, headers=appender)).status_code == 201


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.template}")
async def test_a_ticket_opens_the_stream_and_nothing_else(
    client: httpx.AsyncClient, endpoint: Endpoint
) -> None:
    minted = await client.post("/v1/stream-tickets", headers=ADMIN)
    ticket = minted.json()["ticket"]
    separator = "&" if "?" in endpoint.path else "?"

    response = await client.request(
        endpoint.method, f"{endpoint.path}{separator}ticket={ticket}", json=endpoint.json
    )

    if endpoint.scope is None or endpoint.template == "/v1/events/stream":
        assert response.status_code == endpoint.success, response.text
    else:
        assert response.status_code == 401, response.text
