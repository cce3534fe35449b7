"""``export``, ``import`` and ``copy``: the store as NDJSON and back, or straight across.

Files: ``-`` is stdout (stdin); a name ending in ``.gz``, or ``--gzip``, is gzip'd (an import
recognises gzip by its first bytes). An export is written beside its destination and renamed
into place when whole, so a file of that name is always a complete export.
"""

from __future__ import annotations

import gzip
import io
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated, Any

import orjson
import typer
from sqlalchemy import Connection

from app.cli.failures import fail, reported
from app.cli.options import DatabaseUrl
from app.cli.progress import meter, stderr_console
from app.config import DEFAULT_DATABASE_URL
from app.domain import Query, QueryItem
from app.storage.sql.operations.database import masked, migrate, run_on
from app.storage.sql.operations.export import export_lines
from app.storage.sql.operations.load import BATCH_SIZE, ImportReport, import_records
from app.storage.sql.operations.records import Record, parse

GZIP_MAGIC = b"\x1f\x8b"


def query_of(query: str | None, types: list[str], tags: list[str]) -> tuple[Query | None, Any]:
    """The query of ``--query`` (the API's JSON form) or of ``--type``/``--tag`` (one item)."""
    if query is not None and (types or tags):
        fail("give --query or --type/--tag, not both")
    if query is None:
        if not types and not tags:
            return None, None
        value: Any = {"items": [{"types": types, "tags": tags}]}
    else:
        try:
            value = orjson.loads(query)
        except orjson.JSONDecodeError as error:
            fail(f"--query is not JSON: {error}")
    items = value.get("items") if isinstance(value, dict) else None
    if not isinstance(items, list):
        fail('--query must be {"items": [{"types": [...], "tags": [...]}, ...]}')
    parsed = []
    for item in items:
        if not isinstance(item, dict) or set(item) - {"types", "tags"}:
            fail("each query item has only types and tags")
        names = [item.get("types", []), item.get("tags", [])]
        if not all(isinstance(n, list) and all(isinstance(s, str) for s in n) for n in names):
            fail("types and tags are lists of strings")
        parsed.append(QueryItem(types=tuple(names[0]), tags=tuple(names[1])))
    return Query(items=tuple(parsed)), value


def export(
    destination: Annotated[
        str, typer.Argument(help="File to write, or - for stdout (.gz: gzip'd).")
    ] = "-",
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    after: Annotated[int, typer.Option(min=0, help="Only events after this position.")] = 0,
    to: Annotated[
        int | None, typer.Option(min=0, help="Only events up to this position (default: head).")
    ] = None,
    query: Annotated[
        str | None,
        typer.Option(help='Only events matching a query, the API\'s JSON: {"items": [...]}.'),
    ] = None,
    event_type: Annotated[
        list[str] | None, typer.Option("--type", help="Only events of this type (repeatable).")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option(help="Only events with this tag (repeatable: all of them).")
    ] = None,
    snapshots: Annotated[
        bool, typer.Option(help="Also the snapshots and the registered schemas.")
    ] = True,
    gzipped: Annotated[bool, typer.Option("--gzip", help="gzip the output.")] = False,
) -> None:
    """Export the events (and snapshots) as NDJSON, one record a line, in constant memory."""
    parsed, query_json = query_of(query, event_type or [], tag or [])
    target = None if destination == "-" else Path(destination)
    compress = gzipped or (target is not None and target.suffix == ".gz")
    partial = None if target is None else target.with_name(target.name + ".partial")
    if target is not None and target.exists():
        fail(f"{target} exists: an export never overwrites a file")

    def work(conn: Connection) -> int:
        with meter("export") as progress, _output(partial, compress) as out:
            written = 0
            for line in export_lines(
                conn,
                query=parsed,
                query_json=query_json,
                after=after,
                upper=to,
                include_snapshots=snapshots,
                progress=progress.advance,
                started=progress.started,
            ):
                out.write(line)
                written += 1
        return written

    def cleanup() -> None:
        if partial is not None:
            partial.unlink(missing_ok=True)

    with reported(f"export from {masked(database_url)}", cleanup=cleanup):
        run_on([database_url], work)
    if target is not None and partial is not None:
        partial.rename(target)
        stderr_console().print(f"exported to {target}", highlight=False)


