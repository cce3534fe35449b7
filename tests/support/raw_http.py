"""Raw HTTP/1.1: cheap clients for load, and misbehaving ones for the edge.

httpx spends more CPU per request than the service it measures (on two cores it was the
bottleneck at about 900 requests/s), and too much for 1,000 open streams. These helpers write
pre-built request bytes and read only the status line, the headers they need and the body:
`HttpConnection` for keep-alive requests (Content-Length framing, as the service answers every
request but a stream), `ChunkedDecoder` for a stream's chunked body (`tests.support.sse` parses
what it yields). The HTTP benchmark itself drives wrk instead.

On blocking sockets, for tests that play a client no library would be (a lying length, a head
that never ends, a connection that says nothing): `request_head`, `exchange`, `parse_answer`,
`received_until_closed`.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from dataclasses import dataclass
from typing import Any

HOST = "127.0.0.1"


def build_request(method: str, target: str, host: str, body: bytes | None = None) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """The status and body of the next response on a keep-alive connection (Content-Length
    framing)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return int(head[9:12]), body


class HttpConnection:
    """One keep-alive connection to ``HOST:port``, one request at a time."""

    def __init__(
        self,
        port: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        timeout: float,
    ) -> None:
        self._host = f"{HOST}:{port}"
        self._reader = reader
        self._writer = writer
        self._timeout = timeout

    @classmethod
    async def open(cls, port: int, *, timeout: float = 60.0) -> HttpConnection:
        reader, writer = await asyncio.open_connection(HOST, port)
        return cls(port, reader, writer, timeout=timeout)

    async def request(self, method: str, target: str, body: bytes | None = None) -> bytes:
        """The response body; anything but a 2xx is an error."""
        async with asyncio.timeout(self._timeout):
            self._writer.write(build_request(method, target, self._host, body))
            status, answer = await read_response(self._reader)
        if not 200 <= status < 300:
            raise RuntimeError(f"{method} {target}: {status} {answer[:500]!r}")
        return answer

    async def close(self) -> None:
        self._writer.close()
        await self._writer.wait_closed()


class ChunkedDecoder:
    """A ``Transfer-Encoding: chunked`` body in, its bytes out, however the chunks are cut into
    reads; ``ended`` once the terminating zero-size chunk has arrived."""

    def __init__(self) -> None:
        self._raw = bytearray()
        self.ended = False

    def feed(self, data: bytes) -> bytes:
        raw = self._raw
        raw += data
        body = bytearray()
        position = 0
        while not self.ended:
            line_end = raw.find(b"\r\n", position)
            if line_end < 0:
                break
            size = int(raw[position:line_end].split(b";", 1)[0], 16)
            start = line_end + 2
            if start + size + 2 > len(raw):
                break
            position = start + size + 2
            if size == 0:
                self.ended = True
            body += raw[start : start + size]
        del raw[:position]
        return bytes(body)


# --- blocking sockets ---------------------------------------------------------------------------


def request_head(method: str, target: str, *headers: str) -> bytes:
    """A request's line and headers (a JSON body's ``Content-Type`` among them), blank line
    included; ``headers`` are ``"Name: value"`` lines."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {HOST}", "Content-Type: application/json"]
    return ("\r\n".join([*lines, *headers]) + "\r\n\r\n").encode()


@dataclass(frozen=True)
class RawAnswer:
    status: int
    headers: dict[str, str]
    """Lower-case names."""
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def parse_answer(data: bytes) -> RawAnswer:
    """The first response in ``data`` (Content-Length framing)."""
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", len(body)))
    return RawAnswer(int(status_line.split(" ", 2)[1]), headers, body[:length])


def answer_complete(data: bytes) -> bool:
    """Whether ``data`` holds a whole response (Content-Length framing)."""
    head, separator, body = data.partition(b"\r\n\r\n")
    if not separator:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def exchange(port: int, head: bytes, parts: list[bytes], *, seconds: float = 5.0) -> bytes:
    """Send ``head`` then each part (stopping quietly once the server closes), read until the
    server closes, a whole answer arrived or ``seconds`` pass; every byte the server sent."""
    received = b""
    with socket.create_connection((HOST, port), timeout=seconds) as connection:
        connection.sendall(head)
        for part in parts:
            try:
                connection.sendall(part)
            except (BrokenPipeError, ConnectionResetError):
                break
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                chunk = connection.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            received += chunk
            if answer_complete(received):
                break
    return received


def received_until_closed(connection: socket.socket, seconds: float) -> bytes:
    """Everything the server sends until it closes ``connection`` (EOF or reset); fails if it
    is still open after ``seconds``."""
    received = b""
    deadline = time.monotonic() + seconds
    while True:
        connection.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = connection.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return received
        except TimeoutError:
            raise AssertionError(
                f"the server kept the connection open for {seconds} s (received {received[:200]!r})"
            ) from None
        if not chunk:
            return received
        received += chunk
