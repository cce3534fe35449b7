"""``verify``, ``stats`` and ``migrate``: look at a store, and bring its schema up to date."""

from __future__ import annotations

from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection

from app.cli.failures import reported
from app.cli.options import DatabaseUrl
from app.config import DEFAULT_DATABASE_URL
from app.storage.sql.operations.database import (
    current_revision,
    latest_revision,
    masked,
    migrate,
    run_on,
)
from app.storage.sql.operations.figures import Figures, store_figures
from app.storage.sql.operations.records import timestamp
from app.storage.sql.operations.verify import VerifyReport, verify_store


def verify(
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    quick: Annotated[
        bool, typer.Option(help="SQLite: quick_check instead of integrity_check (faster).")
    ] = False,
) -> None:
    """Check a store: positions 1..head without holes, tag rows pointing at events, unique ids,
    discovery counts, snapshots, migrations current, SQLite's integrity_check. Exits 1 with a
    report when anything is wrong."""
    where = masked(database_url)
    with reported(f"verify {where}"):
        report: VerifyReport = run_on([database_url], lambda conn: verify_store(conn, quick=quick))
    typer.echo(f"{where}: head {report.head}")
    for check in report.checks:
        typer.echo(f"  {'ok  ' if check.passed else 'FAIL'}  {check.name}")
        for problem in check.problems:
            typer.echo(f"          {problem}")
    if not report.passed:
        typer.echo("verify: the store has problems (above)", err=True)
        raise typer.Exit(1)
    typer.echo("verify: every check passed")


def stats(
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    tag_prefix: Annotated[str, typer.Option(help="Only tags starting with this.")] = "",
    tags: Annotated[int, typer.Option(min=0, help="How many tags to list, by name.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document instead.")] = False,
) -> None:
    """What the discovery endpoints show (/v1/stats, /v1/event-types, /v1/tags), read from the
    database directly."""

    def work(conn: Connection) -> Figures:
        return store_figures(conn, tag_prefix=tag_prefix, tag_limit=max(tags, 1))

    with reported(f"stats of {masked(database_url)}"):
        figures = run_on([database_url], work)
    if as_json:
        typer.echo(orjson.dumps(_as_json(figures, tags), option=orjson.OPT_INDENT_2).decode())
        return
    _print_figures(figures, tags)


def _as_json(figures: Figures, tags: int) -> dict[str, object]:
    stats = figures.stats
    return {
        "events": stats.events,
        "head": stats.head,
        "first_recorded_at": timestamp(stats.first_recorded_at)
        if stats.first_recorded_at
        else None,
        "last_recorded_at": timestamp(stats.last_recorded_at) if stats.last_recorded_at else None,
        "database_bytes": stats.database_bytes,
        "event_types": [
            {
                "type": info.type,
                "count": info.count,
                "first_position": info.first_position,
                "last_position": info.last_position,
                "has_schema": info.has_schema,
            }
            for info in figures.types
        ],
        "tags": [{"tag": t.tag, "count": t.count} for t in figures.tags[:tags]],
        "more_tags": figures.more_tags or len(figures.tags) > tags,
    }


def _print_figures(figures: Figures, tags: int) -> None:
    console = Console()
    stats = figures.stats
    console.print(
        f"events {stats.events:,}   head {stats.head:,}   "
        f"database {stats.database_bytes or 0:,} bytes",
        highlight=False,
    )
    if stats.first_recorded_at and stats.last_recorded_at:
        console.print(
            f"recorded from {timestamp(stats.first_recorded_at)} "
            f"to {timestamp(stats.last_recorded_at)}",
            highlight=False,
        )
    table = Table("type", "events", "first", "last", "schema", title="event types")
    for info in figures.types:
        table.add_row(
            info.type,
            f"{info.count:,}",
            str(info.first_position),
            str(info.last_position),
            "yes" if info.has_schema else "",
        )
    console.print(table)
    if tags:
        tag_table = Table("tag", "events", title="tags")
        for tag in figures.tags[:tags]:
            tag_table.add_row(tag.tag, f"{tag.count:,}")
        console.print(tag_table)
        if figures.more_tags or len(figures.tags) > tags:
            console.print("(more tags: --tags N, --tag-prefix P)", highlight=False)


def migrate_command(
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    status: Annotated[
        bool, typer.Option("--status", help="Only say the revision; change nothing.")
    ] = False,
) -> None:
    """Bring the schema to the latest revision (Alembic; what the service does at start-up),
    and say the current revision."""

    def work(conn: Connection) -> tuple[str | None, str | None]:
        before = current_revision(conn)
        if not status:
            migrate(conn)
        return before, current_revision(conn)

    where = masked(database_url)
    with reported(f"migrate {where}"):
        before, now = run_on([database_url], work)
    latest = latest_revision()
    if status:
        state = "current" if now == latest else f"behind: the latest is {latest}"
        typer.echo(f"{where}: revision {now or '(none)'} ({state})")
        if now != latest:
            raise typer.Exit(1)
        return
    if before == now:
        typer.echo(f"{where}: revision {now}, already the latest")
    else:
        typer.echo(f"{where}: migrated from {before or '(empty)'} to {now}")
