"""Helpers of the stream tests about access control: bearer headers, stream tickets, and stream
requests that may be refused (a plain ``client.get`` of a stream that is accepted after all
would wait for an endless body)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import anyio
import httpx

from tests.support.sse import STREAM_PATH, WAIT, SseStream, stream_attempt

PROBLEM_MEDIA_TYPE = "application/problem+json"
TICKETS_PATH = "/v1/stream-tickets"

Params = Mapping[str, str | int | list[str]]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def mint_ticket(client: httpx.AsyncClient, token: str) -> str:
    """A stream ticket from ``POST /v1/stream-tickets`` with ``token``."""
    response = await client.post(TICKETS_PATH, headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    ticket: str = response.json()["ticket"]
    return ticket


async def refused_stream(
    client: httpx.AsyncClient,
    params: Params | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    url: str = STREAM_PATH,
) -> httpx.Response:
    """The answer to a stream request that must be refused; fails if it is a stream."""
    async with stream_attempt(client, params, headers, url=url) as response:
        assert response.status_code != 200, "the stream was accepted"
    return response


@asynccontextmanager
async def accepted_within(
    client: httpx.AsyncClient,
    params: Params | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    seconds: float = WAIT,
) -> AsyncIterator[SseStream]:
    """The stream, opened as soon as the service accepts it: 429s are retried until
    ``seconds`` have passed (a slot is freed when the service notices a disconnect)."""
    deadline = anyio.current_time() + seconds
    refusals = 0
    while True:
        async with stream_attempt(client, params, headers) as response:
            if response.status_code == 200:
                yield SseStream(response)
                return
            assert response.status_code == 429, response.text
        refusals += 1
        assert anyio.current_time() < deadline, f"still refused after {seconds} s ({refusals}x)"
        await anyio.sleep(0.05)


def assert_problem(response: httpx.Response, status: int, problem_type: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    problem = response.json()
    assert (problem["status"], problem["type"]) == (status, problem_type), problem


def assert_unauthorized(response: httpx.Response, *, invalid_token: bool | None = None) -> None:
    """A 401 problem with a Bearer challenge; ``invalid_token`` (when not None) says whether the
    challenge names the error ``invalid_token`` (RFC 6750: only when the credential presented
    was looked at and refused)."""
    assert_problem(response, 401, "/problems/unauthorized")
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer "), challenge
    if invalid_token is not None:
        assert ('error="invalid_token"' in challenge) == invalid_token, challenge


def assert_too_many_streams(response: httpx.Response) -> None:
    """A 429 problem that says when to retry."""
    assert_problem(response, 429, "/problems/too-many-requests")
    assert int(response.headers["retry-after"]) > 0
