"""Options shared by the subcommands."""

from __future__ import annotations

from typing import Annotated

import typer

from app.config import DEFAULT_DATABASE_URL

DatabaseUrl = Annotated[
    str,
    typer.Option(
        "--database-url",
        "-d",
        envvar="EVENTSTORE_DATABASE_URL",
        help="The store: sqlite:///path.db or postgresql+asyncpg://user@host/db "
        "(default: EVENTSTORE_DATABASE_URL, as the service).",
        show_default=DEFAULT_DATABASE_URL,
    ),
]
