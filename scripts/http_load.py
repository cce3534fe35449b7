"""A lean HTTP/1.1 load client for the benchmarks: keep-alive connections over asyncio streams.

httpx spends more CPU per request than the server it measures (on these two cores it was the
bottleneck at about 900 requests/s); this client writes pre-built request bytes and reads only
the status line, the headers it needs and the body, so the server is what gets measured.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

RequestBytes = Callable[[int], bytes]
"""Builds the bytes of request number ``n``."""


def build_request(method: str, target: str, host: str, body: bytes | None = None) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


@dataclass
class LoadResult:
    seconds: float
    client_cpu: float
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 400)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile_ms(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """The status and body of the next response on a keep-alive connection (Content-Length
    framing, as the services here answer every non-stream request)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return int(head[9:12]), body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> int:
    writer.write(request)
    status, _ = await read_response(reader)
    return status


async def run_load(
    base_url: str, build: RequestBytes, *, concurrency: int, seconds: float
) -> LoadResult:
    """``concurrency`` connections, each sending requests back to back for ``seconds``."""
    address = urlsplit(base_url)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    numbers = iter(range(1 << 62))
    result = LoadResult(seconds=0.0, client_cpu=0.0)
    connections = [await asyncio.open_connection(host, port) for _ in range(concurrency)]
    for reader, writer in connections:  # warm every connection
        await _exchange(reader, writer, build(next(numbers)))
    stop = time.perf_counter() + seconds

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while time.perf_counter() < stop:
            request = build(next(numbers))
            started = time.perf_counter()
            status = await _exchange(reader, writer, request)
            result.latencies.append(time.perf_counter() - started)
            result.statuses[status] = result.statuses.get(status, 0) + 1

    cpu, started = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(reader, writer) for reader, writer in connections))
    result.seconds = time.perf_counter() - started
    result.client_cpu = (time.process_time() - cpu) / result.seconds
    for _, writer in connections:
        writer.close()
        await writer.wait_closed()
    return result
