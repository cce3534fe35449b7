"""Crash test: kill -9 the service under load, again and again, and check that nothing is lost,
duplicated, half-written or reordered.

    scripts/crashtest --kills N [--postgres URL] [--seed S] [--clients C] [--processes 2]

Method. The service (``python -m app``, `tests.support.live_server.service_process`) runs on a
SQLite file in a temporary folder, or on the PostgreSQL database ``--postgres`` names (its
``public`` schema is dropped and recreated first: give it a database of its own). ``--clients``
appenders each send appends one after the other: 1-3 events, every one with an id chosen by the
client and the tags ``client:<c>`` and ``append:<first id>``; a third of them with the condition
"no event tagged ``append:<first id>``" (after null), a third with "no event tagged ``client:<c>``
after the last position this client was acknowledged", a third with none. So a retry of an append
that was stored is a 409 unless the store recognises it as a replay. A streaming client follows
``GET /v1/events/stream`` from position 0 and resumes with ``Last-Event-ID`` after every kill.

Each cycle lets the load run for a random 50-500 ms, then kills the server with SIGKILL and
starts a new one on the same store (on a new port). An append whose answer did not arrive (the
connection died) is sent again, with the same ids and body, to the next server, until it is
answered: that answer must be 201, or 200 with ``Idempotent-Replayed: true``; any other status is
a violation (503 is retried and counted). Before the clients are let onto a new server, the log
is verified: read from where the last check stopped, the positions continue 1, 2, ... with no gap
and equal the head; every event id in the log belongs to an append some client sent, and each
such append is there whole (all its ids, in order, at consecutive positions) or not at all; every
acknowledged append is at the positions it was acknowledged with; no event id appears twice;
and discovery (``/v1/event-types``, ``/v1/tags``) counts per type and per tag what the log
holds. After the last kill a final server is started, every client finishes its pending append, the
stream client catches up to the head, and the whole log is read again from position 0 and
checked as above against every position seen before (so nothing earlier changed), every append
sent must now be acknowledged, the stream must have received 1..head exactly once each, in
order, with each event's id. The server is stopped normally, and on SQLite ``PRAGMA
integrity_check`` must say ``ok``.

With ``--processes 2`` a second service process runs on the same store for the whole test and is
never killed (workers of one service, or replicas): every other appender sends to it, and a
second stream client follows it from position 0, so it must receive, through the wake-ups
between processes, every event the killed processes stored, each once, in order, as the first
one must receive the survivor's across its restarts. Every kill then lands while both processes
append, the killed one maybe holding the store's writer lock. The clients of the survivor pause
while the log is verified (each verification waits until none of their appends is in flight).

Figures printed: kills, appends sent and acknowledged, retries (attempts after the first), 503s,
replays (200), events in the store, stream messages and reconnects, and the violations counted
as lost / duplicated / out-of-order (stream), half-written, unknown ids, wrong status, ack
mismatch, miscounted types and tags. The exit status is 1 on any violation. `run_crashtest` is
the core, for the tests (tests/faults/test_crash.py).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from tests.support.live_server import ServiceProcess, service_process
from tests.support.postgres import recreate_schema
from tests.support.sse import SseDecoder

REQUEST_TIMEOUT = 15.0
STREAM_READ_TIMEOUT = 10.0
"""Heartbeats come every second (see `service_env`): a stream silent this long is stuck."""
CATCH_UP_SECONDS = 30.0
READ_PAGE = 1000


@dataclass
class SentAppend:
    """One append as a client sends it (the same body on every attempt)."""

    client: int
    ids: tuple[str, ...]
    body: dict[str, Any]
    positions: tuple[int, ...] | None = None
    """The positions of the answer, once acknowledged (201 or 200)."""
    attempts: int = 0


@dataclass
class Figures:
    kills: int = 0
    appends_sent: int = 0
    acknowledged: int = 0
    created: int = 0
    replays: int = 0
    retries: int = 0
    unavailable: int = 0
    transport_errors: int = 0
    """Appends whose connection failed before an answer (expected only when a server dies)."""
    events: int = 0
    stream_messages: int = 0
    stream_reconnects: int = 0
    lost: int = 0
    duplicated: int = 0
    out_of_order: int = 0
    half_written: int = 0
    unknown_ids: int = 0
    wrong_status: int = 0
    ack_mismatch: int = 0
    miscounted: int = 0
    """Event types and tags whose discovery count differs from the log's."""
    seconds: float = 0.0


