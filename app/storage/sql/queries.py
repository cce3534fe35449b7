"""The SQL that finds the events matching a query, built once per query shape.

Each query item becomes a subquery over an index: over ``event_tags`` (primary key (tag,
position)) when the item has tags, joined once more per further tag and to ``events`` for its
types; over ``events(type, position)`` when it has types only. Each subquery is ordered and
limited on its own: the first ``limit`` positions of the union are among the first ``limit`` of
each item, so no item reads more than ``limit`` rows. The union is then joined to ``events``.

Building such a statement costs more than running it on a small store (measured: about 0.7 ms
for a one-tag item, against 0.3 ms for the whole read), so statements are built per *shape* (the
number of types and tags of each item, and the direction) with bound parameters, and cached.
SQLAlchemy's compiled cache then recognises them too. The builders are plain functions and the
caches wrap them by name (`_statement`, `_first_positions`), so that the mutation run, which
leaves decorated functions alone, changes them too (docs/reliability.md, "Mutation testing").
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    CompoundSelect,
    Connection,
    Select,
    and_,
    bindparam,
    func,
    literal,
    select,
    union,
    union_all,
)

from app.domain import Query
from app.storage.sql.compiled import raw
from app.storage.sql.tables import event_tags, events

CHECKS_PER_STATEMENT = 8
"""Append conditions checked together in one statement (see `first_matches`)."""

Shape = tuple[tuple[int, int], ...]
"""Per query item: how many types, how many tags."""


def matching_events(
    query: Query, *, after: int, upper: int, limit: int, backwards: bool
) -> tuple[Select[Any], dict[str, Any]]:
    """The statement selecting the first ``limit`` events matching ``query`` with
    ``after < position <= upper`` (last first when ``backwards``), and its parameters."""
    return _statement(_shape(query), backwards), _params(query, after, upper, limit)


def first_matches(
    conn: Connection, checks: Sequence[tuple[Query, int]], *, upper: int
) -> list[int | None]:
    """For each ``(query, after)`` of ``checks``: the lowest position matching ``query`` with
    ``after < position <= upper``, or None. The checks of an append batch's conditions.

    On PostgreSQL each statement is a round trip, and the writer's round trips wait behind the
    HTTP work of the same event loop; so the checks go `CHECKS_PER_STATEMENT` at a time in one
    statement per query shape (a short group is padded with empty ranges up to 1, 2, 4 or 8
    checks), executed on the DBAPI cursor (`compiled.py`). At most four cached statements
    per shape, whatever the batches.
    """
    found: list[int | None] = [None] * len(checks)
    by_shape: dict[Shape, list[int]] = {}
    for index, (query, _after) in enumerate(checks):
        by_shape.setdefault(_shape(query), []).append(index)
    for shape, indexes in by_shape.items():
        for start in range(0, len(indexes), CHECKS_PER_STATEMENT):
            group = indexes[start : start + CHECKS_PER_STATEMENT]
            slots = _slots(len(group))
            statement = raw(_first_positions(shape, slots), conn.dialect)
            params: dict[str, Any] = {}
            for slot in range(slots):
                query, after = checks[group[min(slot, len(group) - 1)]]
                if slot >= len(group):
                    after = upper  # padding: an empty range
                params.update(_params(query, after, upper, 1, prefix=f"m{slot}_"))
            for slot, first in statement.rows(conn, params):
                if slot < len(group) and first is not None:
                    found[group[slot]] = int(first)
    return found


def _shape(query: Query) -> Shape:
    return tuple((len(item.types), len(item.tags)) for item in query.items)


def _params(query: Query, after: int, upper: int, limit: int, prefix: str = "") -> dict[str, Any]:
    params: dict[str, Any] = {f"{prefix}after": after, "upper": upper, "limit": limit}
    for i, item in enumerate(query.items):
        params.update({f"{prefix}type_{i}_{k}": value for k, value in enumerate(item.types)})
        params.update({f"{prefix}tag_{i}_{k}": value for k, value in enumerate(item.tags)})
    return params


def _item_positions(
    i: int, types: int, tags: int, backwards: bool, prefix: str = ""
) -> Select[Any]:
    """Positions of the events matching item ``i`` in the range, the first ``limit``. Bound
    parameters and aliases of the item carry ``prefix``, except the shared upper bound and limit."""
    type_values: list[BindParameter[Any]] = [
        bindparam(f"{prefix}type_{i}_{k}") for k in range(types)
    ]
    if tags:
        lead = event_tags.alias(f"{prefix}tag_{i}_0")
        column = lead.c.position
        stmt = select(column.label("position")).where(
            lead.c.tag == bindparam(f"{prefix}tag_{i}_0"),
            column > bindparam(f"{prefix}after"),
            column <= bindparam("upper"),
        )
        for k in range(1, tags):
            other = event_tags.alias(f"{prefix}tag_{i}_{k}")
            stmt = stmt.join(
                other,
                and_(other.c.position == column, other.c.tag == bindparam(f"{prefix}tag_{i}_{k}")),
            )
        if types:
            typed = events.alias(f"{prefix}typed_{i}")
            stmt = stmt.join(typed, typed.c.position == column).where(typed.c.type.in_(type_values))
    else:
        typed = events.alias(f"{prefix}typed_{i}") if prefix else events
        column = typed.c.position
        stmt = select(column.label("position")).where(
            typed.c.type.in_(type_values),
            column > bindparam(f"{prefix}after"),
            column <= bindparam("upper"),
        )
    return stmt.order_by(column.desc() if backwards else column).limit(bindparam("limit"))


def _first_position(shape: Shape, prefix: str = "") -> Select[Any]:
    """The lowest position matching a query of ``shape``: NULL when there is none."""
    if not shape:
        every = events.alias(f"{prefix}every")
        column = every.c.position
        return select(func.min(column)).where(
            column > bindparam(f"{prefix}after"), column <= bindparam("upper")
        )
    per_item = [
        _item_positions(i, types, tags, False, prefix) for i, (types, tags) in enumerate(shape)
    ]
    if len(per_item) == 1:
        firsts = per_item[0].subquery(f"{prefix}first")
    else:
        firsts = union_all(*(select(part.subquery().c.position) for part in per_item)).subquery(
            f"{prefix}first"
        )
    return select(func.min(firsts.c.position))


def _build_first_positions(shape: Shape, slots: int) -> Select[Any] | CompoundSelect[Any]:
    """``slots`` first-match checks of one shape in one statement, one row each: its slot and
    its first position."""
    checks = [
        select(
            literal(slot).label("slot"),
            _first_position(shape, f"m{slot}_").scalar_subquery().label("first"),
        )
        for slot in range(slots)
    ]
    return checks[0] if slots == 1 else union_all(*checks)


_first_positions = lru_cache(maxsize=512)(_build_first_positions)


def _slots(checks: int) -> int:
    """Statements come in 1, 2, 4 and 8 slots: few statements per shape, little padding (an
    empty check costs about as much as a real one)."""
    slots = 1
    while slots < checks:
        slots *= 2
    return min(slots, CHECKS_PER_STATEMENT)


def _build_statement(shape: Shape, backwards: bool) -> Select[Any]:
    """The statement of `matching_events` for queries of ``shape``."""
    order = events.c.position.desc() if backwards else events.c.position
    if not shape:
        return (
            select(events)
            .where(events.c.position > bindparam("after"), events.c.position <= bindparam("upper"))
            .order_by(order)
            .limit(bindparam("limit"))
        )
    per_item = [_item_positions(i, types, tags, backwards) for i, (types, tags) in enumerate(shape)]
    if len(per_item) == 1:
        positions = per_item[0].subquery("matched")
    else:
        positions = union(*(select(part.subquery().c.position) for part in per_item)).subquery(
            "matched"
        )
    return (
        select(events)
        .join(positions, positions.c.position == events.c.position)
        .order_by(order)
        .limit(bindparam("limit"))
    )


_statement = lru_cache(maxsize=512)(_build_statement)
