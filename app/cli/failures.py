"""The errors an operator can act on: one line on stderr, exit status 1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from sqlalchemy.exc import SQLAlchemyError

from app.errors import EventStoreError
from app.storage.sql.operations.backup import BackupRefused
from app.storage.sql.operations.load import ImportRefused
from app.storage.sql.operations.records import RecordError

EXPECTED: tuple[type[Exception], ...] = (
    ImportRefused,
    RecordError,
    BackupRefused,
    EventStoreError,
    SQLAlchemyError,
    OSError,
    ValueError,
)


def fail(message: str) -> NoReturn:
    typer.echo(f"eventstore: {message}", err=True)
    raise typer.Exit(1)


@contextmanager
def reported(what: str, *, cleanup: Callable[[], None] | None = None) -> Iterator[None]:
    """Turn an expected error raised inside into `fail` (after ``cleanup``)."""
    try:
        yield
    except EXPECTED as error:
        if cleanup is not None:
            cleanup()
        detail = str(getattr(error, "orig", None) or error).strip().splitlines()
        fail(f"{what}: {detail[0] if detail else type(error).__name__}")
