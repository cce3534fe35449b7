"""Snapshot policies: when a repository stores a snapshot after a load.

A policy is a function of what the load did (``Evolution``: how many events it folded, how
long sourcing took, whether the service said ``snapshot_due``) to whether a snapshot is worth
storing now. The repository asks only after a load that folded at least one event, and
stores the snapshot in the background, so the load never waits for it.

- ``every(n)``: after ``n`` events or more were folded (since the snapshot the load began
  from, if any).
- ``slower_than(seconds)``: when sourcing and folding took at least that long.
- ``when_due()``: when the service's read-with-snapshot said ``snapshot_due`` (it counts the
  events since the stored snapshot against ``EVENTSTORE_SNAPSHOT_AFTER_EVENTS``).
- ``any_of(...)``, ``all_of(...)``: combinations; ``never()``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "Evolution",
    "SnapshotPolicy",
    "all_of",
    "any_of",
    "every",
    "never",
    "slower_than",
    "when_due",
]


@dataclass(frozen=True, slots=True)
class Evolution:
    """What one load did."""

    events_applied: int
    sourcing_seconds: float
    snapshot_due: bool = False


SnapshotPolicy = Callable[[Evolution], bool]


def every(events: int) -> SnapshotPolicy:
    if events < 1:
        raise ValueError("every(n) needs n >= 1")
    return lambda evolution: evolution.events_applied >= events


def slower_than(seconds: float) -> SnapshotPolicy:
    return lambda evolution: evolution.sourcing_seconds >= seconds


def when_due() -> SnapshotPolicy:
    return lambda evolution: evolution.snapshot_due


def never() -> SnapshotPolicy:
    return lambda evolution: False


def any_of(*policies: SnapshotPolicy) -> SnapshotPolicy:
    return lambda evolution: any(policy(evolution) for policy in policies)


def all_of(*policies: SnapshotPolicy) -> SnapshotPolicy:
    return lambda evolution: all(policy(evolution) for policy in policies)
