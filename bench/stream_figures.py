"""The figures of the stream benchmark (`bench/stream.py`): what each phase counted and timed,
and the CPU it took, per process."""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.live_server import CLOCK_TICKS, ServiceProcess
from tests.support.sse import RawSseStream


@dataclass
class Tally:
    received: int = 0
    lost: int = 0
    dup: int = 0
    extra: int = 0
    disorder: int = 0


def tally(streams: Sequence[RawSseStream], offsets: Sequence[int], expected: set[int]) -> Tally:
    """Each stream should hold every ``expected`` position once, in order, past its offset."""
    result = Tally()
    for stream, offset in zip(streams, offsets, strict=True):
        got = stream.positions[offset:]
        seen = set(got)
        result.received += len(got)
        result.dup += len(got) - len(seen)
        result.lost += len(expected - seen)
        result.extra += len(seen - expected)
        result.disorder += sum(1 for a, b in itertools.pairwise(got) if b <= a)
    return result


def latencies_ms(
    streams: Sequence[RawSseStream], offsets: Sequence[int], stamps: dict[int, float]
) -> list[float]:
    """Receipt minus ``stamps[position]`` for every message received, sorted, in ms."""
    found: list[float] = []
    for stream, offset in zip(streams, offsets, strict=True):
        for position, received in zip(
            stream.positions[offset:], stream.times[offset:], strict=True
        ):
            stamp = stamps.get(position)
            if stamp is not None:
                found.append((received - stamp) * 1000)
    found.sort()
    return found


def percentile(ordered: Sequence[float], fraction: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def machine_busy_seconds() -> float:
    """CPU time spent by everything on this machine's CPUs (/proc/stat, all but idle/iowait)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


@dataclass
class Usage:
    """CPU per wall second of one phase: 1.0 is one core busy."""

    client: float
    server: float
    others: float  # every other process on the machine (other work competing for the cores)
    wall: float  # seconds measured


class Meter:
    """Wall time and the CPU of this client, of the server and of everything else, over one
    phase."""

    def __init__(self, server: ServiceProcess) -> None:
        self._server = server
        self._wall = time.perf_counter()
        self._cpu = time.process_time()
        self._server_cpu = server.cpu_seconds()
        self._machine = machine_busy_seconds()

    def stop(self) -> Usage:
        wall = time.perf_counter() - self._wall
        client = time.process_time() - self._cpu
        server = self._server.cpu_seconds() - self._server_cpu
        machine = machine_busy_seconds() - self._machine
        others = max(0.0, machine - client - server)
        return Usage(client / wall, server / wall, others / wall, wall)


@dataclass
class Phase:
    target: str
    subscribers: int
    kind: str  # "paced" or "burst"
    goal_rate: float  # events/s asked of the appender (paced), 0 for a burst
    events: int  # events appended (or sent by the floor) to each stream
    seconds: float  # first append sent -> last message received
    append_rate: float
    delivered_rate: float  # messages received by all streams per second
    commit_ms: list[float]
    send_ms: list[float]
    tally: Tally
    bad: int
    complete: bool
    cpu: Usage

    @property
    def server_us(self) -> float:
        """Server CPU per message delivered, in microseconds."""
        messages = self.tally.received - self.tally.dup - self.tally.extra
        return self.cpu.server * self.cpu.wall / messages * 1e6 if messages else float("nan")


@dataclass
class Memory:
    target: str
    subscribers: int
    before_kib: int
    open_kib: int
    end_kib: int

    @property
    def per_stream_kib(self) -> float:
        return (self.open_kib - self.before_kib) / self.subscribers


@dataclass
class CatchUp:
    events: int
    seconds: float
    complete: bool
    cpu: Usage

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def server_us(self) -> float:
        return self.cpu.server * self.cpu.wall / self.events * 1e6 if self.events else 0.0


@dataclass
class Results:
    phases: list[Phase] = field(default_factory=list)
    memory: list[Memory] = field(default_factory=list)
    catch_up: CatchUp | None = None
    fill_seconds: float = 0.0
    fill_events: int = 0
    message_bytes: int = 0
