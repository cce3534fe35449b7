"""Stream tickets on a real server: what a browser page relies on to stream with a token.

EventSource cannot send ``Authorization``, so a page mints a ticket (``POST /v1/stream-tickets``
with its token) and opens ``/v1/events/stream?ticket=...``. EventSource reconnects by itself with
the same URL and ``Last-Event-ID``, so the ticket must be reusable until it expires; the stream
ends when it expires, the reconnect is refused (401), and the page mints a new ticket. A ticket
travels in URLs, which leak (logs, history, referrers): it must read the stream and do nothing
else, not be forgeable, and be good only on the processes that share its secret.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest

from tests.support.live_server import live_server
from tests.support.sse import open_stream
from tests.support.streams import Serve, append, assert_delivered, client_for, event, service_env
from tests.support.tickets import (
    TICKETS_PATH,
    assert_unauthorized,
    bearer,
    mint_ticket,
    refused_stream,
)

pytestmark = pytest.mark.anyio

WRITER = "writer-token-8d1f0c6e"
READER = "reader-token-3a9b52d7"
TOKENS = json.dumps({WRITER: ["read", "append", "snapshot"], READER: ["read"]})
SECRET_VARIABLE = "EVENTSTORE_STREAM_TICKET_SECRET"

SHORT_TICKET_SECONDS = 2
LATE_SECONDS = 2.0
"""How long after its ticket's expiry a stream may still run (the service's reaction time)."""
EARLY_SECONDS = 0.1
"""Clock slack: the service measures the expiry with its wall clock, the test with its own."""


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server with tokens and long-lived tickets, shared by the tests that do not wait for
    an expiry (each works on its own tags)."""
    database = f"sqlite:///{tmp_path_factory.mktemp('store') / 'store.db'}"
    env = service_env(database, api_tokens=TOKENS, stream_ticket_seconds="300")
    with live_server(env) as url:
        yield url


def writer_client(base_url: str) -> httpx.AsyncClient:
    """A client that sends the writer's token with every request."""
    client = client_for(base_url)
    client.headers.update(bearer(WRITER))
    return client


def tagged(appended: dict[int, dict[str, Any]], tag: str) -> dict[int, dict[str, Any]]:
    return {position: sent for position, sent in appended.items() if tag in sent["tags"]}


async def test_a_ticket_stream_delivers_catch_up_and_live_events_like_a_bearer_stream(
    service: str,
) -> None:
    tag = "delivery:mine"
    async with writer_client(service) as writer, client_for(service) as browser:
        appended = await append(writer, event("Early", tag), event("Early", "delivery:other"))
        appended |= await append(writer, event("Early", tag, data={"n": 2}))
        ticket = await mint_ticket(browser, READER)  # a read-only token is enough
        params: dict[str, str | int] = {"after": 0, "tag": tag}
        async with (
            open_stream(browser, {**params, "ticket": ticket}) as by_ticket,
            open_stream(browser, params, headers=bearer(READER)) as by_token,
        ):
            from_ticket, from_token = await by_ticket.take(2), await by_token.take(2)
            appended |= await append(writer, event("Live", tag), event("Live", "delivery:other"))
            appended |= await append(writer, event("Live", tag, data={"n": 4}))
            from_ticket += await by_ticket.take(2)
            from_token += await by_token.take(2)
    assert_delivered(from_ticket, tagged(appended, tag))
    assert from_ticket == from_token  # the same messages, byte for byte


