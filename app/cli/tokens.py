"""``eventstore tokens``: make API tokens and the lines of the tokens file (as
``python -m app.access`` does)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from app.access.token_lines import append_line, new_token
from app.access.tokens import TokenConfigError, parse_scopes, token_line
from app.cli.failures import fail

tokens = typer.Typer(
    help="Make API tokens and the lines of the tokens file (EVENTSTORE_API_TOKENS_FILE). The "
    "service reads the file again when it changes, or on SIGHUP.",
    no_args_is_help=True,
)

Scopes = Annotated[
    str, typer.Argument(help="Comma-separated: read, append, snapshot, admin, metrics.")
]


@tokens.command()
def new(
    name: Annotated[str, typer.Argument(help="What logs and limits call the token.")],
    scopes: Scopes,
    file: Annotated[Path | None, typer.Option(help="Append the line to this tokens file.")] = None,
) -> None:
    """Make a random 256-bit token; print it once (the file keeps only its digest)."""
    try:
        line = token_line(name, token := new_token(), parse_scopes(scopes, where="scopes"))
    except TokenConfigError as error:
        fail(str(error))
    if file is not None:
        append_line(file, line)
        typer.echo(token)
    else:
        typer.echo(f"token: {token}\nline:  {line}")


@tokens.command("hash")
def hash_token(
    name: Annotated[str, typer.Argument(help="What logs and limits call the token.")],
    scopes: Scopes,
) -> None:
    """Print the line of a token read from stdin (never from the command line, where other users
    of the machine could see it)."""
    token = sys.stdin.readline().rstrip("\r\n")
    if not token:
        fail("no token on stdin")
    try:
        typer.echo(token_line(name, token, parse_scopes(scopes, where="scopes")))
    except TokenConfigError as error:
        fail(str(error))
