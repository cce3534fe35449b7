"""The wire models as domain values: the one step between what a client sent and what the
storage engine is given.

- ``X-Correlation-ID``/``X-Causation-ID`` and ``metadata_tag_keys`` are applied here
  (`to_event_input`); a derived tag obeys the tag rule of the models (`schemas.TAG`). Each of
  the two headers is at most `MAX_TRACE_ID_LENGTH` printable ASCII characters (`trace_id`):
  their value is copied into every event of the append, so without a bound a 256 KB header on
  a 45 KB body stored 250 MB in one 201.
- Payloads are serialised once here (`app.domain.dump_json`); the store keeps the text.
- Checks the models cannot make raise `invalid`: a 422 validation problem with one error.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from app import domain
from app.api.schemas import (
    MAX_TAG_LENGTH,
    TAG,
    AppendCondition,
    EventInput,
    Query,
    SnapshotPut,
)
from app.domain import dump_json


def invalid(
    loc: Sequence[str | int], msg: str, error_type: str = "value_error"
) -> RequestValidationError:
    """A 422 validation problem with one error, for checks the models cannot make."""
    return RequestValidationError([{"loc": tuple(loc), "msg": msg, "type": error_type}])


MAX_TRACE_ID_LENGTH = 255
_TRACE_ID = re.compile(rf"[\x20-\x7e]{{0,{MAX_TRACE_ID_LENGTH}}}")


def trace_id(value: str | None, header: str) -> str | None:
    """The value of the trace header ``header`` (``X-Correlation-ID``, ``X-Causation-ID``), if
    sent: at most `MAX_TRACE_ID_LENGTH` printable ASCII characters, else a 422 naming the header
    (never showing the value)."""
    if value is None or _TRACE_ID.fullmatch(value):
        return value
    raise invalid(
        ("header", header.lower()),
        f"must be at most {MAX_TRACE_ID_LENGTH} printable ASCII characters",
        "trace_id",
    )


def to_query_item(types: Sequence[str], tags: Sequence[str]) -> domain.QueryItem:
    return domain.QueryItem(types=tuple(types), tags=tuple(tags))


def query_of_parameters(types: Sequence[str], tags: Sequence[str]) -> domain.Query:
    """The query of repeatable ``type``/``tag`` parameters: one item, or every event when
    neither is given."""
    if not types and not tags:
        return domain.MATCH_ALL
    return domain.Query(items=(to_query_item(types, tags),))


def to_query(query: Query | None) -> domain.Query:
    if query is None:
        return domain.MATCH_ALL
    return domain.Query(items=tuple(to_query_item(item.types, item.tags) for item in query.items))


def to_append_condition(condition: AppendCondition | None) -> domain.AppendCondition | None:
    if condition is None:
        return None
    query = to_query(condition.fail_if_events_match)
    return domain.AppendCondition(fail_if_events_match=query, after=condition.after)


def _tag_value(value: Any) -> str | None:
    """How a metadata value is written in a derived tag: strings as they are, numbers and
    booleans as JSON writes them (``true``, ``1.5``); anything else derives no tag."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return dump_json(value)
    return None


def to_event_input(
    event: EventInput,
    *,
    index: int,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    metadata_tag_keys: Sequence[str] = (),
) -> domain.EventInput:
    """The domain event to append.

    ``correlation_id``/``causation_id`` (from the request headers) are written into the
    metadata unless the event's metadata already has them. Then each key of
    ``metadata_tag_keys`` present in the metadata with a scalar value adds the tag
    ``key:value`` after the client's tags (a tag already present is not repeated).
    """
    metadata = event.metadata
    if correlation_id is not None and "correlation_id" not in metadata:
        metadata = {**metadata, "correlation_id": correlation_id}
    if causation_id is not None and "causation_id" not in metadata:
        metadata = {**metadata, "causation_id": causation_id}
    tags = dict.fromkeys(event.tags)
    for key in metadata_tag_keys:
        value = _tag_value(metadata.get(key))
        if value is None:
            continue
        tag = f"{key}:{value}"
        try:
            TAG.validate_python(tag)
        except ValidationError as error:
            raise invalid(
                ("body", "events", index, "metadata", key),
                f"the tag {key}:<value> derived from this metadata value must be a valid tag "
                f"(at most {MAX_TAG_LENGTH} characters, without NUL)",
                "derived_tag_invalid",
            ) from error
        tags.setdefault(tag)
    return domain.EventInput(
        type=event.type,
        data=dump_json(event.data),
        tags=tuple(tags),
        metadata=dump_json(metadata),
        id=event.id,
    )


def to_snapshot_input(name: str, key: str, body: SnapshotPut) -> domain.SnapshotInput:
    return domain.SnapshotInput(
        name=name,
        key=key,
        position=body.position,
        state=dump_json(body.state),
        metadata=dump_json(body.metadata),
    )
