"""An idle stream sends SSE comments as heartbeats."""

from __future__ import annotations

import pytest

from tests.support.sse import open_stream
from tests.support.streams import Serve, client_for

pytestmark = pytest.mark.anyio


async def test_idle_stream_receives_comment_heartbeats(serve: Serve) -> None:
    async with client_for(serve(heartbeat_seconds="0.2")) as client, open_stream(client) as stream:
        for _ in range(3):
            message = await stream.next(timeout=2)
            assert message is not None
            assert message.is_heartbeat, message
