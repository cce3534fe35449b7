"""Wire models of the HTTP API; `app.api.conversion` turns them into domain values.

Deliberate choices:

- Numbers and booleans of a JSON body are JSON's: ``false`` or ``"3"`` is not a position and
  ``0`` is not ``false`` (pydantic's lax mode takes all three, against the documented schema); an
  integral number such as ``3.0`` is the integer JSON Schema says it is. Query parameters arrive
  as text and are converted, so their models stay lax.
- ``type``, tags and snapshot names are documented with the pattern ``^[^\u0000]*$`` (no NUL),
  so that the document says what the validators enforce.
- Every request model forbids unknown fields (422). A typo such as ``"conditon"`` or ``"tag"`` for
  ``"tags"`` must never silently drop a condition or widen a query. The query parameters of
  ``GET /v1/events`` are a model too, for the same reason.
- ``type``, tags and snapshot names refuse NUL characters: PostgreSQL text cannot hold them, and
  no sane client means them. Snapshot names and keys refuse ``/`` too: they are segments of the
  snapshot's URL, where a ``%2F`` is decoded before routing (`app.api.routes.snapshots`).
- Tags of an event to append are deduplicated keeping the first occurrence; the order of the
  remaining tags is the client's.
- Limits that depend on the settings of one app (``max_events_per_append``, ``max_query_items``,
  ``max_values_per_item``) are checked by the models, once, before the elements of the list are
  validated (`app.api.request_limits`): a 413 for events, a 422 ``too_long`` for the rest.
- Payloads (``data``, ``metadata``, ``state``) are serialised once, when the models are converted
  to domain values (`app.api.conversion`), with `app.domain.dump_json`; the store keeps that
  text and responses embed it verbatim.
- The response models only document the responses: routes build response bodies directly with
  orjson (`app.api.encoding`) and stored events are never re-validated through pydantic.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    StrictBool,
    StringConstraints,
    TypeAdapter,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from app.api.request_limits import (
    Limits,
    at_most,
    events_at_most,
    items_message,
    values_message,
)


def _refuse_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


_NO_NUL = Field(json_schema_extra={"pattern": "^[^\\u0000]*$"})
EventTypeName = Annotated[
    str, StringConstraints(min_length=1, max_length=255), AfterValidator(_refuse_nul), _NO_NUL
]
MAX_TAG_LENGTH = 256
Tag = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_TAG_LENGTH),
    AfterValidator(_refuse_nul),
    _NO_NUL,
]
TAG: TypeAdapter[str] = TypeAdapter(Tag)
"""The tag rule, for tags the service derives itself (`app.api.conversion`)."""


def _refuse_nul_and_slash(value: str) -> str:
    if "/" in value:
        raise ValueError("must not contain '/'")
    return _refuse_nul(value)


SnapshotNamePart = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255),
    AfterValidator(_refuse_nul_and_slash),
    Field(json_schema_extra={"pattern": "^[^\\u0000/]*$"}),
]
"""A snapshot's name or key: no NUL, and no ``/``, which could not be part of its URL."""
JsonObject = dict[str, Any]

TYPE_PARAMETER = (
    "An event type; repeatable: the event's type is any of them (with tags too, and only "
    "those). Together with `tag` they form one query item; with neither, every event."
)
TAG_PARAMETER = "A tag; repeatable: the event carries every one of them."


def _max_items(limits: Limits) -> int:
    return limits.max_items


def _max_values(limits: Limits) -> int:
    return limits.max_values


QueryTypes = Annotated[list[EventTypeName], at_most(_max_values, values_message)]
QueryTags = Annotated[list[Tag], at_most(_max_values, values_message)]
"""The types and the tags of a query item: more than ``max_values_per_item`` is refused before
the values are validated (`app.api.request_limits`)."""


