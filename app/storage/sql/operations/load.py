"""Import: records (`records.py`) into a store, in batches, each one transaction.

Deliberate choices:

- **Ids are kept, so an import can be run again.** Before a batch is stored, its ids are looked
  up in the target: an event already there (stored by an earlier, interrupted run of the same
  import) is skipped, provided it sits where this import puts it. So running an import again
  after it was killed stores exactly what is missing, nothing twice: the batch it was killed
  in was rolled back whole, the ones before it are skipped.
- **Positions continue the target's log, as the file says.** An event not yet stored must come
  at the target's head + 1: its own position, unless ``renumber`` is asked for, in which case
  it is given that position (and its snapshots are moved with it). A file whose positions do
  not continue the target (an export of a query, a range that starts elsewhere, a target
  that is not empty) is refused at the first such event, with nothing of its batch stored.
- **The service's rules for writing.** Each batch takes the writer lock (`database.writing`),
  draws its positions from the head it reads under it, inserts with the engine's multi-row
  statements and adds to the discovery counts in the same transaction (`discovery.py`), so
  an import into a store that a service is serving is safe: they take turns. On PostgreSQL
  each batch is announced on the replicas' channel (a NOTIFY delivered at its commit), so their
  streams deliver imported events at once rather than at their next poll.
- **Appends are kept together.** ``append`` (the first position of the event's append) is kept
  as it is, or moved with its events when renumbering; an append cut by a query or a range
  starts again at its first imported event. Idempotent retries of those appends are then
  recognised by the target as they were by the source.
- Snapshots replace older ones (as a PUT does) and must not be past the head; schemas are
  registered as they are, without checking the stored events (they came from a store that
  enforced them).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import Connection, delete, insert, select, text

from app.storage.sql.compiled import raw_insert
from app.storage.sql.discovery import count_stored
from app.storage.sql.operations.database import reading, writing
from app.storage.sql.operations.records import (
    End,
    EventRecord,
    Header,
    Record,
    SchemaRecord,
    SnapshotRecord,
)
from app.storage.sql.postgres_notify import CHANNEL
from app.storage.sql.rows import head_of
from app.storage.sql.tables import event_schemas, event_tags, events, snapshots

BATCH_SIZE = 2000
_ID_LOOKUP_CHUNK = 1000


class ImportRefused(Exception):
    """The records cannot be imported as asked; the message says why and what to do."""


@dataclass
class ImportReport:
    stored: int = 0
    skipped: int = 0
    snapshots: int = 0
    schemas: int = 0
    complete: bool = False
    head: int = 0


@dataclass
class _Renumbering:
    """Where renumbered events went: the breakpoints (source position, offset) at which the
    offset changes, and the appends as they are being rebuilt."""

    sources: list[int] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    last_append: tuple[int, int] | None = None  # (source append, its first target position)

    def moved(self, source: int, target: int) -> None:
        offset = target - source
        if not self.offsets or self.offsets[-1] != offset:
            self.sources.append(source)
            self.offsets.append(offset)

    def position_of(self, source: int) -> int | None:
        """Where a snapshot at ``source`` goes: moved like the last event at or before it."""
        index = bisect_right(self.sources, source) - 1
        return None if index < 0 else source + self.offsets[index]


def import_records(
    conn: Connection,
    records: Iterable[Record],
    *,
    renumber: bool = False,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    started: Callable[[int | None], None] | None = None,
) -> ImportReport:
    """Import ``records`` (a header first) into the store on ``conn`` (migrated already)."""
    report = ImportReport()
    renumbering = _Renumbering()
    iterator = iter(records)
    header = next(iterator, None)
    if not isinstance(header, Header):
        raise ImportRefused("the file does not start with an export header")
    if started is not None:
        started(header.events)
    batch: list[EventRecord] = []
    for record in iterator:
        if isinstance(record, EventRecord):
            batch.append(record)
            if len(batch) >= batch_size:
                _store_events(conn, batch, renumber, renumbering, report)
                if progress is not None:
                    progress(len(batch))
                batch = []
            continue
        if batch:
            _store_events(conn, batch, renumber, renumbering, report)
            if progress is not None:
                progress(len(batch))
            batch = []
        if isinstance(record, SnapshotRecord):
            _store_snapshot(conn, record, renumber, renumbering, report)
        elif isinstance(record, SchemaRecord):
            _store_schema(conn, record)
            report.schemas += 1
        elif isinstance(record, End):
            if record.events != report.stored + report.skipped:
                raise ImportRefused(
                    f"the file's end line counts {record.events} events, "
                    f"{report.stored + report.skipped} were read"
                )
            report.complete = True
        else:
            raise ImportRefused("a second header in the file")
    if batch:
        _store_events(conn, batch, renumber, renumbering, report)
        if progress is not None:
            progress(len(batch))
    with reading(conn):
        report.head = head_of(conn)
    return report


def _stored_positions(conn: Connection, ids: Sequence[UUID]) -> dict[UUID, int]:
    found: dict[UUID, int] = {}
    for start in range(0, len(ids), _ID_LOOKUP_CHUNK):
        chunk = ids[start : start + _ID_LOOKUP_CHUNK]
        statement = select(events.c.id, events.c.position).where(events.c.id.in_(chunk))
        found.update({row.id: row.position for row in conn.execute(statement)})
    return found


def _store_events(
    conn: Connection,
    batch: Sequence[EventRecord],
    renumber: bool,
    renumbering: _Renumbering,
    report: ImportReport,
) -> None:
    with writing(conn):
        head = head_of(conn)
        stored = _stored_positions(conn, [record.id for record in batch])
        event_rows: list[dict[str, Any]] = []
        tag_rows: list[dict[str, Any]] = []
        skipped = 0
        for record in batch:
            found = stored.get(record.id)
            if found is not None:
                if not renumber and found != record.position:
                    raise ImportRefused(
                        f"event {record.id} (position {record.position} in the file) is stored "
                        f"at position {found} of the target: this is not the store the import "
                        "was begun on"
                    )
                if renumber:
                    renumbering.moved(record.position, found)
                skipped += 1
                continue
            position = head + 1
            if renumber:
                renumbering.moved(record.position, position)
                append_first = _renumbered_append(renumbering, record, position)
            elif record.position != position:
                raise ImportRefused(
                    f"position {record.position} of the file does not continue the target's "
                    f"log (its head is {head}): import into an empty store, or pass --renumber "
                    "to give the events the positions after the head"
                )
            else:
                append_first = record.append if record.append <= position else position
            head = position
            event_rows.append(
                {
                    "position": position,
                    "id": record.id,
                    "type": record.type,
                    "data": record.data,
                    "tags": orjson.dumps(record.tags).decode(),
                    "metadata": record.metadata,
                    "recorded_at": record.recorded_at,
                    "append_first": append_first,
                }
            )
            tag_rows.extend({"tag": tag, "position": position} for tag in record.tags)
        if event_rows:
            raw_insert(events, conn.dialect).many(conn, event_rows)
        if tag_rows:
            raw_insert(event_tags, conn.dialect).many(conn, tag_rows)
        count_stored(conn, event_rows, tag_rows)
        if event_rows and conn.dialect.name == "postgresql":
            # Delivered at commit: the replicas' streams hear of the batch at once.
            conn.execute(
                text("SELECT pg_notify(:channel, :head)"), {"channel": CHANNEL, "head": str(head)}
            )
    report.stored += len(event_rows)
    report.skipped += skipped


def _renumbered_append(renumbering: _Renumbering, record: EventRecord, position: int) -> int:
    last = renumbering.last_append
    if last is not None and last[0] == record.append:
        return last[1]
    renumbering.last_append = (record.append, position)
    return position


def _store_snapshot(
    conn: Connection,
    record: SnapshotRecord,
    renumber: bool,
    renumbering: _Renumbering,
    report: ImportReport,
) -> None:
    position: int | None = record.position
    if renumber:
        position = renumbering.position_of(record.position)
        if position is None:
            return  # before every imported event: it folds nothing of this store
    with writing(conn):
        head = head_of(conn)
        if position is None or position > head:
            raise ImportRefused(
                f"snapshot {record.name}/{record.key} is at position {position}, past the "
                f"target's head {head}"
            )
        key = (snapshots.c.name == record.name) & (snapshots.c.key == record.key)
        current = conn.execute(select(snapshots.c.position).where(key)).scalar()
        if current is not None and current > position:
            return
        conn.execute(delete(snapshots).where(key))
        conn.execute(
            insert(snapshots).values(
                name=record.name,
                key=record.key,
                position=position,
                state=record.state,
                metadata=record.metadata,
                stored_at=record.stored_at,
            )
        )
    report.snapshots += 1


def _store_schema(conn: Connection, record: SchemaRecord) -> None:
    with writing(conn):
        conn.execute(delete(event_schemas).where(event_schemas.c.type == record.type))
        conn.execute(
            insert(event_schemas).values(
                type=record.type, schema=record.schema, registered_at=record.registered_at
            )
        )
