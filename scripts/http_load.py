"""Raw HTTP/1.1 over asyncio streams for the stream benchmark's keep-alive request clients.

httpx spends more CPU per request than the server it measures (on these two cores it was the
bottleneck at about 900 requests/s); these helpers write pre-built request bytes and read only
the status line, the headers they need and the body, so the server is what gets measured. The
HTTP benchmark (`scripts/bench.py`) uses wrk instead.
"""

from __future__ import annotations

import asyncio


def build_request(method: str, target: str, host: str, body: bytes | None = None) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


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
