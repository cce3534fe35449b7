"""The application factory: `create_app(settings)`, and ``app`` for ``uvicorn app.main:app``.

Deliberate choices:

- Nothing happens at import: ``app`` is made on first access (a module ``__getattr__``), from
  the environment's settings, for ``uvicorn app.main:app``. Importing this module (tests,
  scripts exporting the OpenAPI document, `python -m app`) reads no settings, and an invalid
  one is reported by whoever asked for them. The storage engine is built, started and closed
  by the lifespan, so no database is opened before the server starts.
- The lifespan builds the access control first (it reads the tokens file; a bad one stops the
  start-up with a message that names no token) and says whether the API is open: loudly when
  it is and the service listens beyond localhost. Then it starts the storage engine, then the
  one tail reader of the process that feeds every stream (`app.streaming`); it stops them in
  the reverse order. It yields them as the typed lifespan state (`app.api.state`), which the
  routes read; nothing is kept on ``app.state``.
- Access is checked by each route before its body is read (`app.api.guard`), not by a
  middleware. Stream tickets are redacted from the request log (`app.api.access_log`).
- Tokens are reloaded when the tokens file changes, and on SIGHUP when the server asks for it
  (`app.access.reload`), without a restart.
- Middleware, outermost first: the request log with its request id (`app.api.request_log`),
  the log of refused browser origins and CORS (`app.api.cors`),
  metrics (every answer is counted, 413s included), the UTF-8 check of the path and query
  string (`app.api.request_target`), body limit, then FastAPI's own exception handling, which
  `app.api.problems` fills in.
- The OpenAPI document is shaped in one place, `app.api.openapi`.
- Routes are matched in the order they were added, each request trying every route before its
  own: the API's routers come first, in the order of the OpenAPI document, and the pages, the
  console and their files after them (none of their paths is an API path). A one-tag read
  tried 12 routes before its own, and now tries 4: 1.92 -> 1.78 million instructions (0.93), a
  one-event append 2.48 -> 2.31 (`bench/request_cost.py`, callgrind).
- Shutdown: the server says when it begins (`ShutdownNotice`, given by `python -m app` to both
  the app and `app.server.serve`), with the event-loop time by which every request must be
  answered. The lifespan then ends every stream at once (complete responses: clients resume
  with ``Last-Event-ID``) and tells the store to abandon what it has not done by that time, so
  that an append still waiting is answered 503, is never stored, and nothing is left for the
  server to cancel (which uvicorn answers 500).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp

from app.access.control import AccessControl, SharedLimits
from app.access.reload import TokenReloader
from app.api import access_log
from app.api.body_limit import BodyLimitMiddleware
from app.api.cors import install_cors
from app.api.encoding import event_json
from app.api.metrics import BATCH_SYNC_SECONDS, ApiMetrics, MetricsMiddleware
from app.api.openapi import EventStoreApi
from app.api.problems import install_problem_handlers
from app.api.request_limits import Limits
from app.api.request_log import RequestLogMiddleware
from app.api.request_target import Utf8TargetMiddleware
from app.api.routes import (
    console,
    discovery,
    event_schemas,
    events,
    ops,
    pages,
    snapshots,
    stream,
    tickets,
)
from app.api.routes.pages import mount_assets
from app.api.state import ServiceState
from app.config import Settings
from app.storage.factory import build_engine
from app.storage.protocol import EventStorageEngine
from app.streaming import TailReader

logger = logging.getLogger(__name__)


TITLE = "DCB event store"
DESCRIPTION = (
    "An event store for Dynamic Consistency Boundary event sourcing: append events with an "
    "append condition, read them by type and tag, keep snapshots. Errors are RFC 9457 problems."
)


def _version() -> str:
    try:
        return version("dcb-eventstore")
    except PackageNotFoundError:
        return "0.0.0"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def announce_access(access: AccessControl, settings: Settings) -> None:
    """Say at start-up who may call the API; never a token, only their names."""
    if not access.is_open:
        names = access.registry.names
        logger.info("access control: API tokens %s", ", ".join(names))
    elif is_loopback(settings.host):
        logger.info("no API tokens configured: the API is open to anyone who can reach it")
    else:
        logger.warning(
            "NO ACCESS CONTROL: no API tokens are configured and the service listens on %s, so "
            "anyone who can reach it can read and append events. Set EVENTSTORE_API_TOKENS or "
            "EVENTSTORE_API_TOKENS_FILE.",
            settings.host,
        )


class ShutdownNotice:
    """The server's word that it is shutting down, with the event-loop time by which every
    request must be answered; the running app listens (see the module docstring)."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[float], None]] = []

    def listen(self, listener: Callable[[float], None]) -> Callable[[], None]:
        """Call ``listener(deadline)`` when the server shuts down; returns how to stop."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def __call__(self, deadline: float) -> None:
        for listener in list(self._listeners):
            listener(deadline)


class _Service(EventStoreApi):
    """The app with the request log around all of it: ``add_middleware`` would put it inside
    Starlette's error middleware, which answers an unexpected error's 500 past every middleware
    added, so that answer would have no ``X-Request-ID`` and its log line no request id."""

    def build_middleware_stack(self) -> ASGIApp:
        return RequestLogMiddleware(super().build_middleware_stack())


def create_app(
    settings: Settings | None = None,
    *,
    build_store: Callable[[Settings], EventStorageEngine] = build_engine,
    shutdown: ShutdownNotice | None = None,
    reload_on_hangup: bool = False,
    shared_limits: SharedLimits | None = None,
    metrics_directory: Path | None = None,
) -> FastAPI:
    """The service for ``settings`` (the environment's by default). ``build_store`` makes its
    storage engine in the lifespan (tests hand in engines of their own); ``shutdown`` is how
    the server will say that it shuts down; ``reload_on_hangup``: SIGHUP reloads the tokens
    (for the server's process, not for tests). A worker among several (`app.server.supervisor`)
    gives the limits table and the metrics directory it shares with the others."""
    settings = settings if settings is not None else Settings()
    limits = Limits.of(settings)
    metrics = ApiMetrics(multiprocess_directory=metrics_directory)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[ServiceState]:
        access = AccessControl.from_settings(settings, shared=shared_limits)
        announce_access(access, settings)
        metrics.watch_streams(access.streams)
        reloader = TokenReloader(access, settings)
        reloader.start(hangup=reload_on_hangup)
        store = build_store(settings)
        try:
            await store.start()
        except BaseException:
            await reloader.close()
            raise
        try:
            metrics.watch_batches(store.batch_stats)
            tail = TailReader(
                store,
                event_json,
                batch_size=settings.stream_batch_size,
                max_buffered=settings.stream_buffer_events,
            )
            await tail.start()

            def drain(deadline: float) -> None:
                tail.end_streams()
                store.drain(deadline)

            forget = shutdown.listen(drain) if shutdown is not None else None
            syncing = (
                asyncio.create_task(_sync_batches(metrics))
                if metrics_directory is not None
                else None
            )
            try:
                yield ServiceState(
                    settings=settings,
                    limits=limits,
                    metrics=metrics,
                    access=access,
                    store=store,
                    tail=tail,
                )
            finally:
                if forget is not None:
                    forget()
                if syncing is not None:
                    syncing.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await syncing
                    metrics.sync_batches()
                await tail.close()
        finally:
            await reloader.close()
            await store.close()

    app = _Service(
        title=TITLE,
        description=DESCRIPTION,
        version=_version(),
        lifespan=lifespan,
        docs_url=None,  # served from bundled files by app.api.routes.pages
        redoc_url=None,
        redirect_slashes=False,  # a trailing slash is a 404 that says so, never an empty 307
    )

    access_log.install()
    install_problem_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(Utf8TargetMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    install_cors(app, settings.cors_origins)

    # The API's routes first: a request is matched against the routes in order (see the module
    # docstring); the pages' and the console's paths share nothing with them.
    app.include_router(stream.router)
    app.include_router(events.router)
    app.include_router(snapshots.router)
    app.include_router(discovery.router)
    app.include_router(event_schemas.router)
    app.include_router(tickets.router)
    app.include_router(ops.router)
    app.include_router(pages.router)
    app.include_router(console.router)
    mount_assets(app)
    console.mount_console(app)
    return app


async def _sync_batches(metrics: ApiMetrics) -> None:
    while True:
        await asyncio.sleep(BATCH_SYNC_SECONDS)
        metrics.sync_batches()


def __getattr__(name: str) -> Any:
    """``app``, made once, on first access (see the module docstring)."""
    if name == "app":
        made = create_app()
        globals()["app"] = made
        return made
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
