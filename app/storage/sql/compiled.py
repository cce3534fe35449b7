"""Statements compiled once per dialect and run on the DBAPI cursor: the SQL engine's hot paths.

`Connection.execute` costs about 50 µs of Python per statement (events, parameter processing,
result set-up), ten times what SQLite takes for an indexed lookup. The statements run per read
and per conditional append (the head, a read's events, a condition's first match) therefore
skip it: each is still a SQLAlchemy Core construct, compiled once per dialect, then executed on
the connection's DBAPI cursor with its parameters in the compiled order, and its rows passed
through the column types' own result processors (on SQLite, UUIDs and timestamps are text).
Measured on SQLite, the transaction of a one-tag read of ten events took 0.40 ms through
`execute`, 0.27 ms this way, 0.19 ms with BEGIN also sent on the driver (`sqlite.py`).

A driver error is raised as SQLAlchemy's (`DBAPIError.instance`, as `execute` does), and a
connection the dialect sees as disconnected is invalidated, so that the pool drops it.

Queries here bind plain strings and integers, which need no processing on either database. The
batch inserts (`RawInsert`) pass each value through its column type's bind processor, as
`execute` would (UUIDs and timestamps are text on SQLite).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import CompoundSelect, Connection, Dialect, Insert, Select, Table, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any] | None
T = TypeVar("T")


class RawStatement:
    """``statement`` compiled for ``dialect``, ready to run on a DBAPI cursor."""

    def __init__(self, statement: Select[Any] | CompoundSelect[Any], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        if compiled.positiontup is None:
            raise ValueError(f"{dialect.name}: a positional paramstyle is expected")
        self._compiled = compiled
        self._sql = compiled.string
        self._names = tuple(compiled.positiontup)
        processors: list[Processor] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        ]
        self._processors = processors if any(processors) else None

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> Sequence[Sequence[Any]]:
        values = self._compiled.construct_params(dict(params)) or {}
        positional = [values[name] for name in self._names]

        def fetch(cursor: Any) -> Sequence[Sequence[Any]]:
            cursor.execute(self._sql, positional)
            fetched: Sequence[Sequence[Any]] = cursor.fetchall()
            return fetched

        rows = _on_cursor(conn, self._sql, positional, fetch)
        processors = self._processors
        if processors is None:
            return rows
        return [
            [value if p is None else p(value) for p, value in zip(processors, row, strict=True)]
            for row in rows
        ]

    def scalar(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        rows = self.rows(conn, params)
        return rows[0][0] if rows else None


class RawInsert:
    """A multi-row ``INSERT`` of every column of ``table`` (``statement``, by default a plain
    insert), compiled for ``dialect``, whose values go through the column types' bind
    processors (UUIDs and timestamps become text on SQLite), then to the cursor's
    ``executemany``."""

    def __init__(self, table: Table, dialect: Dialect, statement: Insert | None = None) -> None:
        columns = {column.key: column for column in table.columns}
        statement = insert(table) if statement is None else statement
        compiled = statement.compile(dialect=dialect, column_keys=list(columns))
        assert isinstance(compiled, SQLCompiler)
        if compiled.positiontup is None:
            raise ValueError(f"{dialect.name}: a positional paramstyle is expected")
        self._sql = compiled.string
        self._binds: list[tuple[str, Processor]] = [
            (name, columns[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in compiled.positiontup
        ]

    def many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        positional = [
            [row[name] if p is None else p(row[name]) for name, p in self._binds] for row in rows
        ]
        _on_cursor(
            conn, self._sql, positional, lambda cursor: cursor.executemany(self._sql, positional)
        )


def _on_cursor(conn: Connection, sql: str, params: Sequence[Any], work: Callable[[Any], T]) -> T:
    """``work(cursor)`` on a cursor of ``conn``'s DBAPI connection; a driver error is raised as
    SQLAlchemy's, and a connection that is gone is invalidated, as `Connection.execute` does."""
    dialect = conn.dialect
    dbapi_connection = conn.connection.dbapi_connection
    cursor = conn.connection.cursor()
    try:
        return work(cursor)
    except dialect.loaded_dbapi.Error as error:
        disconnected = dialect.is_disconnect(error, dbapi_connection, cursor)
        if disconnected:
            conn.invalidate(error)
        raise DBAPIError.instance(
            sql,
            list(params),
            error,
            dialect.loaded_dbapi.Error,
            connection_invalidated=disconnected,
            dialect=dialect,
        ) from error
    finally:
        cursor.close()


@lru_cache(maxsize=1024)
def raw(statement: Select[Any] | CompoundSelect[Any], dialect: Dialect) -> RawStatement:
    """The compiled form of ``statement`` (a cached, shared construct) for ``dialect``."""
    return RawStatement(statement, dialect)


@lru_cache(maxsize=16)
def raw_insert(table: Table, dialect: Dialect) -> RawInsert:
    """The compiled multi-row insert into ``table`` for ``dialect``."""
    return RawInsert(table, dialect)


@lru_cache(maxsize=16)
def raw_count_upsert(table: Table, dialect: Dialect) -> RawInsert:
    """The compiled multi-row insert into a counter table (`tables.py`) whose rows, when their
    key is there already, add their ``event_count`` to it and take their ``last_position``."""
    upsert: sqlite.Insert | postgresql.Insert = (
        postgresql.insert(table) if dialect.name == "postgresql" else sqlite.insert(table)
    )
    added = {"event_count": table.c.event_count + upsert.excluded.event_count}
    if "last_position" in table.c:
        added["last_position"] = upsert.excluded.last_position
    key = list(table.primary_key.columns)
    statement = upsert.on_conflict_do_update(index_elements=key, set_=added)
    return RawInsert(table, dialect, statement)
