"""Settings, read from ``EVENTSTORE_*`` environment variables (and `python -m app` options).

`create_app(settings)` receives a `Settings`; nothing reads the environment at import.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///eventstore.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EVENTSTORE_", extra="ignore")

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL of the store: sqlite+aiosqlite:///path.db or "
        "postgresql+asyncpg://user@host/db. `memory://` keeps events in memory only.",
    )
    host: str = Field("127.0.0.1", description="Address `python -m app` listens on.")
    port: int = Field(8000, ge=0, le=65535, description="Port `python -m app` listens on.")
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        "info", description="Log level of the service and of uvicorn (access log at info)."
    )

    max_body_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, description="Largest request body accepted, in bytes received."
    )
    max_events_per_append: int = Field(1000, ge=1, description="Most events in one append.")
    max_read_limit: int = Field(
        1000, ge=1, description="Most events one read returns; larger limits are clamped."
    )
    max_query_items: int = Field(100, ge=1, description="Most items in one query.")
    max_values_per_item: int = Field(
        100, ge=1, description="Most types, and most tags, in one query item."
    )
    snapshot_after_events: int = Field(
        100,
        ge=1,
        description="A read from a snapshot that returns this many events says `snapshot_due`.",
    )
    metadata_tag_keys: list[str] = Field(
        default_factory=list,
        description="Metadata keys whose values become `key:value` tags at append "
        '(JSON list, e.g. ["tenant"]).',
    )
    sqlite_synchronous: Literal["FULL", "NORMAL", "EXTRA"] = Field(
        "FULL",
        description="SQLite `synchronous` pragma. FULL: an acknowledged append survives a power "
        "loss. NORMAL: faster, survives a process crash but may lose the last appends on a "
        "machine crash.",
    )
    sqlite_busy_timeout_ms: int = Field(
        5000, ge=0, description="How long a SQLite write waits for another process's lock."
    )
    db_pool_size: int = Field(10, ge=1, description="Pooled database connections (PostgreSQL).")
