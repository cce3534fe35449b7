"""Stats: what the discovery endpoints show, read from the database directly.

The same transactions as ``GET /v1/stats``, ``/v1/event-types`` and ``/v1/tags`` (`discovery.py`),
so the tool and the service cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from app.domain import EventTypeInfo, StoreStats, TagCount
from app.storage.sql.discovery import read_event_types, read_stats, read_tags
from app.storage.sql.operations.database import reading


@dataclass(frozen=True)
class Figures:
    stats: StoreStats
    types: list[EventTypeInfo]
    tags: list[TagCount]
    more_tags: bool


def store_figures(conn: Connection, *, tag_prefix: str = "", tag_limit: int = 20) -> Figures:
    """The figures, every event type, and the first ``tag_limit`` tags by name with the prefix."""
    with reading(conn):
        stats = read_stats(conn)
        types = read_event_types(conn)
        page = read_tags(conn, prefix=tag_prefix, event_type=None, after=None, limit=tag_limit)
    return Figures(stats, types, page.tags, page.has_more)
