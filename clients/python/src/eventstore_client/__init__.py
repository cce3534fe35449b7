"""The Python client of the DCB event store.

    from eventstore_client import Event, EventStore, Query

    with EventStore("http://127.0.0.1:8000") as store:
        store.append(Event("CourseDefined", {"course_id": "c1", "capacity": 10}, ["course:c1"]))
        for event in store.source(Query.of(tags=["course:c1"])).events:
            ...

``EventStore`` (sync) and ``AsyncEventStore`` share the values of ``models`` and the errors of
``errors``; ``decide`` is the decision loop, ``EventSourcedRepository`` the repository with its
``snapshot_policy``, ``tags`` the tag resolvers, ``interceptors`` what runs around appends and
sources. Everything a program needs is importable from here.
"""

from eventstore_client import snapshot_policy, tags
from eventstore_client._calls import NO_RETRIES, Retries
from eventstore_client.aio import AsyncEventStore, AsyncSubscription
from eventstore_client.decision import Decision, DecisionConflict, decide, decide_async
from eventstore_client.errors import (
    AppendConditionFailed,
    BadRequest,
    EventIdReused,
    EventSchemaViolation,
    EventStoreError,
    EventStoreUnavailable,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ProblemError,
    ServerError,
    ServiceUnavailable,
    StoredEventsViolateSchema,
    TooManyRequests,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
    WriteRefused,
)
from eventstore_client.interceptors import (
    CorrelationInterceptor,
    Interceptor,
    correlation,
    handling,
)
from eventstore_client.models import (
    AppendCondition,
    AppendResult,
    Event,
    EventSchema,
    EventTypeInfo,
    Query,
    QueryItem,
    ReadResult,
    SequencedEvent,
    Snapshot,
    SnapshotRef,
    Stats,
    StreamTicket,
    TagCount,
    TagsPage,
)
from eventstore_client.repository import (
    AsyncEventSourcedRepository,
    EventSourcedRepository,
    Lifecycle,
    Loaded,
    StateModule,
)
from eventstore_client.snapshot_policy import Evolution, SnapshotPolicy
from eventstore_client.store import EventStore, Subscription

__all__ = [
    "NO_RETRIES",
    "AppendCondition",
    "AppendConditionFailed",
    "AppendResult",
    "AsyncEventSourcedRepository",
    "AsyncEventStore",
    "AsyncSubscription",
    "BadRequest",
    "CorrelationInterceptor",
    "Decision",
    "DecisionConflict",
    "Event",
    "EventIdReused",
    "EventSchema",
    "EventSchemaViolation",
    "EventSourcedRepository",
    "EventStore",
    "EventStoreError",
    "EventStoreUnavailable",
    "EventTypeInfo",
    "Evolution",
    "Forbidden",
    "Interceptor",
    "Lifecycle",
    "Loaded",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "ProblemError",
    "Query",
    "QueryItem",
    "ReadResult",
    "Retries",
    "SequencedEvent",
    "ServerError",
    "ServiceUnavailable",
    "Snapshot",
    "SnapshotPolicy",
    "SnapshotRef",
    "StateModule",
    "Stats",
    "StoredEventsViolateSchema",
    "StreamTicket",
    "Subscription",
    "TagCount",
    "TagsPage",
    "TooManyRequests",
    "Unauthorized",
    "UnsupportedMediaType",
    "ValidationFailed",
    "WriteRefused",
    "correlation",
    "decide",
    "decide_async",
    "handling",
    "snapshot_policy",
    "tags",
]
