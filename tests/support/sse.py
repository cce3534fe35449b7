"""SSE clients: the one parser (`SseDecoder`), a stream read through httpx for the tests
(`SseStream`, `open_stream`), a raw socket for a reader that never reads (`paused_stream`), and a
raw asyncio protocol cheap enough to hold a thousand streams (`RawSseStream`, for the stream
benchmark). Every wait of the test helpers is bounded, so that a bug fails a test instead of
hanging it."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from array import array
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlencode, urlsplit

import anyio
import httpx

from tests.support.raw_http import ChunkedDecoder

STREAM_PATH = "/v1/events/stream"
WAIT = 10.0
"""Default bound, in seconds, of any wait for the server."""


@dataclass(frozen=True, slots=True)
class Message:
    """One SSE message (the lines up to a blank line): its fields in order, and its comments."""

    fields: tuple[tuple[str, str], ...] = ()
    comments: tuple[str, ...] = ()

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.fields if key == name]

    @property
    def is_heartbeat(self) -> bool:
        return not self.fields and bool(self.comments)

    @property
    def id(self) -> str | None:
        """The last ``id`` field (the one that counts, by the specification)."""
        for key, value in reversed(self.fields):
            if key == "id":
                return value
        return None

    @property
    def data(self) -> str | None:
        lines = self.values("data")
        return "\n".join(lines) if lines else None

    @property
    def position(self) -> int:
        found = self.id
        assert found is not None, self
        return int(found)

    def event(self) -> dict[str, Any]:
        """The data, parsed as the JSON Event it must be."""
        assert self.data is not None, self
        parsed: dict[str, Any] = json.loads(self.data)
        return parsed


_LINE_END = re.compile(rb"\r\n|\r|\n")


class SseDecoder:
    """The body of an event stream in, messages out, by the parsing rules of the SSE
    specification: lines end at CRLF, CR or LF only (httpx's ``aiter_lines`` also splits at
    U+2028, NEL and others, which may be in an event's JSON), a blank line ends a message, a line
    starting with ``:`` is a comment, others are ``name: value`` fields. The one SSE parser of the
    tests, the crash harness and the stream benchmark; split on bytes, so that a line is decoded
    once, whole, and a character cut by a chunk boundary is never decoded in halves."""

    def __init__(self) -> None:
        self._pending = b""
        self._fields: list[tuple[str, str]] = []
        self._comments: list[str] = []

    def feed(self, chunk: bytes) -> list[Message]:
        data = self._pending + chunk
        if b"\r" in data:
            held = b"\r" if data.endswith(b"\r") else b""  # it may be the first half of a CRLF
            lines = _LINE_END.split(data[: len(data) - len(held)])
            self._pending = lines.pop() + held
        else:  # the service ends lines with LF only: the split in C, ten times faster
            lines = data.split(b"\n")
            self._pending = lines.pop()
        messages: list[Message] = []
        for line in lines:
            if not line:
                if self._fields or self._comments:
                    messages.append(Message(tuple(self._fields), tuple(self._comments)))
                    self._fields, self._comments = [], []
            elif line[0] == 0x3A:  # ":"
                self._comments.append(line[1:].decode())
            else:
                name, _, value = line.partition(b":")
                if value[:1] == b" ":
                    value = value[1:]
                self._fields.append((name.decode(), value.decode()))
        return messages


class SseStream:
    """An open stream: messages are read one at a time, each read bounded in time."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._chunks = response.aiter_bytes()
        self._decoder = SseDecoder()
        self._messages: deque[Message] = deque()
        self.ended = False

    async def next(self, timeout: float = WAIT) -> Message | None:
        """The next message, heartbeats included; None once the response is complete."""
        with anyio.fail_after(timeout):
            while not self._messages:
                chunk = await anext(self._chunks, None)
                if chunk is None:
                    self.ended = True
                    return None
                self._messages.extend(self._decoder.feed(chunk))
            return self._messages.popleft()

    async def next_event(self, timeout: float = WAIT) -> Message | None:
        """The next message that is not a heartbeat; None once the response is complete."""
        with anyio.fail_after(timeout):
            while (message := await self.next(timeout)) is not None:
                if not message.is_heartbeat:
                    return message
        return None

    async def take(self, count: int, timeout: float = WAIT) -> list[Message]:
        """The next ``count`` events; fails if the stream ends first."""
        taken: list[Message] = []
        with anyio.fail_after(timeout):
            while len(taken) < count:
                message = await self.next_event(timeout)
                assert message is not None, f"the stream ended after {positions(taken)}"
                taken.append(message)
        return taken

    async def through(self, position: int, timeout: float = WAIT) -> list[Message]:
        """Events up to the one at ``position`` (or past it); fails if the stream ends first."""
        taken: list[Message] = []
        with anyio.fail_after(timeout):
            while not taken or taken[-1].position < position:
                message = await self.next_event(timeout)
                assert message is not None, f"the stream ended at {positions(taken)[-1:]}"
                taken.append(message)
        return taken

    async def rest(self, timeout: float = WAIT) -> list[Message]:
        """Every event until the response completes."""
        taken: list[Message] = []
        with anyio.fail_after(timeout):
            while (message := await self.next_event(timeout)) is not None:
                taken.append(message)
        return taken


def positions(messages: list[Message]) -> list[int]:
    return [message.position for message in messages]


@asynccontextmanager
async def stream_attempt(
    client: httpx.AsyncClient,
    params: Mapping[str, str | int | list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    url: str = STREAM_PATH,
    timeout: float = WAIT,
) -> AsyncIterator[httpx.Response]:
    """``GET url`` (the stream, by default), accepted or not: a refusal's body is read, an
    accepted stream's is left to the caller. The connection is closed on exit."""
    with anyio.fail_after(timeout):
        opened = client.stream("GET", url, params=params, headers=headers)
        response = await opened.__aenter__()
    try:
        if response.status_code != 200:
            await response.aread()
        yield response
    finally:
        with anyio.fail_after(timeout):
            await opened.__aexit__(None, None, None)


@asynccontextmanager
async def open_stream(
    client: httpx.AsyncClient,
    params: Mapping[str, str | int | list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = WAIT,
) -> AsyncIterator[SseStream]:
    """``GET /v1/events/stream``, expecting a 200 event stream."""
    async with stream_attempt(client, params, headers, timeout=timeout) as response:
        assert response.status_code == 200, response.text
        yield SseStream(response)


@asynccontextmanager
async def paused_stream(
    base_url: str, params: Mapping[str, str | int], *, receive_buffer: int = 4096
) -> AsyncIterator[socket.socket]:
    """A stream request from a raw socket with a small receive buffer, which the caller does
    not read: the server's writes to it soon block."""
    address = urlsplit(base_url)
    assert address.hostname is not None
    assert address.port is not None
    connection = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    connection.setblocking(False)
    try:
        loop = asyncio.get_running_loop()
        with anyio.fail_after(WAIT):
            await loop.sock_connect(connection, (address.hostname, address.port))
            request = (
                f"GET {STREAM_PATH}?{urlencode(params)} HTTP/1.1\r\n"
                f"Host: {address.netloc}\r\nAccept: text/event-stream\r\n\r\n"
            )
            await loop.sock_sendall(connection, request.encode())
        yield connection
    finally:
        connection.close()


async def read_until_closed(connection: socket.socket, timeout: float = WAIT) -> bytes:
    """Everything the server sends until it closes the connection (EOF or reset)."""
    loop = asyncio.get_running_loop()
    received = bytearray()
    with anyio.fail_after(timeout):
        while True:
            try:
                chunk = await loop.sock_recv(connection, 1 << 16)
            except ConnectionResetError:
                return bytes(received)
            if not chunk:
                return bytes(received)
            received += chunk


class RawSseStream(asyncio.Protocol):
    """One ``GET`` of a stream over a raw socket, recording each message's position (its ``id``)
    and the time it was received; ``keep_data`` also keeps each message's data. ``head`` is
    set to the status once the response head arrives (a status other than 200, or a body that
    is not chunked, closes the stream), ``done`` when the connection is closed, ``ended`` when
    the body was complete."""

    def __init__(self, request: bytes, *, keep_data: bool = False) -> None:
        loop = asyncio.get_running_loop()
        self._request = request
        self._keep_data = keep_data
        self.head: asyncio.Future[int] = loop.create_future()
        self.done: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self._head_bytes = bytearray()
        self._body: ChunkedDecoder | None = None
        self._decoder = SseDecoder()
        self.positions: array[int] = array("q")
        self.times: array[float] = array("d")
        self.data: list[tuple[int, str]] = []
        self.comments = 0
        self.body_bytes = 0

    @property
    def ended(self) -> bool:
        return self._body is not None and self._body.ended

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self._request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.head.done():
            self.head.set_exception(ConnectionError(f"stream closed before its head: {exc}"))
        if not self.done.done():
            self.done.set_result(None)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        now = time.time()
        if self._body is None:
            self._head_bytes += data
            end = self._head_bytes.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self._head_bytes[:end]).lower()
            data = bytes(self._head_bytes[end + 4 :])
            self._body = ChunkedDecoder()
            status = int(head[9:12])
            self.head.set_result(status or -1)
            if status != 200 or b"transfer-encoding: chunked" not in head:
                self.close()
                return
        body = self._body.feed(data)
        self.body_bytes += len(body)
        for message in self._decoder.feed(body):
            if message.is_heartbeat:
                self.comments += 1
                continue
            position = message.position
            self.positions.append(position)
            self.times.append(now)
            if self._keep_data and message.data is not None:
                self.data.append((position, message.data))
        if self._body.ended:
            self.close()


def stream_request(host: str, target: str) -> bytes:
    """The request of a stream at ``target`` (path and query) from ``host``."""
    return f"GET {target} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode()
