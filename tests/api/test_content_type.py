"""Which ``Content-Type`` a body may be sent with: JSON's, read as `email.message` reads it."""

from __future__ import annotations

import email.message
import random

import httpx
import pytest

from app.api.json_body import is_json_content_type
from tests.support.api import assert_problem

pytestmark = pytest.mark.anyio

ACCEPTED = [
    "application/json",
    "Application/JSON",
    "application/json; charset=utf-8",
    "application/json;charset=ISO-8859-1",
    "application/json;",
    "  application/json  ; x",
    "application/vnd.eventstore+json",
    "application/+json",
    "APPLICATION/MERGE-PATCH+JSON; q=1",
]
REFUSED = [
    "text/json",
    "text/plain",
    "application/jsonx",
    "application/x-json",
    "application/json/x",
    "application/ json",
    "application /json",
    "application",
    "json",
    "/json",
    "application/json+xml",
    '"application/json"',
    "application\tjson",
]


async def append(client: httpx.AsyncClient, content_type: str) -> httpx.Response:
    return await client.post(
        "/v1/events", content=b'{"events": [{"type": "A"}]}', headers={"content-type": content_type}
    )


@pytest.mark.parametrize("content_type", ACCEPTED)
async def test_json_in_any_case_with_any_parameters_is_accepted(
    client: httpx.AsyncClient, content_type: str
) -> None:
    response = await append(client, content_type)

    assert response.status_code == 201, response.text


@pytest.mark.parametrize("content_type", REFUSED)
async def test_anything_else_is_a_415(client: httpx.AsyncClient, content_type: str) -> None:
    response = await append(client, content_type)

    assert_problem(response, 415, "/problems/unsupported-media-type")


def email_message_says_json(content_type: str) -> bool:
    """FastAPI's own check, and the service's before it was written out."""
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


PIECES = [
    "application", "APPLICATION", "text", "json", "JSON", "+json", "x+json", "/", "//", ";", " ",
    "\t", "\x85", "\xa0", "\x1c", "\xc0", "\u0130", '"', "=", "charset=utf-8", "vnd.a", "-",
]  # fmt: skip


def test_the_check_says_what_email_message_says() -> None:
    rng = random.Random(18)
    generated = ["".join(rng.choice(PIECES) for _ in range(rng.randint(1, 8))) for _ in range(5000)]
    for content_type in ACCEPTED + REFUSED + generated:
        assert is_json_content_type(content_type) == email_message_says_json(content_type), repr(
            content_type
        )
