"""Delivery rate, latency and memory of the SSE stream, with its floor measured in the same run.

    scripts/bench stream [--seconds 15] [--catch-up-events 1000000] [--quick]
                                   [--postgres URL]

Every server is a real uvicorn process pinned to CPU 0, started afresh for each configuration
(so that its memory is measured from a clean, warmed-up start), on a store in a temporary
directory (SQLite with the service's defaults; PostgreSQL with ``--postgres``, its schema reset).
This client runs on CPU 1, opens every stream over raw asyncio sockets (uvloop) and parses
HTTP/1.1 chunked bodies and SSE messages itself; httpx costs too much CPU for 1,000 streams.

1. Fan-out, paced: ``n`` live streams ``GET /v1/events/stream?type=StreamBenched&tag=run:<cfg>``
   while one keep-alive connection appends matching events at a steady rate for ``--seconds``
   (1 stream at ``--high-rate`` in appends of ``--high-batch``; 100 at 100 events/s and 1,000
   at 10 events/s, one event per append). Each event's data carries its send time; the client
   also notes when the append's response came back (the commit acknowledged). Latency is the
   receipt time minus either, all ``time.time()`` in this one process. Every stream must receive
   every appended position exactly once (lost = dup = 0); the first stream's events are checked
   against what was appended (bad = 0).
2. Burst: on the 1 and the 1,000 streams, ``N`` events appended at once (appends of 1,000 back
   to back); the time until every stream has them all gives the delivery rate at saturation.
3. Floor, in the same run, driven the same way (`bench/stream_floor.py`): bare
   sse-starlette streams behind the same two routes, publishing pre-made messages of the
   service's message size, no store, no middleware; its rates, latencies, CPU per message and
   memory per stream, and the service/floor ratios. ``floor+join`` is the same floor sending up
   to 500 pending messages per send (bursts only): what coalescing sends would buy.
4. Catch-up: a store of ``--catch-up-events`` events, written in this process through the
   storage engine before any server starts (SQLite ``synchronous=NORMAL`` for that fill only;
   the server then opens the file with its defaults), then one stream ``?after=0&live=false``
   read to its end.

Memory is the server's VmRSS (/proc/<pid>/status) after a warm-up stream, then with the streams
open and idle. CPU is the server's utime+stime (/proc/<pid>/stat, every thread), this client's
``time.process_time`` and everything else's (/proc/stat), per wall second of the measured phase:
a server near 100% is the bottleneck, and a large "others" share means other work on the machine
took CPU from the measurement. "us/msg" (server CPU per message delivered) does not depend on
that. Every wait is bounded; the script ends by itself. Not a test: nothing is asserted, the
goals are printed beside the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from array import array
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import orjson
import uvloop

from app.config import Settings
from app.domain import EventInput, dump_json
from app.storage.factory import build_engine
from bench.stream_figures import (
    CatchUp,
    Memory,
    Meter,
    Phase,
    Results,
    latencies_ms,
    percentile,
    tally,
)
from bench.stream_report import CLIENT_CPU, SERVER_CPU, report
from tests.support.live_server import ServiceProcess, service_process
from tests.support.postgres import recreate_schema
from tests.support.raw_http import HttpConnection
from tests.support.sse import RawSseStream, stream_request

HOST = "127.0.0.1"

EVENT_TYPE = "StreamBenched"
BENCH_TAG = "bench:stream"
APPEND_MAX = 1000  # events per append: the service's default limit
OPEN_BATCH = 100  # streams connected concurrently
SETTLE_SECONDS = 1.0  # after a warm-up, and with the streams open, before RSS is read
REQUEST_SECONDS = 60.0
START_SECONDS = 30.0


# --- server processes ---


CPUS = os.sched_getaffinity(0)  # before this process pins itself


def pin(pid: int, cpu: int) -> None:
    """Pin ``pid`` to ``cpu`` when both CPUs are there; on one CPU, everything shares it."""
    if {SERVER_CPU, CLIENT_CPU} <= CPUS:
        os.sched_setaffinity(pid, {cpu})


@contextmanager
def serve(module: str, env: dict[str, str], *options: str) -> Iterator[ServiceProcess]:
    """``python -m <module>`` on a free port with the default settings and ``env``, pinned to
    `SERVER_CPU`; its log goes to stderr at the end."""
    settings = {"EVENTSTORE_LOG_LEVEL": "warning", **env}
    with service_process(
        module,
        settings,
        options=options,
        inherit_settings=False,
        cpu=SERVER_CPU if {SERVER_CPU, CLIENT_CPU} <= CPUS else None,
        startup_seconds=START_SECONDS,
    ) as server:
        try:
            yield server
        finally:
            output = server.output().strip()
            if output:
                print(f"[{module} log, last 3000 characters]\n{output[-3000:]}", file=sys.stderr)


# --- appends over one keep-alive connection ---


@dataclass
class Appended:
    """Positions appended in one phase, with the time each request was sent and answered."""

    sent: dict[int, float] = field(default_factory=dict)
    acked: dict[int, float] = field(default_factory=dict)
    first_sent: float = 0.0

    def __len__(self) -> int:
        return len(self.acked)


async def append_events(
    conn: HttpConnection, tag: str, seqs: Iterable[int], pad: str, log: Appended
) -> None:
    sent = time.time()
    events = [
        {
            "type": EVENT_TYPE,
            "data": {"seq": seq, "sent": sent, "pad": pad},
            "tags": [BENCH_TAG, tag],
        }
        for seq in seqs
    ]
    answer = await conn.request("POST", "/v1/events", orjson.dumps({"events": events}))
    acked = time.time()
    log.first_sent = log.first_sent or sent
    for position in orjson.loads(answer)["positions"]:
        log.sent[position] = sent
        log.acked[position] = acked


async def append_paced(
    conn: HttpConnection, tag: str, pad: str, *, rate: float, batch: int, seconds: float
) -> Appended:
    """Appends of ``batch`` events on a fixed schedule, ``rate`` events/s for ``seconds``; an
    append that comes back late is followed by the next one at once (the schedule holds)."""
    log = Appended()
    loop = asyncio.get_running_loop()
    appends = max(1, round(rate * seconds / batch))
    interval = batch / rate
    start = loop.time()
    deadline = start + 2 * seconds + 10
    for number in range(appends):
        delay = start + number * interval - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif loop.time() > deadline:
            break
        await append_events(conn, tag, range(number * batch, (number + 1) * batch), pad, log)
    return log


async def append_burst(conn: HttpConnection, tag: str, pad: str, events: int) -> Appended:
    log = Appended()
    for start in range(0, events, APPEND_MAX):
        await append_events(conn, tag, range(start, min(events, start + APPEND_MAX)), pad, log)
    return log


# --- SSE streams over raw sockets (tests.support.sse.RawSseStream) ---


async def open_streams(
    port: int, target: str, count: int, *, keep_first: bool = False
) -> list[RawSseStream]:
    """``count`` streams, connected ``OPEN_BATCH`` at a time; returns once every one has its
    200 head."""
    loop = asyncio.get_running_loop()
    request = stream_request(f"{HOST}:{port}", target)
    streams: list[RawSseStream] = []

    def factory(stream: RawSseStream) -> Callable[[], RawSseStream]:
        return lambda: stream

    try:
        async with asyncio.timeout(START_SECONDS + count * 0.05):
            for first in range(0, count, OPEN_BATCH):
                batch = [
                    RawSseStream(request, keep_data=keep_first and n == 0)
                    for n in range(first, min(count, first + OPEN_BATCH))
                ]
                streams += batch
                await asyncio.gather(
                    *(loop.create_connection(factory(s), HOST, port) for s in batch)
                )
            statuses = await asyncio.gather(*(s.head for s in streams))
    except BaseException:
        close_streams(streams)
        raise
    if any(status != 200 for status in statuses):
        close_streams(streams)
        raise RuntimeError(f"{target}: statuses {sorted(set(statuses))}")
    return streams


def close_streams(streams: Iterable[RawSseStream]) -> None:
    for stream in streams:
        stream.close()


async def wait_delivered(
    streams: Sequence[RawSseStream], offsets: Sequence[int], count: int, seconds: float
) -> bool:
    """Until every stream has ``count`` messages past its offset, at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(len(s.positions) - off >= count for s, off in zip(streams, offsets, strict=True)):
            return True
        await asyncio.sleep(0.02)
    return False


