"""Stores filled for the operations tests, and the ``eventstore`` command run as a process.

`fill_store` appends through the storage engine, as the service does (so the discovery counts
and the appends' first positions are the service's own), in appends of up to `APPEND_SIZE`
events: each event has a type of a few, two or three tags, its number in its data, metadata,
and an id; every `SNAPSHOT_EVERY` events a snapshot is stored.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

from app.config import Settings
from app.domain import EventInput, SnapshotInput, dump_json
from app.storage.factory import build_engine
from tests.support.live_server import REPO

APPEND_SIZE = 1000
SNAPSHOT_EVERY = 5000
TYPES = ("CourseDefined", "StudentSubscribed", "CourseRenamed")


def sample_event(number: int) -> EventInput:
    tags = [f"course:c{number % 97}", f"student:s{number % 1009}"]
    if number % 5 == 0:
        tags.append("flagged")
    return EventInput(
        type=TYPES[number % len(TYPES)],
        data=dump_json({"n": number, "name": f"event {number}", "ratio": number / 7}),
        tags=tuple(tags),
        metadata=dump_json({"source": "test", "batch": number // APPEND_SIZE}),
        id=uuid.UUID(int=number + 1, version=4),
    )


async def fill_store(
    url: str, count: int, *, first: int = 0, append_size: int = APPEND_SIZE
) -> None:
    """Append events number ``first`` .. ``first + count - 1`` (and their snapshots) to ``url``."""
    engine = build_engine(Settings(database_url=url))
    await engine.start()
    try:
        for start in range(first, first + count, append_size):
            numbers = range(start, min(first + count, start + append_size))
            result = await engine.append([sample_event(n) for n in numbers])
            for number, position in zip(numbers, result.positions, strict=True):
                if (number + 1) % SNAPSHOT_EVERY == 0:
                    await engine.put_snapshot(
                        SnapshotInput(
                            name="course",
                            key=f"c{number % 97}",
                            position=position,
                            state=dump_json({"seen": number}),
                            metadata=dump_json({"at": number}),
                        )
                    )
    finally:
        await engine.close()


def cli_env(**extra: str) -> dict[str, str]:
    """This environment without its ``EVENTSTORE_*`` settings, plus ``extra``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("EVENTSTORE_")}
    return {**base, "PYTHONPATH": str(REPO), **extra}


def eventstore_command(*arguments: str | Path) -> list[str]:
    return [sys.executable, "-m", "app.cli", *map(str, arguments)]


def eventstore(
    *arguments: str | Path, check: bool = True, timeout: float = 600, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``eventstore ARGUMENTS`` as a process (``python -m app.cli``); fails the test on a
    non-zero exit unless ``check`` is false."""
    ran = subprocess.run(
        eventstore_command(*arguments),
        cwd=REPO,
        env=cli_env(),
        capture_output=True,
        timeout=timeout,
        check=False,
        input=stdin,
    )
    completed = subprocess.CompletedProcess(
        ran.args, ran.returncode, ran.stdout.decode(), ran.stderr.decode()
    )
    if check and completed.returncode != 0:
        raise AssertionError(
            f"eventstore {' '.join(map(str, arguments))} exited {completed.returncode}:\n"
            f"{completed.stdout}\n{completed.stderr}"
        )
    return completed


def event_lines(export: Path) -> Sequence[bytes]:
    """The lines of an export file."""
    return export.read_bytes().splitlines()
