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
    type: EventTypeName
    data: Any = Field(None, description="Any JSON value, stored and returned unchanged.")
    tags: list[Tag] = Field(
        default_factory=list,
        description="Opaque strings (convention `key:value`); duplicates "
        "are dropped, keeping the first occurrence.",
    )
    metadata: JsonObject = Field(default_factory=dict)
    id: UUID | None = Field(
        None, description="Unique across the store; the server makes one when absent."
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
    items: Annotated[list[QueryItem], at_most(_max_items, items_message)] = Field(
        default_factory=list,
        description="An event matches when it matches any item; no items match every event.",
    )


class AppendCondition(RequestModel):
    fail_if_events_match: Query
    after: BodyPosition | None = Field(
        None,
        description="Usually the `marker` of the read the decision was based on; null: "
        "fail if any matching event exists.",
    )


class AppendRequest(RequestModel):
    events: Annotated[list[EventInput], events_at_most()] = Field(min_length=1)
    condition: AppendCondition | None = None

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
    name: SnapshotNamePart
    key: SnapshotNamePart


class ReadRequest(RequestModel):
    query: Query | None = Field(None, description="Null or absent: every event.")
    after: BodyPosition = 0
    before: BodyCount | None = None
    limit: BodyCount | None = Field(
        None, description="Null or absent, or above the server's maximum: the maximum."
    )
    backwards: StrictBool = False
    snapshot: SnapshotRef | None = Field(
        None, description="Load this snapshot and read only the events after its position."
    )


class ListEventsParams(RequestModel):
    """Query parameters of ``GET /v1/events``: the ``type``s and ``tag``s form one query item."""

    types: QueryTypes = Field(default_factory=list, alias="type")
    tags: QueryTags = Field(default_factory=list, alias="tag")
    after: NonNegativeInt = 0
    before: PositiveInt | None = None
    limit: PositiveInt | None = None
    backwards: bool = False


class StreamParams(RequestModel):
    """Query parameters of ``GET /v1/events/stream``."""

    types: QueryTypes = Field(default_factory=list, alias="type")
    tags: QueryTags = Field(default_factory=list, alias="tag")
    query: str | None = Field(None, description="A JSON-encoded Query; not with type/tag.")
    after: NonNegativeInt | None = Field(
        None, description="Start after this position; default: the current head."
    )
    live: bool = Field(True, description="false: end after the events that exist now.")
    ticket: str | None = Field(
        None,
        description="A stream ticket (`POST /v1/stream-tickets`), for EventSource, which cannot "
        "send an Authorization header. The stream ends when the ticket expires.",
    )


class SnapshotPut(RequestModel):
    position: BodyPosition = Field(description="The state is folded up to this position.")
    state: Any = Field(description="Any JSON value.")
    metadata: JsonObject = Field(default_factory=dict)


# --- responses (documentation only; bodies are built by app.api.encoding) ---------------------


class AppendResponse(BaseModel):
    positions: list[int]
    last_position: int


class Event(BaseModel):
    position: int
    id: UUID
    type: str
    data: Any
    tags: list[str]
    metadata: JsonObject
    recorded_at: datetime


class Snapshot(BaseModel):
    name: str
    key: str
    position: int
    state: Any
    metadata: JsonObject
    stored_at: datetime


class ReadResponse(BaseModel):
    events: list[Event]
    marker: int = Field(
        description="Put it in `condition.after` when appending a decision based on this read."
    )
    head: int
    has_more: bool
    snapshot: Snapshot | None = Field(
        description="The snapshot the read started from; null when none was asked or stored."
    )
    snapshot_due: bool | SkipJsonSchema[None] = Field(
        None,
        description="Present only when a snapshot was asked: true when the events returned "
        "reach the server's threshold, the hint to store a fresh snapshot.",
    )


class Head(BaseModel):
    head: int


class StreamTicket(BaseModel):
    ticket: str = Field(description="Pass as `?ticket=` to `GET /v1/events/stream`.")
    expires_in: int = Field(description="Seconds until the ticket expires.")


class Problem(BaseModel):
    """An RFC 9457 problem."""

    type: str
    title: str
    status: int
    detail: str


class ValidationErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationProblem(Problem):
    errors: list[ValidationErrorItem]


class ConflictProblem(Problem):
    head: int
    conflicting_position: int
