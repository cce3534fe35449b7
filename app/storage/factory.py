"""Pick the storage engine for a database URL. Builds objects only; `start()` does the I/O."""

from __future__ import annotations

from app.config import Settings
from app.storage.memory import MemoryEngine
from app.storage.protocol import EventStorageEngine


def build_engine(settings: Settings) -> EventStorageEngine:
    url = settings.database_url
    if url.startswith("memory:"):
        return MemoryEngine()
    from app.storage.sql.engine import build_sql_engine

    return build_sql_engine(settings)
