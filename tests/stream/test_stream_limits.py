"""Stream limits on a real server: ``EVENTSTORE_MAX_STREAMS_PER_TOKEN`` and
``EVENTSTORE_MAX_STREAMS``.

Open streams cost the service memory and a task each; the limits keep one client (or all of
them) from holding more than the operator allows. A client over a limit must get a 429 problem
with ``Retry-After`` before any stream starts, other tokens must not suffer from one token's
streams, and a slot must come back when a stream ends (closed by its client, which the service
notices a moment later, or ended by the service): otherwise a reconnecting client would lock
itself out. Tickets stream on behalf of their token, so they count against it.
"""

from __future__ import annotations

import json

import pytest

from tests.support.sse import open_stream
from tests.support.streams import Serve, client_for
from tests.support.tickets import (
    accepted_within,
    assert_too_many_streams,
    bearer,
    mint_ticket,
    refused_stream,
)

pytestmark = pytest.mark.anyio

ALICE = "alice-token-5e0c9b71"
BOB = "bob-token-d24a6f38"
TOKENS = json.dumps({ALICE: ["read"], BOB: ["read"]})
A, B = bearer(ALICE), bearer(BOB)

SLOT_BACK_SECONDS = 5.0
"""How long the service may take to notice that a stream's client went away."""


async def test_a_token_holds_at_most_its_streams_and_gets_a_slot_back_when_one_closes(
    serve: Serve,
) -> None:
    url = serve(api_tokens=TOKENS, max_streams_per_token="2")
    async with client_for(url) as client, open_stream(client, headers=A):
        async with open_stream(client, headers=A):
            assert_too_many_streams(await refused_stream(client, headers=A))
            async with open_stream(client, headers=B):  # another token is not held back
                pass
        # The second stream is closed: once the service notices, Alice may open one again...
        async with accepted_within(client, headers=A, seconds=SLOT_BACK_SECONDS):
            # ...and only one.
            assert_too_many_streams(await refused_stream(client, headers=A))


async def test_the_service_holds_at_most_its_streams_in_all(serve: Serve) -> None:
    url = serve(api_tokens=TOKENS, max_streams="2")
    async with client_for(url) as client, open_stream(client, headers=A):
        async with open_stream(client, headers=B):
            assert_too_many_streams(await refused_stream(client, headers=A))
            assert_too_many_streams(await refused_stream(client, headers=B))
        # Bob's stream is closed: either token may take its slot, once the service notices.
        async with accepted_within(client, headers=A, seconds=SLOT_BACK_SECONDS):
            assert_too_many_streams(await refused_stream(client, headers=B))


async def test_ticket_streams_count_against_their_token(serve: Serve) -> None:
    url = serve(api_tokens=TOKENS, max_streams_per_token="2")
    async with client_for(url) as client:
        ticket = await mint_ticket(client, ALICE)
        by_ticket: dict[str, str | int] = {"after": 0, "ticket": ticket}
        async with open_stream(client, by_ticket), open_stream(client, headers=A):
            assert_too_many_streams(await refused_stream(client, by_ticket))
            assert_too_many_streams(await refused_stream(client, headers=A))
            another = await mint_ticket(client, ALICE)  # minting is not streaming
            assert_too_many_streams(await refused_stream(client, {"after": 0, "ticket": another}))
            async with open_stream(client, {"after": 0, "ticket": await mint_ticket(client, BOB)}):
                pass  # Bob's tickets count against Bob
        # Both closed: Alice's ticket streams again (twice: both slots came back).
        async with (
            accepted_within(client, by_ticket, seconds=SLOT_BACK_SECONDS),
            accepted_within(client, by_ticket, seconds=SLOT_BACK_SECONDS),
        ):
            pass


async def test_a_stream_the_service_ends_gives_its_slot_back(serve: Serve) -> None:
    url = serve(api_tokens=TOKENS, max_streams_per_token="1", stream_max_seconds="0.5")
    async with client_for(url) as client:
        async with open_stream(client, headers=A) as stream:
            assert await stream.rest() == []  # ends at its lifetime
        async with accepted_within(client, headers=A, seconds=SLOT_BACK_SECONDS):
            pass
