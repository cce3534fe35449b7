"""Progress on long work: events done, events/s, time left; silent when not on a terminal."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} events/s", style="progress.data.speed")


@dataclass
class Meter:
    """What the storage operations are handed: ``started(total)`` and ``advance(n)``."""

    progress: Progress
    task: TaskID

    def started(self, total: int | None) -> None:
        self.progress.update(self.task, total=total)

    def advance(self, count: int) -> None:
        self.progress.advance(self.task, count)


def stderr_console() -> Console:
    return Console(stderr=True)


@contextmanager
def meter(description: str) -> Iterator[Meter]:
    """A progress bar on stderr, shown only when stderr is a terminal."""
    console = stderr_console()
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
        transient=False,
    )
    with progress:
        yield Meter(progress, progress.add_task(description, total=None))
