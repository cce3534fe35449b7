"""A server with open streams stops promptly on SIGTERM: the streams end, each with a complete
body (so that clients see a clean end and resume with ``Last-Event-ID``), nothing waits for
them, and nothing is logged as an error."""

from __future__ import annotations

import os
import signal
from contextlib import AsyncExitStack, ExitStack, suppress
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import httpx
import pytest

from tests.support.engines import SQL_ENGINES
from tests.support.live_server import live_server, service_process
from tests.support.sse import SseStream, open_stream, paused_stream
from tests.support.streams import Appended, Serve, append, client_for, event, service_env

pytestmark = pytest.mark.anyio

PROMPTLY = 5.0


async def until_closed(stream: SseStream) -> None:
    """Read until the server ends the response or drops the connection."""
    with suppress(httpx.TransportError):
        await stream.rest(timeout=PROMPTLY + 10)


async def test_sigterm_with_open_streams_stops_the_server_promptly(tmp_path: Path) -> None:
    server = ExitStack()
    url = server.enter_context(
        live_server({"EVENTSTORE_DATABASE_URL": f"sqlite:///{tmp_path}/store.db"})
    )
    try:
        async with client_for(url) as client:
            await append(client, event(), event())
            async with (
                open_stream(client) as idle,
                open_stream(client, {"after": 0}) as busy,
                anyio.create_task_group() as readers,
            ):
                await busy.take(2)
                readers.start_soon(until_closed, idle)
                readers.start_soon(until_closed, busy)
                started = anyio.current_time()
                # live_server's exit sends SIGTERM, waits up to 10 s, then kills.
                await anyio.to_thread.run_sync(server.close)
                stopped = anyio.current_time() - started
    finally:
        server.close()
    assert stopped < PROMPTLY


def server_pid(base_url: str) -> int:
    """The process id of the `python -m app` child of this process serving ``base_url``."""
    port = str(urlsplit(base_url).port).encode()
    for entry in Path("/proc").iterdir():
        with suppress(OSError, ValueError, IndexError):
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if parent == os.getpid() and argv[argv.index(b"--port") + 1] == port:
                return int(entry.name)
    raise LookupError(f"no server process on port {port!r}")


def has_exited(pid: int) -> bool:
    """Whether ``pid`` has exited (a zombie until live_server reaps it)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


async def test_sigterm_with_a_stream_nobody_reads_stops_the_server_promptly(serve: Serve) -> None:
    base_url = serve(shutdown_grace_seconds="1")
    async with client_for(base_url) as client, paused_stream(base_url, {"after": 0}):
        appended: Appended = {}
        for i in range(20):  # 10 MiB: the server's writes to the paused stream block
            appended |= await append(client, event("Big", data={"i": i, "pad": "x" * 2**19}))
        pid = server_pid(base_url)
        os.kill(pid, signal.SIGTERM)
        with anyio.move_on_after(PROMPTLY):
            while not has_exited(pid):  # noqa: ASYNC110 - nothing to wait on: poll
                await anyio.sleep(0.05)
        assert has_exited(pid)


STREAMS = 20


@pytest.mark.parametrize("engine_name", SQL_ENGINES)
async def test_every_stream_ends_with_a_complete_body_at_sigterm(database: str) -> None:
    """20 of 20 streams used to end with an incomplete chunked body (httpx's
    RemoteProtocolError), each logged as "ASGI callable returned without completing response"."""
    env = service_env(database, log_level="info")
    with service_process("app", env, inherit_settings=False) as service:
        async with client_for(service.base_url) as client, AsyncExitStack() as streams:
            await append(client, event(), event())
            opened = [
                await streams.enter_async_context(open_stream(client, {"after": 0}))
                for _ in range(STREAMS)
            ]
            for stream in opened:
                await stream.take(2)
            service.process.send_signal(signal.SIGTERM)
            for stream in opened:
                assert await stream.rest(timeout=PROMPTLY) == []  # raises if incomplete
                assert stream.ended
        await anyio.to_thread.run_sync(service.process.wait, PROMPTLY)
        output = service.output()
    for logged in ("without completing response", "Exception in ASGI application", "Cancel"):
        assert logged not in output, output[-3000:]
