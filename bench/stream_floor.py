"""The floor for `bench/stream.py`: bare sse-starlette streams with no store behind them.

The same two routes as the service, so that the benchmark drives both alike:

- ``POST /v1/events`` takes an append body, reads only how many events it holds, and publishes
  as many pre-made messages (``id: <position>`` and ``data: <JSON>``, each exactly
  ``--message-bytes`` long, made once and shared by every stream); it answers like the service,
  ``201 {"positions": [...], "last_position": n}``.
- ``GET /v1/events/stream`` (query parameters ignored, except ``coalesce``) sends every message
  published after it started: one `EventSourceResponse` over an async generator of bytes with
  the service's heartbeat, send timeout and separator, every stream waiting on one shared
  wake-up, one message per send. With ``coalesce=true`` it sends whatever is pending, up to
  500 messages, as one send: the same bytes on the wire in far fewer sends.

Served by uvicorn with the same settings as `python -m app`; no middleware, no parsing, no
store. What the service costs beyond this is the price of storing, reading, filtering and
encoding events, and of its middleware.

    python -m bench.stream_floor --port 8002 --message-bytes 350
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator

import orjson
import uvicorn
from fastapi import FastAPI, Request, Response
from sse_starlette import EventSourceResponse

from app.config import Settings

COALESCE_MAX = 500  # the service's stream batch size


class Hub:
    """The published messages and one wake-up for every stream waiting past them."""

    def __init__(self, message_bytes: int) -> None:
        self._message_bytes = message_bytes
        self.messages: list[bytes] = []
        self._changed: asyncio.Event | None = None

    def _message(self, position: int) -> bytes:
        head = f"id: {position}\ndata: "
        pad = max(0, self._message_bytes - len(head) - len('{"pad":""}') - 2)
        return f'{head}{{"pad":"{"x" * pad}"}}\n\n'.encode()

    def publish(self, count: int) -> list[int]:
        first = len(self.messages) + 1
        positions = list(range(first, first + count))
        self.messages += [self._message(position) for position in positions]
        if self._changed is not None:
            self._changed.set()
            self._changed = None
        return positions

    async def wait(self, after: int) -> None:
        while len(self.messages) <= after:
            if self._changed is None:
                self._changed = asyncio.Event()
            await self._changed.wait()


def create_floor(settings: Settings, message_bytes: int) -> FastAPI:
    floor = FastAPI()
    hub = Hub(message_bytes)

    @floor.post("/v1/events", status_code=201)
    async def publish(request: Request) -> Response:
        events = orjson.loads(await request.body())["events"]
        positions = hub.publish(len(events))
        body = {"positions": positions, "last_position": positions[-1] if positions else 0}
        return Response(orjson.dumps(body), status_code=201, media_type="application/json")

    @floor.get("/v1/events/stream")
    async def stream(coalesce: bool = False) -> EventSourceResponse:
        async def generate(sent: int) -> AsyncIterator[bytes]:
            messages = hub.messages
            while True:
                while sent < len(messages):
                    if coalesce:
                        upto = min(len(messages), sent + COALESCE_MAX)
                        yield b"".join(messages[sent:upto])
                        sent = upto
                    else:
                        yield messages[sent]
                        sent += 1
                await hub.wait(sent)

        return EventSourceResponse(
            generate(len(hub.messages)),  # from now on, like the service without ``after``
            ping=settings.heartbeat_seconds,
            send_timeout=settings.stream_send_timeout_seconds,
            sep="\n",
        )

    @floor.get("/healthz")
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    return floor


def main() -> None:
    settings = Settings()
    parser = argparse.ArgumentParser(description="The stream benchmark floor: SSE, no store.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    parser.add_argument("--message-bytes", type=int, default=350)
    args = parser.parse_args()
    uvicorn.run(
        create_floor(settings, args.message_bytes),
        host=args.host,
        port=args.port,
        log_level=settings.log_level,
    )


if __name__ == "__main__":
    main()
