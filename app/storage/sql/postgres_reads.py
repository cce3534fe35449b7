"""PostgreSQL reads in one statement on plain asyncpg: the head with the page of events.

`reads.py` reads the head, then the events bounded by it: on PostgreSQL two round trips through
SQLAlchemy's asyncio layer, whose greenlet switches, pool checkout and result set-up cost the
service about 1 ms of CPU per read. Here the same read is one statement, prepared once per
connection and query shape (asyncpg's statement cache), on a connection of the runner's own
asyncpg pool:

    SELECT h.head, p.* FROM (SELECT head, least(head, $cap) AS upper
                             FROM (SELECT coalesce(max(position), 0) AS head FROM events) m) h
    LEFT JOIN LATERAL (<the statement of queries.py, bounded by h.upper>) p ON true
    ORDER BY p.position

The events' statement is `queries.matching_events`'s, built and cached per query shape as it
is for SQLite, with its bound ``upper`` replaced by the head the statement itself read. One
statement sees one snapshot, and under the writer lock every position up to a head that was
read is committed, so the marker never runs ahead of what the read saw (`reads.py`). With no
matching event the statement still returns one row: the head, and NULLs.

Measured A/B against the two-statement read through SQLAlchemy, interleaved in one run on a
heavily loaded machine, two runs (docs/performance.md, "PostgreSQL on plain asyncpg"): one-tag
reads over HTTP 1.69x and 2.21x at one connection (p50 7.8 -> 4.1 ms, 7.1 -> 2.5 ms), 1.66x and
1.75x at 16; the server's CPU per read at one connection 3.05 -> 1.73 ms; in process, 1.8-2.0
-> 0.6-1.0 ms of CPU per read.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import BindParameter, Select, literal_column
from sqlalchemy.engine import make_url
from sqlalchemy.sql import visitors
from sqlalchemy.sql.compiler import SQLCompiler

from app.domain import Query, ReadResult
from app.storage.sql.queries import matching_events
from app.storage.sql.rows import event_from_row

BIGINT_MAX = 2**63 - 1
"""The largest value of a ``bigint``. Positions, limits and bounds beyond it are bound as it:
no position reaches it, so a read after it finds nothing and one before it everything, as
with the larger value (which asyncpg could not send)."""

_DIALECT = make_url("postgresql+asyncpg://").get_dialect()()


class ReadStatement:
    """The one-statement read of a query shape: its SQL and the order of its parameters."""

    def __init__(self, events_statement: Select[Any], backwards: bool) -> None:
        def bounded_by_head(
            element: visitors.ExternallyTraversible, **_: Any
        ) -> visitors.ExternallyTraversible | None:
            if isinstance(element, BindParameter) and element.key == "upper":
                return literal_column("h.upper")
            return None

        options: dict[str, Any] = {}
        bounded = visitors.replacement_traverse(events_statement, options, bounded_by_head)
        compiled = cast(Select[Any], bounded).compile(dialect=_DIALECT)
        assert isinstance(compiled, SQLCompiler)
        if compiled.positiontup is None:
            raise ValueError("asyncpg: a positional paramstyle is expected")
        self.names = tuple(dict.fromkeys(compiled.positiontup))
        cap = len(self.names) + 1
        order = "DESC" if backwards else "ASC"
        # Built from a compiled statement of queries.py: every value in it is bound.
        self.sql = (
            f"SELECT h.head, p.* FROM (SELECT m.head, least(m.head, ${cap}) AS upper "  # noqa: S608
            "FROM (SELECT coalesce(max(position), 0) AS head FROM events) AS m) AS h "
            f"LEFT JOIN LATERAL ({compiled.string}) AS p ON true ORDER BY p.position {order}"
        )

    def arguments(self, params: dict[str, Any], cap: int) -> list[Any]:
        return [*(params[name] for name in self.names), cap]


@lru_cache(maxsize=512)
def read_statement(events_statement: Select[Any], backwards: bool) -> ReadStatement:
    """The one-statement read around ``events_statement`` (a cached statement of queries.py,
    ordered last first when ``backwards``)."""
    return ReadStatement(events_statement, backwards)


def read_arguments(
    query: Query, *, after: int, before: int | None, limit: int, backwards: bool
) -> tuple[str, list[Any]]:
    """The SQL of the read and its arguments (``limit + 1`` rows asked for, to tell
    ``has_more``)."""
    events_statement, params = matching_events(
        query,
        after=min(after, BIGINT_MAX),
        upper=0,
        limit=min(limit + 1, BIGINT_MAX),
        backwards=backwards,
    )
    statement = read_statement(events_statement, backwards)
    cap = BIGINT_MAX if before is None else min(before - 1, BIGINT_MAX)
    return statement.sql, statement.arguments(params, cap)


def read_result(
    rows: Sequence[Sequence[Any]],
    *,
    after: int,
    before: int | None,
    limit: int,
    backwards: bool,
) -> ReadResult:
    """The `ReadResult` of the statement's rows: the head, then the events (none when the
    first row's position is NULL)."""
    head = int(rows[0][0]) if rows else 0
    found = [event_from_row(row[1:]) for row in rows if row[1] is not None]
    return ReadResult.of(
        found, head=head, after=after, before=before, limit=limit, backwards=backwards
    )