def last_receipt(streams: Sequence[RawSseStream], offsets: Sequence[int]) -> float:
    return max(
        (s.times[-1] for s, off in zip(streams, offsets, strict=True) if len(s.times) > off),
        default=0.0,
    )


# --- phases ---


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def verify_data(stream: RawSseStream, log: Appended, tag: str) -> int:
    """Messages of ``stream`` whose event is not the one appended at that position."""
    bad = 0
    for position, data in stream.data:
        event = orjson.loads(data)
        if (
            event.get("position") != position
            or event.get("type") != EVENT_TYPE
            or tag not in event.get("tags", ())
            or event.get("data", {}).get("sent") != log.sent.get(position)
        ):
            bad += 1
    stream.data.clear()
    return bad


async def measure_delivery(
    server: ServiceProcess,
    streams: Sequence[RawSseStream],
    *,
    target: str,
    kind: str,
    goal_rate: float,
    publish: Callable[[], Awaitable[Appended]],
    drain_seconds: float,
) -> tuple[Phase, Appended]:
    """Run ``publish`` (appends), then wait for every stream to receive what it appended."""
    offsets = [len(s.positions) for s in streams]
    meter = Meter(server)
    log = await publish()
    complete = await wait_delivered(streams, offsets, len(log), drain_seconds)
    cpu = meter.stop()
    counted = tally(streams, offsets, set(log.acked))
    seconds = max(1e-9, last_receipt(streams, offsets) - log.first_sent)
    append_seconds = max(1e-9, max(log.acked.values(), default=0.0) - log.first_sent)
    phase = Phase(
        target=target,
        subscribers=len(streams),
        kind=kind,
        goal_rate=goal_rate,
        events=len(log),
        seconds=seconds,
        append_rate=len(log) / append_seconds,
        delivered_rate=(counted.received - counted.dup - counted.extra) / seconds,
        commit_ms=latencies_ms(streams, offsets, log.acked),
        send_ms=latencies_ms(streams, offsets, log.sent),
        tally=counted,
        bad=0,
        complete=complete,
        cpu=cpu,
    )
    progress(
        f"  {target} {len(streams)} streams {kind}: {len(log)} events, "
        f"{phase.delivered_rate:,.0f} delivered/s, p99 {percentile(phase.commit_ms, 0.99):.1f} ms"
        f", lost {counted.lost} dup {counted.dup}, {phase.server_us:.0f} us server CPU/message"
        f", cpu server {cpu.server:.0%} client {cpu.client:.0%} others {cpu.others:.0%}"
    )
    return phase, log


