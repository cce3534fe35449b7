"""The CPU time of a service and of every process it started (its worker processes), from /proc.

A service with several workers is a supervisor and its children: its CPU is the sum over the tree.
Each process lists its children in ``/proc/<pid>/task/<tid>/children`` (Linux); a child that has
exited is gone from the sum, so read it while the workers run (`bench/http.py` reads before and
after each wrk run).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> Iterator[int]:
    """``pid`` and every process below it."""
    yield pid
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:  # the thread or the process has gone
            continue
        for child in children:
            yield from descendants(int(child))


def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of ``pid``; 0 for a process that has gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def tree_cpu_seconds(pid: int) -> float:
    """The CPU seconds of ``pid`` and of every process below it."""
    return sum(cpu_seconds(process) for process in descendants(pid))