class _Output:
    def __init__(self, path: Path | None, compress: bool) -> None:
        self._raw: IO[bytes] = sys.stdout.buffer if path is None else path.open("xb")
        self._stream: IO[bytes] = self._raw
        if compress:
            self._stream = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=6)  # type: ignore[assignment]
        self._buffer = io.BytesIO()

    def write(self, line: bytes) -> None:
        self._buffer.write(line)
        if self._buffer.tell() >= 1 << 20:
            self.flush()

    def flush(self) -> None:
        self._stream.write(self._buffer.getvalue())
        self._buffer = io.BytesIO()

    def close(self) -> None:
        self.flush()
        if self._stream is not self._raw:
            self._stream.close()
        self._raw.flush()
        if self._raw is not sys.stdout.buffer:
            self._raw.close()


@contextmanager
def _output(path: Path | None, compress: bool) -> Iterator[_Output]:
    out = _Output(path, compress)
    try:
        yield out
    finally:
        out.close()


def _input(source: str) -> IO[bytes]:
    """The lines of ``source`` (``-``: stdin), gunzipped when it starts as gzip does."""
    raw = sys.stdin.buffer if source == "-" else Path(source).open("rb")  # noqa: SIM115
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[type-var]
    if buffered.peek(2)[:2] == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[return-value]
    return buffered


def records_of(lines: Iterable[bytes]) -> Iterator[Record]:
    for number, raw in enumerate(lines, start=1):
        if raw.strip():
            yield parse(raw, number)


def _report(report: ImportReport, where: str) -> None:
    stderr_console().print(
        f"{where}: {report.stored} events stored, {report.skipped} already there, "
        f"{report.snapshots} snapshots, {report.schemas} schemas; head {report.head}",
        highlight=False,
    )
    if not report.complete:
        fail("the input ended before its end line: it is truncated; what it held is imported")


def import_(
    source: Annotated[str, typer.Argument(help="NDJSON export to read, or - for stdin.")] = "-",
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    renumber: Annotated[
        bool,
        typer.Option(help="Give the events the positions after the target's head."),
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Events per transaction.")] = BATCH_SIZE,
) -> None:
    """Import an export into a store, keeping event ids: run it again after an interruption and
    it stores what is missing, nothing twice. Positions must continue the target's log (an
    empty store, or the head the file starts after) unless --renumber."""

    def work(conn: Connection) -> ImportReport:
        migrate(conn)
        with meter("import") as progress, _input(source) as lines:
            return import_records(
                conn,
                records_of(lines),
                renumber=renumber,
                batch_size=batch_size,
                progress=progress.advance,
                started=progress.started,
            )

    where = masked(database_url)
    with reported(f"import into {where}"):
        report = run_on([database_url], work)
    _report(report, f"imported into {where}")


def copy(
    source_url: Annotated[str, typer.Argument(help="The store to copy from.")],
    target_url: Annotated[str, typer.Argument(help="The store to copy into.")],
    renumber: Annotated[
        bool,
        typer.Option(help="Give the events the positions after the target's head."),
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Events per transaction.")] = BATCH_SIZE,
) -> None:
    """Copy a store into another, SQLite to PostgreSQL or back, with import's guarantees
    (resumable, nothing twice, positions checked), without a file in between."""

    def work(source: Connection, target: Connection) -> ImportReport:
        migrate(target)
        with meter("copy") as progress:
            lines = export_lines(source)
            return import_records(
                target,
                records_of(lines),
                renumber=renumber,
                batch_size=batch_size,
                progress=progress.advance,
                started=progress.started,
            )

    where = f"{masked(source_url)} to {masked(target_url)}"
    with reported(f"copy from {where}"):
        report = run_on([source_url, target_url], work)
    _report(report, f"copied {where}")