async def warm_up(server: ServiceProcess, pad: str) -> None:
    """One stream and one append, so first-use costs are not counted as the streams'."""
    streams = await open_streams(server.port, "/v1/events/stream?tag=warmup", 1)
    conn = await HttpConnection.open(server.port, timeout=REQUEST_SECONDS)
    try:
        await append_events(conn, "warmup", range(1), pad, Appended())
        if not await wait_delivered(streams, [0], 1, 10.0):
            raise RuntimeError("the warm-up event was not delivered")
    finally:
        close_streams(streams)
        await conn.close()


@dataclass(frozen=True)
class Config:
    target: str  # "service", "floor" or "floor+join" (the floor, coalescing its sends)
    label: str
    subscribers: int
    paced: tuple[float, int] | None  # (events/s, events per append)
    burst: int  # events appended at once, after the paced run; 0 for none

    @property
    def stream_target(self) -> str:
        target = f"/v1/events/stream?type={EVENT_TYPE}&tag=run:{self.label}"
        return target + "&coalesce=true" if self.target == "floor+join" else target


async def run_config(
    server: ServiceProcess, results: Results, config: Config, args: argparse.Namespace
) -> None:
    """Warm up, open the streams (memory before and after), then the paced run and the burst."""
    pad = "x" * args.pad
    tag = f"run:{config.label}"
    service = config.target == "service"
    await warm_up(server, pad)
    await asyncio.sleep(SETTLE_SECONDS)
    before = server.rss_kib()
    streams = await open_streams(
        server.port, config.stream_target, config.subscribers, keep_first=service
    )
    conn = await HttpConnection.open(server.port, timeout=REQUEST_SECONDS)
    try:
        await asyncio.sleep(SETTLE_SECONDS)
        opened = server.rss_kib()
        progress(
            f"  {config.target} {config.subscribers} streams open: RSS {before} -> {opened} KiB"
            f", {(opened - before) / config.subscribers:.1f} KiB each"
        )
        runs: list[tuple[str, float, Callable[[], Awaitable[Appended]]]] = []
        if config.paced is not None:
            rate, batch = config.paced

            async def paced() -> Appended:
                return await append_paced(
                    conn, tag, pad, rate=rate, batch=batch, seconds=args.seconds
                )

            runs.append(("paced", rate, paced))
        if config.burst:

            async def burst() -> Appended:
                return await append_burst(conn, tag, pad, config.burst)

            runs.append(("burst", 0.0, burst))
        for kind, goal_rate, publish in runs:
            phase, log = await measure_delivery(
                server,
                streams,
                target=config.target,
                kind=kind,
                goal_rate=goal_rate,
                publish=publish,
                drain_seconds=args.drain_seconds,
            )
            if service:
                phase.bad = verify_data(streams[0], log, tag)
            results.phases.append(phase)
        first = streams[0]
        if service and first.positions:
            results.message_bytes = round(first.body_bytes / len(first.positions))
        results.memory.append(
            Memory(config.target, config.subscribers, before, opened, server.rss_kib())
        )
    finally:
        close_streams(streams)
        await conn.close()


