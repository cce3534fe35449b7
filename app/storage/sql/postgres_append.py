"""PostgreSQL append batches in one round trip: one call of ``eventstore_append_batch``.

The function (created by migration 0003) does, server-side and in one statement, what
`batch.decide_batch` does through SQLAlchemy in about seven round trips (BEGIN, the lock, the
head, the id lookup, the schemas, the conditions, two inserts, the counts, COMMIT): it takes the
writer lock, reads the head, and decides the members in queue order, each against the committed
events and the members stored before it (they are rows of its own transaction by then), then
adds what it stored to the discovery counts. Its statement runs in autocommit, so the call is
its own transaction and one round trip. Every answer is the one `decide_batch` gives; the
contract, group-commit and race suites pin that on both paths.

**Idempotency.** For each member the function looks up the ids its client gave. If any is
stored (committed, or by an earlier member of the batch), the member stores nothing and the
function returns the stored events with those ids, and whether the positions between the first
and the last of them were stored by one append and nothing else (``append_first``, as
`batch.py`'s ``is_one_append``). Python then applies `idempotency.replay_of` to them, the rule
every engine shares: a replay (the earlier positions, ``replayed``) or `EventIdReused`. Both
store nothing, so the function's further decisions do not depend on which it is. Only then does
a member's schema verdict count, then its condition: the order of `batch.py`.

**Schemas.** JSON Schemas are checked in Python (jsonschema-rs; PostgreSQL has no Draft 2020-12
validator). The runner keeps the registry as of a version (`SchemaRegistry`): every change to
``event_schemas`` bumps ``event_schema_version`` in the changing transaction (a trigger). Each
member's events are checked against the registry in hand, and the function gets the verdicts
with the registry's version. Under the writer lock it compares that version with the table's:

- equal: no registration committed since the registry was read, and none can commit before
  this batch does (registering takes the writer lock), so the verdicts are those that reading the
  schemas inside the transaction would give (`batch.py`);
- different: the function stores nothing and says so; the runner reads the registry again and
  decides the batch anew. A registry that keeps changing (more than `SCHEMA_ATTEMPTS` times in a
  row) sends the batch to `batch.decide_batch` under the writer lock, which reads the schemas in
  its transaction.

So an append is checked against the schemas registered when it commits, on every replica, as
before; a stale registry costs a second call, never a wrong answer. Checking against a schema
that is no longer registered cannot happen either: deleting one bumps the version too.

**Measured** A/B against `batch.py` through SQLAlchemy, interleaved in one run on a heavily
loaded machine, two runs (docs/performance.md, "PostgreSQL on plain asyncpg"): one-event
conditional appends over HTTP 1.40x and 1.42x at 16 connections (p99 158 -> 88 ms, 183 -> 123
ms), 1.15x and 1.42x at 64, which is 1.61x and 1.90x the `eventsourcing` peer's single appends at
16 (1.15x and 1.34x before); in process, 16 appenders at 0.17-0.19 ms of CPU per append instead
of 0.58-0.65.

**Conditions** go to the function as JSON (``eventstore_first_match``: per item, the first
position of its lead tag's index, or of each type's, past ``after``), the events as arrays of
their columns, the tags as (event, tag) arrays: asyncpg sends them in its binary format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import orjson

from app.domain import AppendCondition, AppendResult, RawJson, Violation
from app.errors import AppendConditionFailed, EventIdReused, SchemaViolation
from app.storage.event_schemas import request_violations
from app.storage.idempotency import replay_of
from app.storage.sql.batch import AppendRequest, Outcome
from app.storage.sql.postgres_reads import BIGINT_MAX
from app.storage.sql.rows import event_from_row

APPEND_BATCH = "SELECT * FROM eventstore_append_batch($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"  # noqa: E501
REGISTRY = (
    "SELECT v.version, s.type, s.schema FROM event_schema_version v "
    "LEFT JOIN event_schemas s ON true"
)
SCHEMA_ATTEMPTS = 3
"""Calls with a fresh registry before a batch is decided on the general path instead."""


@dataclass(frozen=True)
class SchemaRegistry:
    """The registered schemas (type -> schema), as of ``version`` of ``event_schema_version``."""

    version: int
    schemas: dict[str, RawJson] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[Any]]) -> SchemaRegistry:
        """From the rows of `REGISTRY` (one statement: one snapshot of both tables)."""
        return cls(
            version=int(rows[0][0]),
            schemas={row[1]: row[2] for row in rows if row[1] is not None},
        )


@dataclass
class Call:
    """The arguments of one call for a batch, and the schema violations found per member."""

    arguments: list[Any]
    violations: list[list[Violation]]


def call_for(batch: Sequence[AppendRequest], now: datetime, registry: SchemaRegistry) -> Call:
    event_ends: list[int] = []
    tag_ends: list[int] = []
    refused: list[bool] = []
    conditions: list[Any] = []
    ids: list[UUID] = []
    given: list[bool] = []
    types: list[str] = []
    data: list[str] = []
    tags: list[str] = []
    metadata: list[str] = []
    tag_events: list[int] = []
    tag_names: list[str] = []
    violations: list[list[Violation]] = []
    for request in batch:
        found = request_violations(request.events, registry.schemas)
        violations.append(found)
        refused.append(bool(found))
        conditions.append(_condition(request.condition))
        for event in request.events:
            ids.append(event.id or uuid4())
            given.append(event.id is not None)
            types.append(event.type)
            data.append(event.data)
            tags.append(orjson.dumps(event.tags).decode())
            metadata.append(event.metadata)
            index = len(ids)
            for tag in event.tags:
                tag_events.append(index)
                tag_names.append(tag)
        event_ends.append(len(ids))
        tag_ends.append(len(tag_names))
    arguments = [
        registry.version,
        now,
        event_ends,
        tag_ends,
        refused,
        orjson.dumps(conditions).decode(),
        ids,
        given,
        types,
        data,
        tags,
        metadata,
        tag_events,
        tag_names,
    ]
    return Call(arguments, violations)


def _condition(condition: AppendCondition | None) -> Any:
    if condition is None:
        return None
    return {
        "after": min(condition.after or 0, BIGINT_MAX),
        "items": [
            {"types": item.types, "tags": item.tags}
            for item in condition.fail_if_events_match.items
        ],
    }


class SchemasChanged(Exception):
    """The registry's version was not the call's: nothing was stored."""


def outcomes_of(
    batch: Sequence[AppendRequest], call: Call, rows: Sequence[Sequence[Any]]
) -> list[Outcome]:
    """One outcome per member from the function's rows; raises `SchemasChanged`."""
    if rows and rows[0][1] == "schemas":
        raise SchemasChanged
    found: dict[int, list[Sequence[Any]]] = {}
    decided: dict[int, Sequence[Any]] = {}
    for row in rows:
        if row[1] == "found":
            found.setdefault(row[0], []).append(row)
        else:
            decided[row[0]] = row
    outcomes: list[Outcome] = []
    for member, request in enumerate(batch, start=1):
        try:
            if member in found:
                outcomes.append(_replay(request, found[member]))
                continue
            _, outcome, head, value = decided[member][:4]
            if outcome == "stored":
                count = len(request.events)
                outcomes.append(AppendResult(positions=tuple(range(value, value + count))))
            elif outcome == "conflict":
                raise AppendConditionFailed(head=head, conflicting_position=value)
            elif outcome == "schema":
                raise SchemaViolation(call.violations[member - 1])
            else:
                raise RuntimeError(f"unknown outcome {outcome!r} of member {member}")
        except (AppendConditionFailed, SchemaViolation) as refused:
            outcomes.append(refused)
    return outcomes


def _replay(request: AppendRequest, rows: Sequence[Sequence[Any]]) -> Outcome:
    """A replay of an earlier append, or `EventIdReused` (`idempotency.replay_of`)."""
    # Columns 4-10 are an event's, in the order of the events table; 11 (one_append) takes the
    # place of append_first, which event_from_row skips.
    events = [event_from_row(row[4:12]) for row in rows]
    stored = {event.id: event for event in events}
    low = min(row[4] for row in rows)
    high = max(row[4] for row in rows)
    one_append = bool(rows[0][11])

    def is_one_append(first: int, last: int) -> bool:
        # replay_of asks only about consecutive positions in the request's order: low to high.
        assert (first, last) == (low, high)
        return one_append

    try:
        result = replay_of(request.events, stored, is_one_append)
    except EventIdReused as refused:
        return refused
    assert result is not None
    return result