def _json_integer(value: Any) -> Any:
    """Refuse what JSON Schema does not call an integer (booleans, strings, 1.5) before
    pydantic's lax int conversion, which would take them."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (isinstance(value, float) and not value.is_integer())
    ):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


BodyPosition = Annotated[NonNegativeInt, BeforeValidator(_json_integer)]
"""A position in a JSON body: an integer >= 0."""
BodyCount = Annotated[PositiveInt, BeforeValidator(_json_integer)]


class RequestModel(BaseModel):
    """Base of every request model: unknown fields are an error, never ignored."""

    model_config = ConfigDict(extra="forbid")


# --- requests -------------------------------------------------------------------------------


class EventInput(RequestModel):
    """An event to append."""

    type: EventTypeName = Field(
        description="What happened, in the past tense of the domain: 1 to 255 characters, no NUL.",
        examples=["StudentSubscribed"],
    )
    data: Any = Field(
        None,
        description="Any JSON value, stored and returned unchanged (null when absent).",
        examples=[{"course_id": "c1", "student_id": "s1"}],
    )
    tags: list[Tag] = Field(
        default_factory=list,
        description="What the event is about, as opaque strings of 1 to 256 characters "
        "(convention `key:value`); queries select events by them. Duplicates are dropped, "
        "keeping the first occurrence.",
        examples=[["course:c1", "student:s1"]],
    )
    metadata: JsonObject = Field(
        default_factory=dict,
        description="A JSON object about the event rather than the domain (who, from where). "
        "X-Correlation-ID and X-Causation-ID are recorded here as `correlation_id` and "
        "`causation_id` unless present.",
    )
    id: UUID | None = Field(
        None,
        description="Unique across the store; the server makes one when absent. Give every "
        "event of an append an id to make the append safe to retry (idempotent).",
    )


class QueryItem(RequestModel):
    model_config = ConfigDict(
        # Types or tags, said as "not (no types and no tags)": a model-level anyOf would make
        # generated clients turn QueryItem into a union.
        json_schema_extra={
            "not": {"properties": {"types": {"maxItems": 0}, "tags": {"maxItems": 0}}}
        }
    )

    types: QueryTypes = Field(
        default_factory=list, description="The event's type is one of these (any when empty)."
    )
    tags: QueryTags = Field(
        default_factory=list, description="The event carries every one of these tags."
    )

    @model_validator(mode="after")
    def _types_or_tags(self) -> QueryItem:
        if not self.types and not self.tags:
            raise ValueError(
                "a query item needs types or tags; to match every event, send no items"
            )
        return self


class Query(RequestModel):
    """Which events: those matching any item; with no items, every event."""

    items: Annotated[list[QueryItem], at_most(_max_items, items_message)] = Field(
        default_factory=list,
        description="An event matches when it matches any item; no items match every event.",
    )


class AppendCondition(RequestModel):
    """Refuse the append (409) if an event matching the query was stored after ``after``."""

    fail_if_events_match: Query = Field(
        description="Usually the query of the read the decision was based on."
    )
    after: BodyPosition | None = Field(
        None,
        description="Usually the `marker` of the read the decision was based on; null or "
        "absent: fail if any matching event exists at all.",
    )


class AppendRequest(RequestModel):
    """Events to store atomically, at consecutive positions, optionally under a condition."""

    events: Annotated[list[EventInput], events_at_most()] = Field(
        min_length=1,
        description="At least one; at most the server's limit (EVENTSTORE_MAX_EVENTS_PER_APPEND, "
        "1000 by default). Stored in this order, all or none.",
    )
    condition: AppendCondition | None = Field(
        None, description="Null or absent: append whatever is stored."
    )

    @field_validator("events")
    @classmethod
    def _ids_unique_in_request(cls, events: list[EventInput]) -> list[EventInput]:
        first_index: dict[UUID, int] = {}
        for index, event in enumerate(events):
            if event.id is None:
                continue
            if event.id in first_index:
                raise ValueError(
                    f"event id {event.id} is given twice in this request "
                    f"(events {first_index[event.id]} and {index})"
                )
            first_index[event.id] = index
        return events


class SnapshotRef(RequestModel):
    """A stored snapshot, by its state's name and key."""

    name: SnapshotNamePart = Field(description="The state's name.", examples=["course-state"])
    key: SnapshotNamePart = Field(description="Whose state it is.", examples=["c1"])


class ReadRequest(RequestModel):
    """Which events to read, and how many."""

    query: Query | None = Field(None, description="Null or absent: every event.")
    after: BodyPosition = Field(
        0, description="Only events at positions above this one; page on with the `marker`."
    )
    before: BodyCount | None = Field(
        None, description="Only events at positions below this one; null or absent: no bound."
    )
    limit: BodyPosition | None = Field(
        None,
        description="Most events to return. Null or absent, or above the server's maximum: the "
        "maximum. 0 returns none: `has_more` says whether any event matches, and `marker` is "
        "then `after`.",
    )
    backwards: StrictBool = Field(
        False, description="true: the newest first (from `before`, or the head, down)."
    )
    snapshot: SnapshotRef | None = Field(
        None,
        description="Load this snapshot and read only the events after its position (or "
        "`after`, if greater); the response carries it, null when none is stored.",
    )


