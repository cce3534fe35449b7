"""Wire models of discovery (event types, tags, figures) and of the schemas of event types.

Request models forbid unknown fields, as every request model does (`app.api.schemas`); the
response models only document the bodies, which `app.api.encoding` builds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, PositiveInt

from app.api.schemas import EventTypeName, RequestModel, Tag


class TagsParams(RequestModel):
    """Query parameters of ``GET /v1/tags``."""

    prefix: str = Field(
        "", max_length=256, description="Only tags that start with it.", examples=["course:"]
    )
    event_type: EventTypeName | None = Field(
        None, alias="type", description="Only the tags of this type's events, counted on them."
    )
    after: Tag | None = Field(
        None, description="Only tags after this one in name order: the last tag of a page."
    )
    limit: PositiveInt | None = Field(
        None, description="Most tags to return; absent or above the server's maximum: the maximum."
    )


class EventTypeSummary(BaseModel):
    type: str = Field(description="The event type.")
    count: int = Field(description="How many events of this type are stored.")
    first_position: int = Field(description="The position of the first of them.")
    last_position: int = Field(description="The position of the last of them.")
    has_schema: bool = Field(description="A JSON Schema is registered for its data.")


class EventTypes(BaseModel):
    event_types: list[EventTypeSummary] = Field(description="Every stored type, in name order.")


class TagSummary(BaseModel):
    tag: str
    count: int = Field(description="How many events carry it (of the type asked, if any).")


class Tags(BaseModel):
    tags: list[TagSummary] = Field(description="In name order (by code point).")
    has_more: bool = Field(description="More follow: ask again with `after` = the last tag.")


class Stats(BaseModel):
    events: int = Field(description="How many events are stored.")
    head: int = Field(description="The position of the last of them.")
    first_recorded_at: datetime | None = Field(description="When the first was stored.")
    last_recorded_at: datetime | None = Field(description="When the last was stored.")
    database_bytes: int | None = Field(
        description="The size of the database, as it says itself; null in memory."
    )


class EventTypeSchema(BaseModel):
    type: str = Field(description="The event type.")
    schema_: dict[str, Any] | bool = Field(
        alias="schema", description="The JSON Schema (Draft 2020-12) of its events' data."
    )
    registered_at: datetime = Field(description="When it was registered.")
