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
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.access.limits import StreamSlots
from app.api.problems import HTTP_METHODS
from app.domain import AppendResult
from app.storage.protocol import BatchStats

UNMATCHED_ROUTE = "<unmatched>"
LONG_LIVED_ROUTES = frozenset({"/v1/events/stream"})
"""Counted, but kept out of the latency histogram: a stream lasts as long as its client."""
_KNOWN_METHODS = frozenset(HTTP_METHODS)


class ApiMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
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
        self.streams_open = Gauge(
            "eventstore_streams_open",
            "Streams open now; each holds a slot of EVENTSTORE_MAX_STREAMS and of its token's.",
            registry=self.registry,
        )
        self._batches = _BatchCollector()
        self.registry.register(self._batches)

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

    def watch_streams(self, slots: StreamSlots) -> None:
        """Publish the number of open streams, read at scrape time."""
        self.streams_open.set_function(lambda: slots.open_streams)

    def render(self) -> bytes:
        return generate_latest(self.registry)


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


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

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
            route = _route_template(scope)
            self.metrics.http_requests.labels(method, route, str(status)).inc()
            if route not in LONG_LIVED_ROUTES:
                self.metrics.http_duration.labels(method, route).observe(
                    time.perf_counter() - started
                )
