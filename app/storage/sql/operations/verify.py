"""Verify: the checks of a store's integrity, each a statement or a few, with a report.

What is checked (each names what it found, up to `SHOWN` examples):

- the schema is at the latest revision (the service would migrate it at start-up; a store
  migrated by a newer version is reported too);
- positions are 1..head without a hole (the count of events equals the head), and no position
  is below 1;
- event ids are unique;
- every ``event_tags`` row points at an event, and every event has a row for each of its tags
  (counted: the rows equal the sum of the events' tag counts);
- the discovery counts (``event_types``, ``tag_counts``) equal counts made from the log;
- every snapshot is at a position up to the head;
- on SQLite, ``PRAGMA integrity_check`` (``quick_check`` when asked: it skips the indexes'
  contents and is much faster on a large file).

Everything runs in one read transaction, a snapshot of the store (REPEATABLE READ on
PostgreSQL), so a service appending meanwhile is not mistaken for corruption.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, func, select, text

from app.storage.sql.operations.database import current_revision, latest_revision, reading
from app.storage.sql.rows import head_of
from app.storage.sql.tables import event_tags, event_types, events, snapshots, tag_counts

SHOWN = 10
"""Examples named per problem."""


@dataclass(frozen=True)
class Check:
    name: str
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class VerifyReport:
    head: int
    checks: list[Check]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)


def verify_store(conn: Connection, *, quick: bool = False) -> VerifyReport:
    revision = current_revision(conn)
    latest = latest_revision()
    checks = [Check("migrations current", _revision_problems(revision, latest))]
    if revision is None:
        return VerifyReport(0, checks)
    if conn.dialect.name == "postgresql":
        conn.execution_options(isolation_level="REPEATABLE READ")  # one snapshot for all checks
    with reading(conn):
        head = head_of(conn)
        checks += [
            Check("positions 1..head without holes", _holes(conn, head)),
            Check("event ids unique", _repeated_ids(conn, head)),
            Check("tag rows point at events", _dangling_tags(conn, head)),
            Check("every tag of every event has its row", _missing_tag_rows(conn, head)),
            Check("discovery counts equal the log", _count_problems(conn, head)),
            Check("snapshots within the log", _snapshots_beyond(conn, head)),
        ]
        if conn.dialect.name == "sqlite":
            checks.append(Check("SQLite integrity_check", _sqlite_integrity(conn, quick)))
    return VerifyReport(head, checks)


def _revision_problems(revision: str | None, latest: str) -> list[str]:
    if revision is None:
        return ["the store has no schema (never migrated): run `eventstore migrate`"]
    if revision != latest:
        return [f"the schema is at revision {revision}, this version's is {latest}"]
    return []


def _holes(conn: Connection, head: int) -> list[str]:
    within = events.c.position <= head
    count, lowest = conn.execute(
        select(func.count(), func.min(events.c.position)).where(within)
    ).one()
    problems = []
    if lowest is not None and lowest < 1:
        problems.append(f"positions below 1, the lowest {lowest}")
    if count != head:
        following = events.alias("following")
        missing = conn.execute(
            select(events.c.position + 1)
            .where(
                events.c.position < head,
                ~select(following.c.position)
                .where(following.c.position == events.c.position + 1)
                .exists(),
            )
            .order_by(events.c.position)
            .limit(SHOWN)
        ).scalars()
        starts = [str(position) for position in missing]
        if lowest is not None and lowest > 1:
            starts.insert(0, "1")
        problems.append(
            f"{head - count} position(s) missing below the head {head}; holes begin at "
            + ", ".join(starts[:SHOWN])
        )
    return problems


def _repeated_ids(conn: Connection, head: int) -> list[str]:
    rows = conn.execute(
        select(events.c.id, func.count())
        .where(events.c.position <= head)
        .group_by(events.c.id)
        .having(func.count() > 1)
        .limit(SHOWN)
    ).all()
    return [f"id {event_id} is stored {count} times" for event_id, count in rows]


def _dangling_tags(conn: Connection, head: int) -> list[str]:
    rows = conn.execute(
        select(event_tags.c.tag, event_tags.c.position)
        .where(
            ~select(events.c.position).where(events.c.position == event_tags.c.position).exists()
        )
        .limit(SHOWN)
    ).all()
    return [f"tag {tag!r} at position {position}: no such event" for tag, position in rows]


_CARRIED_SQLITE = (
    "SELECT coalesce(sum(json_array_length(tags)), 0) FROM events WHERE position <= :h"
)
_CARRIED_POSTGRES = (
    "SELECT coalesce(sum(json_array_length(tags::json)), 0) FROM events WHERE position <= :h"
)


def _missing_tag_rows(conn: Connection, head: int) -> list[str]:
    """The rows of ``event_tags`` against the tags the events carry, counted."""
    carried = _CARRIED_POSTGRES if conn.dialect.name == "postgresql" else _CARRIED_SQLITE
    expected = int(conn.execute(text(carried), {"h": head}).scalar_one())
    present = int(
        conn.execute(
            select(func.count())
            .select_from(event_tags.join(events, events.c.position == event_tags.c.position))
            .where(event_tags.c.position <= head)
        ).scalar_one()
    )
    if expected != present:
        return [f"the events carry {expected} tags, {present} tag rows point at them"]
    return []


def _count_problems(conn: Connection, head: int) -> list[str]:
    problems: list[str] = []
    counted = {
        name: (count, first, last)
        for name, count, first, last in conn.execute(
            select(
                events.c.type,
                func.count(),
                func.min(events.c.position),
                func.max(events.c.position),
            )
            .where(events.c.position <= head)
            .group_by(events.c.type)
        )
    }
    kept = {
        row.type: (row.event_count, row.first_position, row.last_position)
        for row in conn.execute(select(event_types))
    }
    for name in sorted(set(counted) | set(kept)):
        if counted.get(name) != kept.get(name):
            problems.append(
                f"type {name!r}: the log has (count, first, last) {counted.get(name)}, "
                f"the counts say {kept.get(name)}"
            )
    counted_rows = conn.execute(
        select(event_tags.c.tag, func.count())
        .where(event_tags.c.position <= head)
        .group_by(event_tags.c.tag)
    )
    tags_counted: dict[str, int] = dict(counted_rows.tuples().all())
    kept_rows = conn.execute(select(tag_counts.c.tag, tag_counts.c.event_count))
    tags_kept: dict[str, int] = dict(kept_rows.tuples().all())
    wrong = sorted(
        tag
        for tag in set(tags_counted) | set(tags_kept)
        if tags_counted.get(tag) != tags_kept.get(tag)
    )
    problems += [
        f"tag {tag!r}: {tags_counted.get(tag, 0)} rows, the counts say {tags_kept.get(tag, 0)}"
        for tag in wrong[:SHOWN]
    ]
    return problems[: SHOWN * 2]


def _snapshots_beyond(conn: Connection, head: int) -> list[str]:
    rows = conn.execute(
        select(snapshots.c.name, snapshots.c.key, snapshots.c.position)
        .where(snapshots.c.position > head)
        .limit(SHOWN)
    ).all()
    return [f"snapshot {name}/{key} at {position}, past the head" for name, key, position in rows]


def _sqlite_integrity(conn: Connection, quick: bool) -> list[str]:
    pragma = "quick_check" if quick else "integrity_check"
    rows = [row[0] for row in conn.exec_driver_sql(f"PRAGMA {pragma}({SHOWN})")]
    return [] if rows == ["ok"] else rows