async def fill(database_url: str, events: int, pad: str) -> float:
    """``events`` events in appends of `APPEND_MAX`, through the storage engine in this process
    (SQLite synchronous=NORMAL: this fill only). Returns the seconds it took."""
    settings = Settings(database_url=database_url, sqlite_synchronous="NORMAL")
    engine = build_engine(settings)
    started = time.perf_counter()
    await engine.start()
    try:
        for first in range(0, events, APPEND_MAX):
            await engine.append(
                [
                    EventInput(
                        type=EVENT_TYPE,
                        data=dump_json({"seq": n, "sent": 0.0, "pad": pad}),
                        tags=(BENCH_TAG, "run:fill"),
                    )
                    for n in range(first, min(events, first + APPEND_MAX))
                ]
            )
            if (first // APPEND_MAX) % 100 == 99:
                progress(f"  filled {first + APPEND_MAX:,} events")
    finally:
        await engine.close()
    return time.perf_counter() - started


async def catch_up(server: ServiceProcess, events: int) -> CatchUp:
    meter = Meter(server)
    started = time.time()
    streams = await open_streams(server.port, "/v1/events/stream?after=0&live=false", 1)
    stream = streams[0]
    try:
        async with asyncio.timeout(120 + events / 1000):
            await asyncio.shield(stream.done)
    except TimeoutError:
        progress("  catch-up: timed out")
    finally:
        close_streams(streams)
    cpu = meter.stop()
    complete = stream.ended and stream.positions == array("q", range(1, events + 1))
    if not complete:
        counted = tally(streams, [0], set(range(1, events + 1)))
        progress(f"  catch-up incomplete: {counted}")
    seconds = max(1e-9, last_receipt(streams, [0]) - started)
    result = CatchUp(len(stream.positions), seconds, complete, cpu)
    progress(
        f"  catch-up: {result.events:,} events in {seconds:.2f} s = {result.rate:,.0f}/s, "
        f"cpu server {cpu.server:.0%} client {cpu.client:.0%} others {cpu.others:.0%}"
    )
    return result


# --- the run ---


def raise_open_files(streams: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * streams + 256
    if soft != resource.RLIM_INFINITY and soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            raise SystemExit(f"open-file limit {hard} is below the {wanted} this run needs")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


async def bench(args: argparse.Namespace) -> Results:
    pin(0, CLIENT_CPU)
    results = Results()
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as workdir:
        url = args.postgres or f"sqlite:///{workdir}/stream.db"
        if args.postgres:
            await recreate_schema(args.postgres)
        env = {"EVENTSTORE_DATABASE_URL": url}
        pad = "x" * args.pad

        progress(f"fill: {args.catch_up_events:,} events")
        results.fill_events = args.catch_up_events
        results.fill_seconds = await fill(url, args.catch_up_events, pad)
        progress("catch-up")
        with serve("app", env) as server:
            results.catch_up = await catch_up(server, args.catch_up_events)

        for config in configs(args, "service"):
            progress(f"service: {config.subscribers} streams")
            with serve("app", env) as server:
                await run_config(server, results, config, args)

    size = str(results.message_bytes or 350)
    for config in [*configs(args, "floor"), *configs(args, "floor+join")]:
        progress(f"{config.target}: {config.subscribers} streams")
        with serve("bench.stream_floor", {}, "--message-bytes", size) as server:
            await run_config(server, results, config, args)
    return results


def configs(args: argparse.Namespace, target: str) -> list[Config]:
    """1 stream at the high rate, then each --subscribers at its rate; the largest and the
    single stream also get a burst. The coalescing floor runs the bursts only."""
    largest = max(args.subscribers)
    found = [Config(target, "one", 1, (args.high_rate, args.high_batch), args.burst_one)]
    for subscribers, rate in zip(args.subscribers, args.rates, strict=True):
        burst = args.burst_many if subscribers == largest else 0
        found.append(Config(target, str(subscribers), subscribers, (rate, 1), burst))
    if target == "floor+join":
        found = [Config(c.target, c.label, c.subscribers, None, c.burst) for c in found if c.burst]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="each paced run")
    parser.add_argument("--subscribers", type=int, nargs="+", default=[100, 1000])
    parser.add_argument(
        "--rates", type=float, nargs="+", default=[100.0, 10.0], help="events/s, per --subscribers"
    )
    parser.add_argument("--high-rate", type=float, default=2000.0, help="events/s to 1 stream")
    parser.add_argument("--high-batch", type=int, default=20, help="events per append, 1 stream")
    parser.add_argument("--burst-one", type=int, default=50_000, help="burst to 1 stream")
    parser.add_argument(
        "--burst-many", type=int, default=200, help="burst to the most streams (and the floor)"
    )
    parser.add_argument("--catch-up-events", type=int, default=1_000_000)
    parser.add_argument("--pad", type=int, default=100, help="bytes of padding in each event")
    parser.add_argument("--drain-seconds", type=float, default=30.0, help="most wait for delivery")
    parser.add_argument("--postgres", help="postgresql+asyncpg:// URL instead of SQLite (reset)")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args()
    if len(args.rates) != len(args.subscribers):
        parser.error("--rates needs one rate per --subscribers")
    if args.high_batch > APPEND_MAX or args.high_batch < 1:
        parser.error(f"--high-batch must be 1..{APPEND_MAX}")
    if args.quick:
        args.seconds = min(args.seconds, 3.0)
        args.catch_up_events = min(args.catch_up_events, 20_000)
        args.burst_one = min(args.burst_one, 5_000)
        args.burst_many = min(args.burst_many, 50)
        args.drain_seconds = min(args.drain_seconds, 10.0)
    raise_open_files(max(args.subscribers))
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        results = runner.run(bench(args))
    report(results, args)


if __name__ == "__main__":
    main()