async def test_the_same_ticket_reconnects_with_last_event_id_and_gets_the_rest_once(
    service: str,
) -> None:
    tag = "reconnect:mine"
    async with writer_client(service) as writer, client_for(service) as browser:
        appended = await append(writer, *(event("Counted", tag, data=i) for i in range(6)))
        ticket = await mint_ticket(browser, READER)
        # EventSource reconnects to the same URL (after=0 and the ticket) with Last-Event-ID.
        params: dict[str, str | int] = {"after": 0, "tag": tag, "ticket": ticket}
        async with open_stream(browser, params) as stream:
            first = await stream.take(4)
        appended |= await append(writer, event("Missed", tag), event("Missed", tag))
        last_id = first[-1].id
        assert last_id is not None
        async with open_stream(browser, params, headers={"Last-Event-ID": last_id}) as stream:
            second = await stream.through(max(appended))
            appended |= await append(writer, event("Live", tag))
            second += await stream.take(1)
    assert_delivered(first + second, appended)


async def test_a_ticket_stream_ends_when_the_ticket_expires_then_the_ticket_is_refused(
    serve: Serve,
) -> None:
    url = serve(api_tokens=TOKENS, stream_ticket_seconds=str(SHORT_TICKET_SECONDS))
    async with writer_client(url) as writer, client_for(url) as browser:
        appended = await append(writer, event("Early"))
        minting = anyio.current_time()
        ticket = await mint_ticket(browser, READER)
        minted = anyio.current_time()
        async with (
            open_stream(browser, {"after": 0}, headers=bearer(READER)) as by_token,
            open_stream(browser, {"after": 0, "ticket": ticket}) as by_ticket,
        ):
            received = await by_ticket.take(1)
            appended |= await append(writer, event("Live"))
            received += await by_ticket.take(1)
            with anyio.CancelScope(deadline=minted + SHORT_TICKET_SECONDS + LATE_SECONDS):
                received += await by_ticket.rest()  # httpx raises if the body is cut short
            ended = anyio.current_time()
            assert by_ticket.ended, f"the stream ran {LATE_SECONDS} s past its ticket's expiry"
            assert ended - minting >= SHORT_TICKET_SECONDS - EARLY_SECONDS, (
                f"the stream ended {ended - minting:.2f} s after the ticket was minted, before "
                f"it expired ({SHORT_TICKET_SECONDS} s)"
            )
            # Only the ticket's stream ended: the bearer stream, opened at the same time, goes on.
            appended |= await append(writer, event("Later"))
            assert_delivered(await by_token.through(max(appended)), appended)
        assert_delivered(received, {p: e for p, e in appended.items() if p < max(appended)})

        # EventSource's reconnect: refused before any stream starts.
        last_id = received[-1].id
        assert last_id is not None
        resume = {"Last-Event-ID": last_id}
        response = await refused_stream(browser, {"after": 0, "ticket": ticket}, resume)
        assert_unauthorized(response, invalid_token=True)
        # The page mints a new ticket and goes on where it stopped.
        renewed = await mint_ticket(browser, READER)
        async with open_stream(browser, {"after": 0, "ticket": renewed}, resume) as by_ticket:
            received += await by_ticket.through(max(appended))
    assert_delivered(received, appended)


REFUSING_ROUTES = [
    pytest.param("GET", "/v1/events", None, id="list"),
    pytest.param("GET", "/v1/head", None, id="head"),
    pytest.param("POST", "/v1/events/query", {}, id="query"),
    pytest.param("POST", TICKETS_PATH, None, id="mint-a-ticket"),
    pytest.param("GET", "/v1/snapshots/ticket/kept", None, id="get-snapshot"),
    pytest.param("POST", "/v1/events", {"events": [event("Forged")]}, id="append"),
    pytest.param(
        "PUT", "/v1/snapshots/ticket/kept", {"position": 0, "state": "forged"}, id="put-snapshot"
    ),
    pytest.param("DELETE", "/v1/snapshots/ticket/kept", None, id="delete-snapshot"),
]


