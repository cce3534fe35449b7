"""``eventstore backup DEST``: a consistent copy of a store while the service runs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Annotated

import typer

from app.cli.failures import fail, reported
from app.cli.options import DatabaseUrl
from app.config import DEFAULT_DATABASE_URL
from app.storage.sql.operations.backup import (
    backup_sqlite,
    pg_dump_command,
    pg_dump_path,
    pg_password,
)
from app.storage.sql.operations.database import kind_of, masked, run_on
from app.storage.sql.operations.verify import verify_store


def backup(
    destination: Annotated[Path, typer.Argument(help="The file to write (must not exist).")],
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    check: Annotated[
        bool, typer.Option(help="Verify the backup once written (as `eventstore verify`).")
    ] = True,
    run: Annotated[
        bool, typer.Option(help="PostgreSQL: run pg_dump rather than only saying how.")
    ] = False,
) -> None:
    """Back up a store while it serves. SQLite: a consistent copy (VACUUM INTO) holding every
    append acknowledged before the backup began. PostgreSQL: says the pg_dump command (and
    checks that pg_dump is installed), or runs it with --run."""
    with reported("backup"):
        kind = kind_of(database_url)
    if kind == "postgresql":
        _postgres(database_url, destination, run)
        return
    with reported(f"backup of {masked(database_url)}"):
        backup_sqlite(database_url, destination)
    typer.echo(f"backed up {masked(database_url)} to {destination}")
    if check:
        copy_url = f"sqlite:///{destination.resolve()}"
        with reported(f"verify {destination}"):
            report = run_on([copy_url], verify_store)
        if not report.passed:
            failed = ", ".join(c.name for c in report.checks if not c.passed)
            fail(f"the backup {destination} failed verification: {failed}")
        typer.echo(f"verified: head {report.head}, every check passed")


def _postgres(url: str, destination: Path, run: bool) -> None:
    command = pg_dump_command(url, destination)
    shown = " ".join(f"'{part}'" if " " in part else part for part in command)
    typer.echo(
        "PostgreSQL is backed up with pg_dump, which takes a consistent snapshot while the "
        f"service writes:\n\n  {shown}\n\nRestore into an empty database with:\n\n"
        "  pg_restore --no-owner --no-privileges --dbname=postgresql://user@host/db "
        f"{destination}\n"
    )
    if pg_dump_path() is None:
        fail(
            "pg_dump is not installed here: install the PostgreSQL client of the server's major "
            "version (Debian: apt-get install postgresql-client)"
        )
    if not run:
        typer.echo("pg_dump is installed; run the command above, or again with --run.")
        return
    env = dict(os.environ)
    password = pg_password(url)
    if password is not None:
        env["PGPASSWORD"] = password
    completed = subprocess.run(command, env=env, check=False)  # noqa: S603
    if completed.returncode != 0:
        fail(f"pg_dump exited with status {completed.returncode}")
    typer.echo(f"backed up {masked(url)} to {destination}")
