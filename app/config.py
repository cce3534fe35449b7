"""Settings, read from ``EVENTSTORE_*`` environment variables (and `python -m app` options).

`create_app(settings)` receives a `Settings`; nothing reads the environment at import.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///eventstore.db"
MAX_WORKERS = 128
"""Most worker processes (the shared limits table has a column for each)."""


def is_in_memory(database_url: str) -> bool:
    return database_url.startswith("memory:")


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, which containers and ``taskset`` set)."""
    return len(os.sched_getaffinity(0))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EVENTSTORE_", extra="ignore")

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="Where events live: `sqlite:///path.db` (a file, relative to the working "
        "directory; four slashes for an absolute path; `sqlite+aiosqlite:///` is the same), "
        "`postgresql+asyncpg://user:password@host:5432/db`, or `memory://` (in the process "
        "only, for experiments).",
    )
    host: str = Field("127.0.0.1", description="Address `python -m app` listens on.")
    port: int = Field(8000, ge=0, le=65535, description="Port `python -m app` listens on.")
    workers: int | None = Field(
        None,
        ge=1,
        le=MAX_WORKERS,
        description="Worker processes `python -m app` serves with, each on one event loop, "
        "behind one supervisor; 1: one process, no supervisor. By default as many as the CPUs "
        "this process may run on, and 1 with `memory://` (whose events live in one process: "
        "more than 1 is refused with it).",
    )
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        "info",
        description="`critical`, `error`, `warning`, `info` (with a line per request) or "
        "`debug`: of the service and of uvicorn.",
    )
    log_format: Literal["text", "json"] = Field(
        "text",
        description="`text`, or `json`: one JSON object per line (time, level, logger, "
        "message, and for each request its request id, method, path, route, status, "
        "duration, token name and, for appends, the positions stored).",
    )

    max_request_line_bytes: int = Field(
        16_384,
        ge=256,
        description="Longest request line (method, path with query string, HTTP version), in "
        "bytes; 414 above.",
    )
    max_header_bytes: int = Field(
        16_384,
        ge=1024,
        description="Most bytes of header fields in one request (names, values and line ends "
        "together, the request line not counted); 431 above.",
    )
    header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="How long a client has to send a request's line and headers: from the "
        "connection's start for its first request, from the first byte for the next ones. A "
        "connection that sent nothing is closed; one that sent part of a request is answered "
        "408 and closed.",
    )
    body_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="How long a client has to send a request's body once its headers are in; "
        "408 and the connection closed after.",
    )
    keep_alive_seconds: int = Field(
        5,
        ge=1,
        description="How long a connection may stay idle between two requests before it is closed.",
    )
    max_connections: int = Field(
        16_384,
        ge=1,
        description="Most connections open at once; the open-file limit (raised to its hard "
        "limit at start-up) may lower it. A new connection beyond it closes the connection idle "
        "for the longest (between requests, or still sending its first one); when every "
        "connection has a request in progress it is answered 503.",
    )
    max_body_bytes: int = Field(
        4 * 1024 * 1024,
        ge=1024,
        description="Largest request body, counted on the bytes received (chunked or not); "
        "413 above.",
    )
    max_events_per_append: int = Field(
        1000, ge=1, description="Most events in one append; 413 above."
    )
    max_read_limit: int = Field(
        1000,
        ge=1,
        description="Most events one read returns; a larger or absent `limit` is clamped to it.",
    )
    max_query_items: int = Field(100, ge=1, description="Most items in one query; 422 above.")
    max_values_per_item: int = Field(
        100, ge=1, description="Most types, and most tags, in one query item; 422 above."
    )
    snapshot_after_events: int = Field(
        100,
        ge=1,
        description="A read from a snapshot that returns this many events answers "
        "`snapshot_due: true`.",
    )
    metadata_tag_keys: list[str] = Field(
        default_factory=list,
        description="JSON list of metadata keys whose values become `key:value` tags at "
        'append, e.g. `["tenant"]`.',
    )
    append_queue_size: int = Field(
        1024,
        ge=1,
        description="Most appends waiting for the writer or being committed; beyond that, "
        "further appends wait for room (back-pressure).",
    )
    append_batch_max_requests: int = Field(
        256, ge=1, description="Most appends committed together in one transaction."
    )
    append_batch_max_events: int = Field(
        10_000,
        ge=1,
        description="Most events committed together in one transaction (an append larger "
        "than this is committed alone).",
    )
    heartbeat_seconds: float = Field(
        15.0, gt=0, description="An idle stream sends a heartbeat comment this often."
    )
    stream_max_seconds: float = Field(
        3600.0,
        gt=0,
        description="A stream ends cleanly after this long; EventSource reconnects with "
        "Last-Event-ID and goes on where it stopped.",
    )
    stream_send_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="A stream whose client accepts no data for this long is cut off (it "
        "resumes with Last-Event-ID).",
    )
    stream_buffer_events: int = Field(
        10_000,
        ge=1,
        description="Most live events buffered for one stream; one further behind catches up "
        "from the store instead.",
    )
    stream_batch_size: int = Field(
        500,
        ge=1,
        description="Events read at a time by a stream catching up from history, and by the "
        "tail reader.",
    )
    shutdown_grace_seconds: int = Field(
        5,
        ge=1,
        description="On SIGTERM, how long open requests get to finish. Streams end at once; "
        "database work not done half a second before the end is abandoned and answered 503 "
        "(an append so answered is never stored); the process exits within this plus 2 s.",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="JSON list of origins allowed to call the API from a browser, with "
        'credentials, e.g. `["https://app.example.com"]`; each `scheme://host[:port]` (a '
        "trailing `/` is dropped), never `*`. A page on another origin is logged once.",
    )
    api_tokens: dict[str, object] = Field(
        default_factory=dict,
        repr=False,
        description="JSON object, token to list of scopes (`read`, `append`, `snapshot`, "
        '`metrics`), e.g. `{"s3cret": ["read", "append"]}`; named `env#1`, `env#2`, ... in '
        "logs. With no tokens here or in the tokens file, the API is open. For development: "
        "in production use the tokens file, which holds only digests.",
    )
    api_tokens_file: Path | None = Field(
        None,
        description="File of hashed tokens, one `name sha256:<hex> scopes` line each, made "
        "with `eventstore tokens` (docs/operations.md); read at start-up, and again when "
        "it changes or on SIGHUP (a file that cannot be used keeps the tokens in use).",
    )
    api_tokens_reload_seconds: float = Field(
        2.0,
        ge=0,
        description="How often the tokens file is looked at for a change; 0: only on SIGHUP.",
    )
    metrics_public: bool = Field(
        False,
        description="Serve `/metrics` without a token; otherwise it needs scope `metrics` (when "
        "tokens are configured).",
    )
    stream_ticket_seconds: int = Field(
        300,
        ge=1,
        le=86_400,
        description="Lifetime of a stream ticket; a stream opened with one ends when it expires.",
    )
    stream_ticket_secret: SecretStr | None = Field(
        None,
        description="Key that signs stream tickets; give every replica behind one address the "
        "same one. By default each process makes a random one.",
    )
    max_streams: int = Field(
        10_000, ge=1, description="Most streams open at once, in all; 429 above."
    )
    max_streams_per_token: int = Field(
        1_000,
        ge=1,
        description="Most streams open at once with one token and its tickets; 429 above.",
    )
    append_rate_per_token: float | None = Field(
        None,
        gt=0,
        description="Appends a second one token may make on average (a token bucket); 429 "
        "above; none: no limit.",
    )
    append_burst_per_token: int = Field(
        50, ge=1, description="Appends one token may make at once before its rate applies."
    )
    sqlite_synchronous: Literal["FULL", "NORMAL", "EXTRA"] = Field(
        "FULL",
        description="SQLite's `synchronous`. `FULL`: an acknowledged append survives a power "
        "loss. `NORMAL`: faster, survives a crash of the process but may lose the last appends "
        "if the machine goes down. `EXTRA`: as FULL in WAL mode.",
    )
    sqlite_busy_timeout_ms: int = Field(
        5000,
        ge=0,
        description="How long a SQLite write waits for another process holding the write lock "
        "before answering 503.",
    )
    db_pool_size: int = Field(
        10,
        ge=1,
        description="PostgreSQL connections per pool: reads and appends use a pool of up to this "
        "many, opened as needed; the other operations a pool that keeps this many (as many again "
        "may be opened under load).",
    )
    db_pool_timeout_seconds: float = Field(
        2.0,
        gt=0,
        description="How long a request waits for a pooled PostgreSQL connection when all are in "
        "use, and for the writer lock of this process, before it is answered 503.",
    )
    db_connect_timeout_seconds: float = Field(
        5.0, gt=0, description="How long opening a PostgreSQL connection may take."
    )
    db_lock_timeout_seconds: float = Field(
        3.0,
        gt=0,
        description="PostgreSQL `lock_timeout`: the longest a statement waits for a lock (a table "
        "locked by another session, the writer lock of another replica) before it is cancelled "
        "and the request answered 503.",
    )
    db_statement_timeout_seconds: float = Field(
        5.0,
        gt=0,
        description="PostgreSQL `statement_timeout`: the longest one statement may run, waits "
        "included, before it is cancelled and the request answered 503. The driver gives up "
        "one second later on its own (a server or network that stopped answering).",
    )
    ready_timeout_seconds: float = Field(
        1.0,
        gt=0,
        le=60,
        description="/readyz answers 503 when the database does not answer within this long.",
    )

    @field_validator("workers")
    @classmethod
    def _one_process_in_memory(cls, workers: int | None, info: ValidationInfo) -> int | None:
        if workers is not None and workers > 1 and is_in_memory(info.data.get("database_url", "")):
            raise ValueError(
                "memory:// keeps the events in one process: it is served by one worker only"
            )
        return workers

    @property
    def worker_processes(self) -> int:
        """How many worker processes serve: ``workers``, or its default (see its description)."""
        if self.workers is not None:
            return self.workers
        if is_in_memory(self.database_url):
            return 1
        return min(usable_cpus(), MAX_WORKERS)

    @field_validator("cors_origins")
    @classmethod
    def _exact_origins(cls, origins: list[str]) -> list[str]:
        """Credentials are allowed cross-origin, so every origin must be named exactly, as
        browsers send it: a trailing ``/`` is dropped and scheme and host are lowercased (what
        a browser sends); a path, a query, a wildcard or another scheme is refused."""
        normalised = []
        for origin in origins:
            parts = urlsplit(origin.removesuffix("/"))
            if (
                "*" in origin
                or parts.scheme.lower() not in {"http", "https"}
                or not parts.netloc
                or parts.path
                or parts.query
                or parts.fragment
            ):
                raise ValueError(
                    f"{origin!r} is not an origin like https://app.example.com (no '*', no path)"
                )
            normalised.append(f"{parts.scheme.lower()}://{parts.netloc.lower()}")
        return normalised