@dataclass
class Report:
    figures: Figures
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def lines(self) -> Iterator[str]:
        f = self.figures
        yield f"kills                 {f.kills}"
        yield f"appends sent          {f.appends_sent}"
        yield f"appends acknowledged  {f.acknowledged} (201: {f.created}, 200 replays: {f.replays})"
        causes = f"503 answers: {f.unavailable}, connections lost: {f.transport_errors}"
        yield f"retries               {f.retries} ({causes})"
        yield f"events in the store   {f.events}"
        yield f"stream messages       {f.stream_messages} ({f.stream_reconnects} reconnects)"
        yield f"lost                  {f.lost}"
        yield f"duplicated            {f.duplicated}"
        yield f"out of order          {f.out_of_order}"
        yield f"half-written appends  {f.half_written}"
        yield f"unknown event ids     {f.unknown_ids}"
        yield f"wrong statuses        {f.wrong_status}"
        yield f"ack mismatches        {f.ack_mismatch}"
        yield f"miscounted types/tags {f.miscounted}"
        yield f"seconds               {f.seconds:.1f}"
        yield f"violations            {len(self.violations)}"
        for violation in self.violations[:50]:
            yield f"  - {violation}"


class Server:
    """The current service process: clients wait for `up`, then use `base_url`."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.up = asyncio.Event()
        self.base_url = ""
        self.service: ServiceProcess | None = None
        self._stack = ExitStack()

    async def start(self) -> None:
        env = {
            "EVENTSTORE_DATABASE_URL": self.database_url,
            "EVENTSTORE_LOG_LEVEL": "warning",
            "EVENTSTORE_HEARTBEAT_SECONDS": "1",
            "EVENTSTORE_API_TOKENS": "{}",
        }
        self._stack = ExitStack()
        context = service_process("app", env, inherit_settings=False)
        self.service = await asyncio.to_thread(self._stack.enter_context, context)
        self.base_url = self.service.base_url

    async def kill(self) -> None:
        """SIGKILL; the clients see their connections die and wait for the next server."""
        self.up.clear()
        assert self.service is not None
        self.service.process.kill()
        await asyncio.to_thread(self.service.process.wait)
        await asyncio.to_thread(self._stack.close)
        self.service = None

    async def stop(self) -> str:
        """A normal stop (SIGTERM); returns what the process printed."""
        self.up.clear()
        assert self.service is not None
        service = self.service
        service.process.terminate()
        await asyncio.to_thread(service.process.wait, 30)
        output = service.output()
        await asyncio.to_thread(self._stack.close)
        self.service = None
        return output

    def output(self) -> str:
        return "" if self.service is None else self.service.output()


class Crashtest:
    def __init__(
        self,
        database_url: str,
        *,
        clients: int,
        seed: int,
        progress: Callable[[Figures], None] | None = None,
        processes: int = 1,
    ) -> None:
        self.server = Server(database_url)
        self.survivor = Server(database_url) if processes == 2 else None
        """The second process, never killed (``processes=2``)."""
        self.survivor_in_flight = 0
        self._survivor_idle = asyncio.Event()
        self._survivor_idle.set()
        self.survivor_streamed: list[tuple[int, str]] = []
        self.progress = progress
        self.clients = clients
        self.random = random.Random(seed)
        self.figures = Figures()
        self.violations: list[str] = []
        self.sent: list[SentAppend] = []
        self.append_of_id: dict[str, SentAppend] = {}
        self.stopping = False
        # The log as verified so far: position -> event id, and back.
        self.log: list[str] = []
        self.kinds: list[tuple[str, tuple[str, ...]]] = []
        """The type and tags of each event of the log."""
        self.position_of: dict[str, int] = {}
        self.whole: set[int] = set()  # ids (python id()) of appends verified present in full
        # What the stream delivered, in order: (position, event id).
        self.streamed: list[tuple[int, str]] = []

    def violation(self, message: str) -> None:
        self.violations.append(message)

    # --- the appenders ---

    def _next_append(self, client: int, number: int, last_acknowledged: int) -> SentAppend:
        count = self.random.randint(1, 3)
        ids = tuple(str(uuid.uuid4()) for _ in range(count))
        own_tag = f"append:{ids[0]}"
        events = [
            {
                "id": event_id,
                "type": "CrashTested",
                "tags": [f"client:{client}", own_tag],
                "data": {"client": client, "append": number, "event": index},
            }
            for index, event_id in enumerate(ids)
        ]
        body: dict[str, Any] = {"events": events}
        kind = self.random.randrange(3)
        if kind == 0:
            body["condition"] = {"fail_if_events_match": {"items": [{"tags": [own_tag]}]}}
        elif kind == 1:
            body["condition"] = {
                "fail_if_events_match": {"items": [{"tags": [f"client:{client}"]}]},
                "after": last_acknowledged,
            }
        sent = SentAppend(client, ids, body)
        self.sent.append(sent)
        for event_id in ids:
            self.append_of_id[event_id] = sent
        self.figures.appends_sent += 1
        return sent

    def register(self, body: dict[str, Any]) -> SentAppend:
        """An append sent by someone else than the appenders, so that the checks know its ids;
        `acknowledge` it when it is answered 201 or 200."""
        sent = SentAppend(-1, tuple(str(event["id"]) for event in body["events"]), body)
        self.sent.append(sent)
        self.figures.appends_sent += 1
        for event_id in sent.ids:
            self.append_of_id[event_id] = sent
        return sent

    def acknowledge(self, sent: SentAppend, response: httpx.Response) -> None:
        positions = tuple(response.json()["positions"])
        if sent.positions is None:
            self._acknowledge(sent, positions, replay=response.status_code == 200)
        elif positions != sent.positions:
            self.figures.ack_mismatch += 1
            self.violation(f"append {sent.ids} acknowledged at {sent.positions}, then {positions}")

    async def appender(self, client: int) -> None:
        last_acknowledged = 0
        number = 0
        survivor = self.survivor if client % 2 == 1 else None
        async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as http:
            while not self.stopping:
                sent = self._next_append(client, number, last_acknowledged)
                number += 1
                positions = await self._send_until_answered(http, sent, survivor)
                if positions is None:
                    return  # a violation ended this client
                last_acknowledged = positions[-1]

    async def _send_until_answered(
        self, http: httpx.AsyncClient, sent: SentAppend, survivor: Server | None = None
    ) -> tuple[int, ...] | None:
        """Send ``sent`` to the current server, or to the ``survivor`` (while the current server
        is up: its verification is not to be raced), until it is answered."""
        while True:
            await self.server.up.wait()
            base_url = (survivor or self.server).base_url
            if sent.attempts:
                self.figures.retries += 1
            sent.attempts += 1
            try:
                if survivor is not None:
                    self.survivor_in_flight += 1
                    self._survivor_idle.clear()
                try:
                    response = await http.post(f"{base_url}/v1/events", json=sent.body)
                finally:
                    if survivor is not None:
                        self.survivor_in_flight -= 1
                        if not self.survivor_in_flight:
                            self._survivor_idle.set()
            except httpx.TransportError:
                self.figures.transport_errors += 1
                await asyncio.sleep(0.01)  # the server died: wait for the next one
                continue
            status = response.status_code
            if status == 503:
                self.figures.unavailable += 1
                self._check_unavailable(response)
                await asyncio.sleep(0.05)
                continue
            replayed = response.headers.get("idempotent-replayed")
            if (status == 201 and replayed is None) or (status == 200 and replayed == "true"):
                positions = tuple(response.json()["positions"])
                self._acknowledge(sent, positions, replay=status == 200)
                return positions
            self.figures.wrong_status += 1
            self.violation(
                f"append {sent.ids} (attempt {sent.attempts}) answered {status} "
                f"(Idempotent-Replayed: {replayed}): {response.text[:300]}"
            )
            if status >= 500:
                self.violation(f"server output:\n{self.server.output()[-3000:]}")
            return None

    def _check_unavailable(self, response: httpx.Response) -> None:
        """A 503 must be a problem with ``Retry-After``."""
        problem = response.headers.get("content-type") == "application/problem+json"
        if not problem or response.json().get("status") != 503:
            self.violation(f"a 503 that is not a problem: {response.text[:300]}")
        if response.headers.get("retry-after") is None:
            self.violation(f"a 503 without Retry-After: {response.text[:300]}")

    def _acknowledge(self, sent: SentAppend, positions: tuple[int, ...], *, replay: bool) -> None:
        self.figures.acknowledged += 1
        if replay:
            self.figures.replays += 1
        else:
            self.figures.created += 1
        first = positions[0] if positions else 0
        if list(positions) != list(range(first, first + len(sent.ids))):
            self.figures.ack_mismatch += 1
            self.violation(f"append {sent.ids} acknowledged at {positions}: not consecutive")
        sent.positions = positions

    # --- the stream client ---

    async def streamer(self, server: Server, streamed: list[tuple[int, str]]) -> None:
        """Follow ``server``'s stream into ``streamed``, resuming after every kill."""
        timeout = httpx.Timeout(REQUEST_TIMEOUT, read=STREAM_READ_TIMEOUT)
        async with httpx.AsyncClient(timeout=timeout) as http:
            first = True
            while True:
                await server.up.wait()
                if not first:
                    self.figures.stream_reconnects += 1
                first = False
                last = streamed[-1][0] if streamed else 0
                headers = {"Last-Event-ID": str(last)} if last else {}
                params = {} if last else {"after": "0"}
                try:
                    await self._follow(http, server.base_url, params, headers, streamed)
                except httpx.TransportError:
                    await asyncio.sleep(0.01)

    async def _follow(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        params: dict[str, str],
        headers: dict[str, str],
        streamed: list[tuple[int, str]],
    ) -> None:
        url = f"{base_url}/v1/events/stream"
        async with http.stream("GET", url, params=params, headers=headers) as response:
            if response.status_code != 200:
                await response.aread()
                self.violation(f"the stream answered {response.status_code}: {response.text}")
                await asyncio.sleep(0.1)
                return
            decoder = SseDecoder()
            async for chunk in response.aiter_bytes():
                for message in decoder.feed(chunk):
                    if message.is_heartbeat:
                        continue
                    event = message.event()
                    streamed.append((message.position, str(event["id"])))
                    self.figures.stream_messages += 1

    # --- verification ---

    async def read_log(
        self, http: httpx.AsyncClient, after: int
    ) -> tuple[list[tuple[str, str, tuple[str, ...]]], int]:
        """The id, type and tags of every event after ``after``, in order; and the head."""
        base_url = self.server.base_url
        ids: list[tuple[str, str, tuple[str, ...]]] = []
        expected = after + 1
        while True:
            response = await http.post(
                f"{base_url}/v1/events/query", json={"after": after, "limit": READ_PAGE}
            )
            response.raise_for_status()
            page = response.json()
            for event in page["events"]:
                if event["position"] != expected:
                    self.violation(f"the log has position {event['position']} after {expected - 1}")
                    expected = event["position"]
                ids.append((str(event["id"]), event["type"], tuple(event["tags"])))
                expected += 1
            after = page["marker"]
            if not page["has_more"]:
                head = (await http.get(f"{base_url}/v1/head")).json()["head"]
                if head != expected - 1:
                    self.violation(f"head {head} but the log ends at {expected - 1}")
                return ids, head

    async def verify(self, http: httpx.AsyncClient, *, full: bool) -> None:
        """Check the log (from the last verified position, or all of it when ``full``)."""
        start = 0 if full else len(self.log)
        read, _ = await self.read_log(http, start)
        ids = [event_id for event_id, _, _ in read]
        if full:
            for position, (before, now) in enumerate(zip(self.log, ids, strict=False), start=1):
                if before != now:
                    self.violation(f"position {position} held {before}, now {now}")
            if len(ids) < len(self.log):
                self.figures.lost += len(self.log) - len(ids)
                self.violation(f"the log shrank from {len(self.log)} to {len(ids)} events")
            self.log, self.kinds, self.position_of, self.whole = [], [], {}, set()
        for event_id, event_type, tags in read:
            self.log.append(event_id)
            self.kinds.append((event_type, tags))
            if event_id in self.position_of:
                self.figures.duplicated += 1
                self.violation(f"event id {event_id} is stored twice")
            self.position_of[event_id] = len(self.log)
            if event_id not in self.append_of_id:
                self.figures.unknown_ids += 1
                self.violation(f"event id {event_id} at {len(self.log)} was never sent")
        self.figures.events = len(self.log)
        for sent in self.sent:
            if id(sent) in self.whole:
                continue
            found = [self.position_of.get(event_id) for event_id in sent.ids]
            if all(position is None for position in found):
                if sent.positions is not None:
                    self.figures.lost += len(sent.ids)
                    self.violation(f"acknowledged append {sent.ids} at {sent.positions} is gone")
                continue
            first = found[0]
            if first is None or found != list(range(first, first + len(found))):
                self.figures.half_written += 1
                self.violation(f"append {sent.ids} is stored as {found}")
            elif sent.positions is not None and tuple(found) != sent.positions:
                self.figures.ack_mismatch += 1
                self.violation(f"append {sent.ids} acknowledged at {sent.positions}, is at {found}")
            self.whole.add(id(sent))

    async def verify_discovery(self, http: httpx.AsyncClient) -> None:
        """What discovery says equals a count of the log: per type, per tag."""
        base_url = self.server.base_url
        types = (await http.get(f"{base_url}/v1/event-types")).json()["event_types"]
        tags: dict[str, int] = {}
        after: str | None = None
        while True:
            params = {"limit": str(READ_PAGE)} | ({"after": after} if after else {})
            page = (await http.get(f"{base_url}/v1/tags", params=params)).json()
            tags |= {entry["tag"]: entry["count"] for entry in page["tags"]}
            if not page["has_more"]:
                break
            after = page["tags"][-1]["tag"]
        by_type = Counter(event_type for event_type, _ in self.kinds)
        by_tag = Counter(tag for _, event_tags in self.kinds for tag in event_tags)
        counted = {entry["type"]: entry["count"] for entry in types}
        for name in set(by_type) | set(counted):
            if by_type.get(name, 0) != counted.get(name, 0):
                self.figures.miscounted += 1
                self.violation(f"type {name}: {counted.get(name)} counted, {by_type[name]} stored")
        for tag in set(by_tag) | set(tags):
            if by_tag.get(tag, 0) != tags.get(tag, 0):
                self.figures.miscounted += 1
                self.violation(f"tag {tag}: {tags.get(tag)} counted, {by_tag[tag]} stored")

    def verify_stream(self, streamed: list[tuple[int, str]] | None = None) -> None:
        """Check what a stream client received (the first one's unless ``streamed``)."""
        streamed = self.streamed if streamed is None else streamed
        positions = [position for position, _ in streamed]
        counts = Counter(positions)
        self.figures.duplicated += sum(count - 1 for count in counts.values())
        highest = 0
        for position in positions:
            if position < highest and counts[position] == 1:
                self.figures.out_of_order += 1
            highest = max(highest, position)
        lost = [p for p in range(1, len(self.log) + 1) if p not in counts]
        self.figures.lost += len(lost)
        beyond = [p for p in counts if p > len(self.log)]
        for position, event_id in streamed:
            if position <= len(self.log) and self.log[position - 1] != event_id:
                self.violation(f"the stream sent {event_id} at {position}: the log has another")
                break
        if lost or beyond:
            self.violation(f"the stream missed {lost[:10]}..., sent beyond the head {beyond[:10]}")
        if positions != list(range(1, len(self.log) + 1)):
            self.violation(
                f"the stream received {len(positions)} positions, not 1..{len(self.log)} in order"
            )

    # --- the run ---

    async def run(self, kills: int) -> Report:
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as http:
            await self.server.start()
            if self.survivor is not None:
                await self.survivor.start()
                self.survivor.up.set()
            await self.verify(http, full=True)
            self.server.up.set()
            workers, streamer = self.start_load()
            streamers = [streamer]
            if self.survivor is not None:
                follow = self.streamer(self.survivor, self.survivor_streamed)
                streamers.append(asyncio.create_task(follow))
            try:
                for _ in range(kills):
                    await asyncio.sleep(self.random.uniform(0.05, 0.5))
                    await self.server.kill()
                    self.figures.kills += 1
                    await self.server.start()
                    await self._survivor_quiet()
                    await self.verify(http, full=False)
                    await self.verify_discovery(http)  # nobody appends until `up`
                    self.server.up.set()
                    if self.progress is not None:
                        self.progress(self.figures)
                await asyncio.sleep(0.3)
                await self.stop_appenders(workers)
                await self.verify(http, full=True)
                await self.verify_discovery(http)
                await self._stream_catches_up()
            finally:
                self.stopping = True
                for task in [*workers, *streamers]:
                    task.cancel()
                await asyncio.gather(*workers, *streamers, return_exceptions=True)
            self.verify_acknowledged()
            self.verify_stream(self.streamed)
            if self.survivor is not None:
                self.verify_stream(self.survivor_streamed)
        for server in (self.server, self.survivor):
            if server is None:
                continue
            output = await server.stop()
            if "Traceback" in output:
                self.violation(f"a server logged a traceback:\n{output[-3000:]}")
        self.check_sqlite_integrity()
        self.figures.seconds = time.monotonic() - started
        return Report(self.figures, self.violations)

    def start_load(self) -> tuple[list[asyncio.Task[None]], asyncio.Task[None]]:
        """Start the appenders and the stream client (on the server once it is `up`)."""
        workers = [asyncio.create_task(self.appender(c)) for c in range(self.clients)]
        return workers, asyncio.create_task(self.streamer(self.server, self.streamed))

    async def _survivor_quiet(self) -> None:
        """Until no append sent to the survivor is in flight (its clients wait for `up`)."""
        await asyncio.wait_for(self._survivor_idle.wait(), REQUEST_TIMEOUT * 2)

    async def stop_appenders(self, workers: list[asyncio.Task[None]]) -> None:
        """Let each appender finish the append it is sending (retries included), then stop."""
        self.stopping = True
        await asyncio.wait_for(asyncio.gather(*workers), REQUEST_TIMEOUT * 2)

    def verify_acknowledged(self) -> None:
        """Once the appenders stopped, every append they sent must have been acknowledged."""
        unacknowledged = [sent.ids for sent in self.sent if sent.positions is None]
        if unacknowledged and not self.violations:
            self.violation(f"appends never acknowledged: {unacknowledged[:5]}")

    async def _stream_catches_up(self) -> None:
        deadline = time.monotonic() + CATCH_UP_SECONDS
        streams = [self.streamed] + ([self.survivor_streamed] if self.survivor else [])
        while time.monotonic() < deadline:
            if all((each and each[-1][0] >= len(self.log)) or not self.log for each in streams):
                return
            await asyncio.sleep(0.05)
        self.violation(f"a stream did not reach the head {len(self.log)} in time")

    def check_sqlite_integrity(self) -> None:
        url = make_url(self.server.database_url)
        if not url.drivername.startswith("sqlite"):
            return
        assert url.database is not None
        with sqlite3.connect(url.database) as probe:
            result = [row[0] for row in probe.execute("PRAGMA integrity_check")]
        if result != ["ok"]:
            self.violation(f"PRAGMA integrity_check: {result}")