@pytest.mark.parametrize(("method", "path", "body"), REFUSING_ROUTES)
async def test_a_ticket_is_refused_everywhere_but_the_stream(
    service: str, method: str, path: str, body: dict[str, Any] | None
) -> None:
    async with writer_client(service) as writer, client_for(service) as browser:
        stored = await writer.put("/v1/snapshots/ticket/kept", json={"position": 0, "state": "ok"})
        assert stored.status_code == 200, stored.text
        head = (await writer.get("/v1/head")).json()
        # Minted with a token that may do all of these: the ticket still only reads the stream.
        ticket = await mint_ticket(browser, WRITER)
        response = await browser.request(method, path, params={"ticket": ticket}, json=body)
        assert_unauthorized(response, invalid_token=False)  # not even looked at
        # Nothing was done on its behalf.
        assert (await writer.get("/v1/head")).json() == head
        kept = await writer.get("/v1/snapshots/ticket/kept")
        assert kept.status_code == 200, kept.text
        assert kept.json()["state"] == "ok"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/events/stream"), ("POST", TICKETS_PATH), ("GET", "/v1/head")],
    ids=["stream", "mint-a-ticket", "head"],
)
async def test_a_ticket_is_not_a_bearer_token(service: str, method: str, path: str) -> None:
    async with client_for(service) as browser:
        ticket = await mint_ticket(browser, READER)
        if path.endswith("/stream"):
            response = await refused_stream(browser, {"after": 0}, bearer(ticket))
        else:
            response = await browser.request(method, path, headers=bearer(ticket))
    assert_unauthorized(response, invalid_token=True)


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _changed_at(text: str, index: int) -> str:
    """``text`` with the character at ``index`` replaced by another base64url character (not
    the last one of a part, whose low bits may not count)."""
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


def tampered(ticket: str, how: str) -> str:
    payload, separator, signature = ticket.rpartition(".")
    assert separator
    assert not payload.startswith(".")  # not compressed: the payload is base64url JSON
    if how == "payload":
        return f"{_changed_at(payload, len(payload) // 2)}.{signature}"
    if how == "signature":
        return f"{payload}.{_changed_at(signature, len(signature) // 2)}"
    assert how == "later-expiry"
    claims = json.loads(_b64decode(payload))
    claims["exp"] += 3600
    return f"{_b64encode(json.dumps(claims, separators=(',', ':')).encode())}.{signature}"


@pytest.mark.parametrize("how", ["payload", "signature", "later-expiry"])
async def test_a_tampered_ticket_is_refused(service: str, how: str) -> None:
    async with client_for(service) as browser:
        ticket = await mint_ticket(browser, READER)
        forged = tampered(ticket, how)
        assert forged != ticket
        response = await refused_stream(browser, {"after": 0, "ticket": forged})
        assert_unauthorized(response, invalid_token=True)
        async with open_stream(browser, {"after": 0, "ticket": ticket, "live": "false"}):
            pass  # the genuine ticket is good


async def test_a_ticket_is_good_on_the_processes_that_share_its_secret_only(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_VARIABLE, raising=False)
    settings = {"api_tokens": TOKENS, "stream_ticket_seconds": "300"}
    secret = "a shared secret of the test, long enough"
    minting = serve(**settings, stream_ticket_secret=secret)
    sharing = serve(**settings, stream_ticket_secret=secret)
    alone = serve(**settings)  # its own random secret
    async with (
        writer_client(minting) as writer,
        client_for(minting) as on_minting,
        client_for(sharing) as on_sharing,
        client_for(alone) as on_alone,
    ):
        appended = await append(writer, event("Shared"), event("Shared"))
        ticket = await mint_ticket(on_minting, READER)
        async with open_stream(on_sharing, {"after": 0, "ticket": ticket, "live": "false"}) as s:
            assert_delivered(await s.rest(), appended)
        assert_unauthorized(await refused_stream(on_alone, {"after": 0, "ticket": ticket}))

        # And the other way round: a ticket of the process with its own secret is good there only.
        own = await mint_ticket(on_alone, READER)
        assert_unauthorized(await refused_stream(on_minting, {"after": 0, "ticket": own}))
        async with open_stream(on_alone, {"after": 0, "ticket": own, "live": "false"}) as s:
            assert_delivered(await s.rest(), appended)
