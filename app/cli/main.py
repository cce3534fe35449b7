"""The ``eventstore`` command: its subcommands, each from the module that does it."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli import backup, inspection, transfer
from app.cli.tokens import tokens

cli = typer.Typer(
    name="eventstore",
    help="Operate the DCB event store: serve it, migrate, back up, export, import, copy, "
    "verify, stats, tokens. Stores are named by URL (--database-url, or "
    "EVENTSTORE_DATABASE_URL as for the service).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address (default EVENTSTORE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default EVENTSTORE_PORT).")] = None,
) -> None:
    """Serve the API (the same as `python -m app`); every setting is an EVENTSTORE_* variable."""
    from app.__main__ import main as serve_main

    argv = [*(["--host", host] if host else []), *(["--port", str(port)] if port else [])]
    serve_main(argv)


cli.command("migrate")(inspection.migrate_command)
cli.add_typer(tokens, name="tokens")
cli.command()(backup.backup)
cli.command()(transfer.export)
cli.command("import")(transfer.import_)
cli.command()(transfer.copy)
cli.command()(inspection.verify)
cli.command()(inspection.stats)


def main() -> None:
    cli()