async def run_crashtest(
    database_url: str,
    *,
    kills: int,
    clients: int = 6,
    seed: int = 0,
    progress: Callable[[Figures], None] | None = None,
    processes: int = 1,
) -> Report:
    """Kill the service ``kills`` times on ``database_url`` (an empty store) under load, with
    a second process that survives when ``processes`` is 2; ``progress`` is called after each
    restart."""
    test = Crashtest(
        database_url, clients=clients, seed=seed, progress=progress, processes=processes
    )
    return await test.run(kills)


def print_progress(figures: Figures) -> None:
    if figures.kills % 10 == 0:
        print(
            f"  {figures.kills} kills, {figures.acknowledged} appends acknowledged, "
            f"{figures.events} events",
            file=sys.stderr,
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/crashtest", description=__doc__)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--postgres", metavar="URL", help="its public schema is recreated")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--processes", type=int, choices=[1, 2], default=1)
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    with tempfile.TemporaryDirectory(prefix="crashtest-") as folder:
        if args.postgres:
            asyncio.run(recreate_schema(args.postgres))
            database_url = args.postgres
        else:
            database_url = f"sqlite:///{Path(folder) / 'store.db'}"
        target = make_url(database_url).render_as_string(hide_password=True)
        print(f"crashtest: {args.kills} kills on {target}, {args.clients} clients, seed {seed}")
        report = asyncio.run(
            run_crashtest(
                database_url,
                kills=args.kills,
                clients=args.clients,
                seed=seed,
                progress=print_progress,
                processes=args.processes,
            )
        )
    for line in report.lines():
        print(line)
    print("OK" if report.ok else "FAILED")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