class ListEventsParams(RequestModel):
    """Query parameters of ``GET /v1/events``: the ``type``s and ``tag``s form one query item."""

    types: QueryTypes = Field(
        default_factory=list,
        alias="type",
        description=TYPE_PARAMETER,
        examples=[["CourseDefined", "StudentSubscribed"]],
    )
    tags: QueryTags = Field(
        default_factory=list, alias="tag", description=TAG_PARAMETER, examples=[["course:c1"]]
    )
    after: NonNegativeInt = Field(
        0, description="Only events at positions above this one; page on with the `marker`."
    )
    before: PositiveInt | None = Field(None, description="Only events at positions below this one.")
    limit: NonNegativeInt | None = Field(
        None,
        description="Most events to return; absent or above the server's maximum: the maximum. "
        "0 returns none (`has_more` says whether any match).",
    )
    backwards: bool = Field(False, description="true: the newest first.")


class StreamParams(RequestModel):
    """Query parameters of ``GET /v1/events/stream``."""

    types: QueryTypes = Field(
        default_factory=list, alias="type", description=TYPE_PARAMETER, examples=[["CourseDefined"]]
    )
    tags: QueryTags = Field(
        default_factory=list, alias="tag", description=TAG_PARAMETER, examples=[["course:c1"]]
    )
    query: str | None = Field(
        None,
        description="A JSON-encoded Query, for queries of several items; not with type/tag.",
        examples=['{"items": [{"types": ["CourseDefined"], "tags": ["course:c1"]}]}'],
    )
    after: NonNegativeInt | None = Field(
        None, description="Start after this position; default: the current head."
    )
    live: bool = Field(True, description="false: end after the events that exist now.")
    event_names: bool = Field(
        False,
        description="true: each message also names its event type (`event: CourseDefined`), "
        "for `EventSource.addEventListener(type, ...)`; named messages do not reach "
        "`onmessage`. An event whose type holds a line break is sent unnamed.",
    )
    ticket: str | None = Field(
        None,
        description="A stream ticket (`POST /v1/stream-tickets`), for EventSource, which cannot "
        "send an Authorization header. The stream ends when the ticket expires.",
    )


class SnapshotPut(RequestModel):
    """A state folded from the events up to ``position``."""

    position: BodyPosition = Field(
        description="The state is folded up to this position (at most the head).", examples=[2]
    )
    state: Any = Field(
        description="Any JSON value (null too; required).",
        examples=[{"capacity": 10, "subscribed": 1}],
    )
    metadata: JsonObject = Field(
        default_factory=dict,
        description="A JSON object about the snapshot, e.g. the version of the code that folded "
        "it, to discard snapshots an older fold wrote.",
        examples=[{"version": 1}],
    )


# --- responses (documentation only; bodies are built by app.api.encoding) ---------------------


class AppendResponse(BaseModel):
    """Where the events were stored."""

    positions: list[int] = Field(description="One per event, in order, consecutive.")
    last_position: int = Field(description="The last of them.")


class Event(BaseModel):
    """A stored event."""

    position: int = Field(description="Its place in the store's one log: 1, 2, 3, ...")
    id: UUID = Field(description="The id the client gave, or the one the server made.")
    type: str = Field(description="The event's type.")
    data: Any = Field(description="The JSON value appended, unchanged.")
    tags: list[str] = Field(description="The event's tags, in the order appended.")
    metadata: JsonObject = Field(description="The metadata appended (with the request's ids).")
    recorded_at: datetime = Field(
        description="When the server stored it: RFC 3339, UTC, microseconds."
    )


class Snapshot(BaseModel):
    """A stored snapshot."""

    name: str = Field(description="The state's name.")
    key: str = Field(description="Whose state it is.")
    position: int = Field(description="The state is folded up to this position.")
    state: Any = Field(description="The JSON value stored.")
    metadata: JsonObject = Field(description="The metadata stored with it.")
    stored_at: datetime = Field(description="When it was stored: RFC 3339, UTC.")


class ReadResponse(BaseModel):
    """A page of events, with what a decision needs."""

    events: list[Event] = Field(description="In position order (reversed when `backwards`).")
    marker: int = Field(
        description="The consistency marker: the position up to which this read saw every "
        "matching event. Put it in `condition.after` when appending a decision based on this "
        "read, and in `after` to read the next page."
    )
    head: int = Field(description="The position of the last stored event when it was read.")
    has_more: bool = Field(description="More matching events lie beyond this page.")
    snapshot: Snapshot | None = Field(
        description="The snapshot the read started from; null when none was asked or stored."
    )
    snapshot_due: bool | SkipJsonSchema[None] = Field(
        None,
        description="Present only when a snapshot was asked: true when the events returned "
        "reach the server's threshold, the hint to store a fresh snapshot.",
    )


class Head(BaseModel):
    head: int = Field(description="The position of the last stored event; 0 for an empty store.")


class StreamTicket(BaseModel):
    ticket: str = Field(description="Pass as `?ticket=` to `GET /v1/events/stream`.")
    expires_in: int = Field(description="Seconds until the ticket expires.")
