"""The application factory: `create_app(settings)`, and ``app`` for ``uvicorn app.main:app``.

Deliberate choices:

- Nothing happens at import but reading the settings: the storage engine is built, started and
  closed by the lifespan, so importing this module (tests, scripts exporting the OpenAPI
  document) opens no database.
- Middleware, outermost first: metrics (every answer is counted, 413s included), body limit,
  then FastAPI's own exception handling, which `app.api.problems` fills in.
- Every error response in the OpenAPI document is declared as ``application/problem+json``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import FastAPI

from app.api.body_limit import BodyLimitMiddleware
from app.api.metrics import ApiMetrics, MetricsMiddleware
from app.api.problems import install_problem_handlers, use_problem_media_type
from app.api.routes import events, ops, snapshots
from app.config import Settings
from app.storage.factory import build_engine

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


class EventStoreApi(FastAPI):
    def openapi(self) -> dict[str, Any]:
        if not self.openapi_schema:
            self.openapi_schema = use_problem_media_type(super().openapi())
        return self.openapi_schema


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings if settings is not None else Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = build_engine(settings)
        await engine.start()
        app.state.engine = engine
        try:
            yield
        finally:
            await engine.close()

    app = EventStoreApi(
        title=TITLE,
        description=DESCRIPTION,
        version=_version(),
        lifespan=lifespan,
    )
    metrics = ApiMetrics()
    app.state.settings = settings
    app.state.metrics = metrics

    install_problem_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    app.include_router(events.router)
    # The SSE stream (GET /v1/events/stream, operation stream_events) goes here, as
    # `app.include_router(stream.router)` from app/api/routes/stream.py: it needs no more than
    # the engine on app.state (wait_for_new) and the problem handlers above.
    app.include_router(snapshots.router)
    app.include_router(ops.router)
    return app


app = create_app()
