"""The request log and request ids: every answer carries ``X-Request-ID`` (the client's when it
is a plain identifier, a new one otherwise), and one line per request names its id, route,
status, duration, token name (never the token) and, for appends, the positions stored; in the
JSON format every field is its own key."""

from __future__ import annotations

import json
import logging

import pytest

from app.logs import JsonFormatter
from tests.support.api import api_client, event, make_settings

pytestmark = pytest.mark.anyio

TOKEN = "request-log-s3cret-5d1e"


def request_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "app.requests"]


async def test_a_plain_request_id_is_kept_and_returned(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="app.requests")
    async with api_client() as client:
        response = await client.get("/v1/head", headers={"X-Request-ID": "trace-42.a:b_c"})
    assert response.headers["x-request-id"] == "trace-42.a:b_c"
    (line,) = request_lines(caplog)
    fields = line.fields  # type: ignore[attr-defined]
    assert fields["request_id"] == "trace-42.a:b_c"
    assert fields["route"] == "/v1/head"
    assert fields["status"] == 200
    assert fields["duration_ms"] >= 0
    assert "request_id=trace-42.a:b_c" in line.getMessage()


@pytest.mark.parametrize(
    "offered",
    ["", "has space", "x" * 129, "line\\nbreak", '"quoted"', "-leading-dash", "é"],
)
async def test_an_unusable_request_id_is_replaced(
    offered: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.requests")
    async with api_client() as client:
        response = await client.get("/v1/head", headers={b"X-Request-ID": offered.encode()})
    made = response.headers["x-request-id"]
    assert made != offered
    assert len(made) == 32
    assert int(made, 16) >= 0
    (line,) = request_lines(caplog)
    assert line.fields["request_id"] == made  # type: ignore[attr-defined]
    if offered:
        assert offered not in line.getMessage()


async def test_every_request_gets_an_id_of_its_own() -> None:
    async with api_client() as client:
        ids = {(await client.get("/healthz")).headers["x-request-id"] for _ in range(3)}
        missing = await client.get("/no/such/path")
    assert len(ids) == 3
    assert "x-request-id" in missing.headers


async def test_an_append_logs_its_positions_and_token_name_not_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="app.requests")
    settings = make_settings(api_tokens={TOKEN: ["read", "append"]})
    async with api_client(settings) as client:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        await client.post("/v1/events", json={"events": [event("A")]}, headers=headers)
        stored = await client.post(
            "/v1/events", json={"events": [event("B"), event("C"), event("D")]}, headers=headers
        )
        refused = await client.get("/v1/head", headers={"Authorization": "Bearer wrong"})
    assert stored.status_code == 201
    assert refused.status_code == 401
    _first, second, third = request_lines(caplog)
    assert second.fields["positions"] == [2, 4]  # type: ignore[attr-defined]
    assert second.fields["token"] == "env#1"  # type: ignore[attr-defined]
    assert "positions=2-4" in second.getMessage()
    assert "token=env#1" in second.getMessage()
    assert third.fields["token"] is None  # type: ignore[attr-defined]
    assert "positions" not in third.fields  # type: ignore[attr-defined]
    assert TOKEN not in caplog.text
    assert "wrong" not in caplog.text


def test_the_json_format_is_one_object_per_line_with_the_fields() -> None:
    record = logging.LogRecord("app.requests", logging.INFO, __file__, 1, "a %s", ("b",), None)
    record.fields = {"request_id": "r1", "status": 201, "positions": [1, 2]}
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "a b"
    assert parsed["level"] == "INFO"
    assert parsed["logger"] == "app.requests"
    assert parsed["time"].endswith("Z")
    assert (parsed["request_id"], parsed["status"], parsed["positions"]) == ("r1", 201, [1, 2])
