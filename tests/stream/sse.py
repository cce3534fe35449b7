"""A small SSE client for the stream tests: httpx for normal readers, a raw socket for a reader
that never reads. Every wait is bounded, so that a bug fails a test instead of hanging it."""

from __future__ import annotations

import asyncio
import codecs
import json
import re
import socket
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import anyio
import httpx

STREAM_PATH = "/v1/events/stream"
WAIT = 10.0
"""Default bound, in seconds, of any wait for the server."""


@dataclass(frozen=True)
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
        ids = self.values("id")
        return ids[-1] if ids else None

    @property
    def data(self) -> str | None:
        lines = self.values("data")
        return "\n".join(lines) if lines else None

    @property
    def position(self) -> int:
        assert self.id is not None, self
        return int(self.id)

    def event(self) -> dict[str, Any]:
        """The data, parsed as the JSON Event it must be."""
        assert self.data is not None, self
        parsed: dict[str, Any] = json.loads(self.data)
        return parsed


_END_OF_LINE = re.compile(r"\r\n|\r|\n")


class LineSplitter:
    """Bytes in, lines out, split as the SSE specification says: at CRLF, CR or LF only (httpx's
    ``aiter_lines`` also splits at U+2028, NEL and others, which may be in an event's JSON)."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._pending = ""

    def feed(self, chunk: bytes) -> list[str]:
        text = self._pending + self._decoder.decode(chunk)
        held = "\r" if text.endswith("\r") else ""  # it may be the first half of a CRLF
        lines = _END_OF_LINE.split(text.removesuffix(held))
        self._pending = lines.pop() + held
        return lines


@dataclass
class Parser:
    """Lines in, messages out (the parsing rules of the SSE specification)."""

    _fields: list[tuple[str, str]] = field(default_factory=list)
    _comments: list[str] = field(default_factory=list)

    def line(self, line: str) -> Message | None:
        if line == "":
            if not self._fields and not self._comments:
                return None
            message = Message(tuple(self._fields), tuple(self._comments))
            self._fields, self._comments = [], []
            return message
        if line.startswith(":"):
            self._comments.append(line[1:])
            return None
        name, _, value = line.partition(":")
        self._fields.append((name, value.removeprefix(" ")))
        return None


class SseStream:
    """An open stream: messages are read one at a time, each read bounded in time."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._chunks = response.aiter_bytes()
        self._splitter = LineSplitter()
        self._lines: deque[str] = deque()
        self._parser = Parser()
        self.ended = False

    async def next(self, timeout: float = WAIT) -> Message | None:
        """The next message, heartbeats included; None once the response is complete."""
        with anyio.fail_after(timeout):
            while True:
                while self._lines:
                    message = self._parser.line(self._lines.popleft())
                    if message is not None:
                        return message
                chunk = await anext(self._chunks, None)
                if chunk is None:
                    self.ended = True
                    return None
                self._lines.extend(self._splitter.feed(chunk))

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
