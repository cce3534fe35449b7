"""Prometheus metrics of one app, in a registry of its own.

Deliberate choices:

- No global registry: every `create_app` makes a `CollectorRegistry`, so tests can build many
  apps and two apps in one process never mix their figures.
- HTTP requests are labelled by route *template* (``/v1/snapshots/{name}/{key}``), never by raw
  path, so that the label set stays bounded; a request that matches no route is
  ``<unmatched>``, and an unusual method is ``other``. The middleware is pure ASGI and sits
  outside the body limit, so 413s count.
- Streams are counted but kept out of the latency histogram (they last as long as the client).
- An exception escaping the application counts as a 500.
- Appends are counted by outcome (``stored``, ``replayed``), conflicts separately, and events
  appended only when stored (a replay stores nothing).
- Open streams are read at scrape time from the stream slots (`app.access.limits`); refusals
  of access (401, 403, 429) are counted by status like every answer.
- Group commit (SQL engines) is read at scrape time from the engine's own counters: batches
  committed and the appends they held (their ratio is the mean batch size), and the largest.
- **Several worker processes** (`app.server.supervisor`): prometheus_client's multiprocess mode,
  the library's own way. Each worker's values live in memory-mapped files of a directory the
  supervisor makes (and removes), and a scrape, served by any worker, sums every worker's files,
  the dead ones' included, so counters and histograms never go back. What is read at scrape
  time cannot be read from other processes, so in this mode open streams come from the shared
  limits table (`app.access.shared_limits`), the whole service's; and each worker copies its
  group-commit counters into counters of the multiprocess kind every
  `BATCH_SYNC_SECONDS` (the largest batch: the most of any worker), so they are the whole
  service's up to that lag.
- **Cheap per request.** The middleware keeps the labelled children of the request counter and
  the latency histogram per (method, route, status) in a dict of its own, instead of asking
  ``labels()`` (argument checks and a lock) on every request. Measured with callgrind: see
  docs/design.md, "Several processes per host".
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import values as prometheus_values
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.problems import HTTP_METHODS
from app.domain import AppendResult
from app.storage.protocol import BatchStats

UNMATCHED_ROUTE = "<unmatched>"
LONG_LIVED_ROUTES = frozenset({"/v1/events/stream"})
"""Counted, but kept out of the latency histogram: a stream lasts as long as its client."""
_KNOWN_METHODS = frozenset(HTTP_METHODS)
BATCH_SYNC_SECONDS = 1.0
"""How often a worker of several copies its group-commit counters to the shared metrics."""
MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
"""prometheus_client's variable naming the directory of the multiprocess mode."""


class OpenStreams(Protocol):
    @property
    def open_streams(self) -> int: ...


def use_multiprocess_files(directory: Path) -> None:
    """From now on, metrics made in this process keep their values in ``directory``, shared
    with the other workers (prometheus_client's multiprocess mode; called in a worker, before
    its app is made)."""
    os.environ[MULTIPROCESS_DIRECTORY] = str(directory)
    prometheus_values.ValueClass = prometheus_values.MultiProcessValue()  # type: ignore[no-untyped-call]


class ApiMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, *, multiprocess_directory: Path | None = None) -> None:
        self.multiprocess_directory = multiprocess_directory
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "eventstore_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "eventstore_http_request_duration_seconds",
            "Time from request to the end of the response, by method and route template.",
            ("method", "route"),
            registry=self.registry,
        )
        self.appends = Counter(
            "eventstore_appends",
            "Successful appends, by outcome (stored, replayed).",
            ("outcome",),
            registry=self.registry,
        )
        self.append_conflicts = Counter(
            "eventstore_append_conflicts",
            "Appends refused because their append condition failed.",
            registry=self.registry,
        )
        self.events_appended = Counter(
            "eventstore_events_appended",
            "Events stored by appends.",
            registry=self.registry,
        )
        self._streams = _StreamsCollector()
        self._batches = _BatchCollector()
        self._batch_counters: _BatchCounters | None = None
        if multiprocess_directory is None:
            self.registry.register(self._streams)
            self.registry.register(self._batches)
            self._scraped = self.registry
        else:
            self._batch_counters = _BatchCounters(self.registry)
            self._scraped = CollectorRegistry(auto_describe=False)
            MultiProcessCollector(self._scraped, path=str(multiprocess_directory))  # type: ignore[no-untyped-call]
            self._scraped.register(self._streams)

    def record_append(self, result: AppendResult) -> None:
        if result.replayed:
            self.appends.labels("replayed").inc()
        else:
            self.appends.labels("stored").inc()
            self.events_appended.inc(len(result.positions))

    def record_conflict(self) -> None:
        self.append_conflicts.inc()

    def watch_batches(self, stats: BatchStats | None) -> None:
        """Publish the group-commit counters of the store's writer (None: none to publish)."""
        self._batches.stats = stats

    def sync_batches(self) -> None:
        """Several workers: copy the group-commit counters to the shared metrics (called every
        `BATCH_SYNC_SECONDS`); nothing to do for one process, which reads them at scrape time."""
        if self._batch_counters is not None and self._batches.stats is not None:
            self._batch_counters.sync(self._batches.stats)

    def watch_streams(self, slots: OpenStreams) -> None:
        """Publish the number of open streams, read at scrape time."""
        self._streams.slots = slots

    def render(self) -> bytes:
        return generate_latest(self._scraped)


class _StreamsCollector(Collector):
    def __init__(self) -> None:
        self.slots: OpenStreams | None = None

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "eventstore_streams_open",
            "Streams open now; each holds a slot of EVENTSTORE_MAX_STREAMS and of its token's.",
            value=self.slots.open_streams if self.slots is not None else 0,
        )


class _BatchCounters:
    """The group-commit counters of one worker among several, as metrics of the multiprocess
    kind: summed over the workers (the largest batch: the most of any)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.batches = Counter(
            "eventstore_append_batches",
            "Transactions committed by the group-commit writer.",
            registry=registry,
        )
        self.requests = Counter(
            "eventstore_append_batched_requests",
            "Appends decided in those transactions (stored, replayed or refused).",
            registry=registry,
        )
        self.largest = Gauge(
            "eventstore_append_batch_largest",
            "Most appends decided in one transaction since start.",
            registry=registry,
            multiprocess_mode="max",
        )
        self._copied = BatchStats()

    def sync(self, stats: BatchStats) -> None:
        copied = self._copied
        if stats.batches != copied.batches:
            self.batches.inc(stats.batches - copied.batches)
            self.requests.inc(stats.requests - copied.requests)
            copied.batches, copied.requests = stats.batches, stats.requests
        if stats.largest != copied.largest:
            self.largest.set(stats.largest)
            copied.largest = stats.largest


class _BatchCollector(Collector):
    def __init__(self) -> None:
        self.stats: BatchStats | None = None

    def collect(self) -> Iterator[Metric]:
        stats = self.stats
        if stats is None:
            return
        yield CounterMetricFamily(
            "eventstore_append_batches",
            "Transactions committed by the group-commit writer.",
            value=stats.batches,
        )
        yield CounterMetricFamily(
            "eventstore_append_batched_requests",
            "Appends decided in those transactions (stored, replayed or refused).",
            value=stats.requests,
        )
        yield GaugeMetricFamily(
            "eventstore_append_batch_largest",
            "Most appends decided in one transaction since start.",
            value=stats.largest,
        )


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


_Children = tuple[Counter, Histogram | None]


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self._children: dict[tuple[str, str, int], _Children] = {}

    def _children_of(self, method: str, route: str, status: int) -> _Children:
        """The request counter's and latency histogram's children for these labels."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            metrics = self.metrics
            counter = metrics.http_requests.labels(method, route, str(status))
            histogram = (
                None if route in LONG_LIVED_ROUTES else metrics.http_duration.labels(method, route)
            )
            children = self._children[key] = (counter, histogram)
        return children

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            method = scope["method"] if scope["method"] in _KNOWN_METHODS else "other"
            counter, histogram = self._children_of(method, _route_template(scope), status)
            counter.inc()
            if histogram is not None:
                histogram.observe(time.perf_counter() - started)
