"""Making tokens and writing their lines to a tokens file: `python -m app.access` and
``eventstore tokens`` share these."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

TOKEN_BYTES = 32


def new_token() -> str:
    """256 random bits, URL-safe: no dictionary attack guesses it, so SHA-256 is enough."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def append_line(path: Path, line: str) -> None:
    """Append ``line``; a new file is made readable by its owner only."""
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    separator = "" if not existing or existing.endswith("\n") else "\n"
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8") as file:
        file.write(f"{separator}{line}\n")
