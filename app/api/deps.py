"""Annotated dependencies of the routes: the storage engine, the settings, the metrics.

All three live on ``app.state``: the settings and metrics are set by `create_app`, the engine by
the lifespan (it is built and started there, never at import). They are ``async def`` on
purpose: FastAPI runs a plain ``def`` dependency in a worker thread, a thread hop per request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.api.metrics import ApiMetrics
from app.config import Settings
from app.storage.engine import EventStorageEngine
from app.streaming import TailReader


async def get_store(request: Request) -> EventStorageEngine:
    engine: EventStorageEngine = request.app.state.engine
    return engine


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_tail(request: Request) -> TailReader:
    tail: TailReader = request.app.state.tail
    return tail


async def get_metrics(request: Request) -> ApiMetrics:
    metrics: ApiMetrics = request.app.state.metrics
    return metrics


Store = Annotated[EventStorageEngine, Depends(get_store)]
AppSettings = Annotated[Settings, Depends(get_settings)]
Metrics = Annotated[ApiMetrics, Depends(get_metrics)]
Tail = Annotated[TailReader, Depends(get_tail)]
