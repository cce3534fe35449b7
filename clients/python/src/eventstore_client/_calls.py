"""Every operation of the HTTP API as a ``Call``: the request to send and how to read its
answer, with no I/O. The sync and the async store each send calls their own way (one loop of
retries each) and share everything else here, so the two cannot drift apart.

Choices:
- ``safe``: whether the call may be sent again after a failure that leaves unknown whether the
  service acted on it (a timeout, a reset connection). Reads, snapshots, schemas and appends
  whose events all carry ids are safe (the service replays an append it stored before); an
  append sent with ``idempotent=False`` is not, and is retried only when it surely was not
  received (the connection could not be opened) or was refused (503 and 429 store nothing).
- Names, keys and types are percent-encoded into the path; a type may hold ``/`` (the service
  takes everything between ``/v1/event-types/`` and ``/schema``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from eventstore_client.errors import problem_error
from eventstore_client.models import (
    AppendCondition,
    AppendResult,
    Event,
    EventSchema,
    EventTypeInfo,
    Query,
    ReadResult,
    Snapshot,
    SnapshotRef,
    Stats,
    StreamTicket,
    TagCount,
    TagsPage,
)

T = TypeVar("T")

RETRY_STATUSES = frozenset({429, 502, 503, 504})
"""Answers that say the request was not acted on, and to try again later."""


@dataclass(frozen=True, slots=True)
class Retries:
    """How often, and how patiently, a store sends a request again: at most ``attempts`` tries
    in all, waiting ``backoff * 2**n`` seconds (at most ``max_backoff``, or the service's
    ``Retry-After`` when longer, up to ``max_backoff``) with full jitter in between."""

    attempts: int = 4
    backoff: float = 0.05
    max_backoff: float = 2.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        ceiling = min(self.max_backoff, self.backoff * 2.0**attempt)
        if retry_after is not None:
            return min(self.max_backoff, max(retry_after, ceiling))
        jittered: float = random.uniform(ceiling / 2, ceiling)  # noqa: S311 - not secrecy
        return jittered


NO_RETRIES = Retries(attempts=1)


def not_sent(error: httpx.TransportError) -> bool:
    """Whether the request surely did not reach the service."""
    return isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def error_for(response: httpx.Response) -> Exception:
    return problem_error(response.status_code, _json(response), response.headers)


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    json: Any = None
    params: list[tuple[str, str | int | float | bool | None]] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    ok: frozenset[int] = frozenset({200})
    safe: bool = True

    def result(self, response: httpx.Response) -> T:
        if response.status_code not in self.ok:
            raise error_for(response)
        return self.parse(response)


def _segment(value: str) -> str:
    return quote(value, safe="")


def _none(_: httpx.Response) -> None:
    return None


def prepare_events(events: Event | Sequence[Event], *, idempotent: bool) -> list[Event]:
    listed = [events] if isinstance(events, Event) else list(events)
    if not listed:
        raise ValueError("an append needs at least one event")
    return [event.with_id() for event in listed] if idempotent else listed


def append(
    events: Sequence[Event],
    condition: AppendCondition | None,
    *,
    headers: Mapping[str, str] | None = None,
) -> Call[AppendResult]:
    body: dict[str, Any] = {"events": [event.to_wire() for event in events]}
    if condition is not None:
        body["condition"] = condition.to_wire()

    def parse(response: httpx.Response) -> AppendResult:
        replayed = response.headers.get("idempotent-replayed", "").lower() == "true"
        return AppendResult.from_wire(response.json(), replayed=replayed)

    return Call(
        "POST",
        "/v1/events",
        parse,
        json=body,
        headers=dict(headers or {}),
        ok=frozenset({200, 201}),
        safe=all(event.id is not None for event in events),
    )


def snapshot_ref(snapshot: SnapshotRef | tuple[str, str] | None) -> SnapshotRef | None:
    if snapshot is None or isinstance(snapshot, SnapshotRef):
        return snapshot
    return SnapshotRef(*snapshot)


def read(
    query: Query | None,
    *,
    after: int = 0,
    before: int | None = None,
    limit: int | None = None,
    backwards: bool = False,
    snapshot: SnapshotRef | None = None,
) -> Call[ReadResult]:
    body: dict[str, Any] = {"after": after}
    if query is not None:
        body["query"] = query.to_wire()
    if before is not None:
        body["before"] = before
    if limit is not None:
        body["limit"] = limit
    if backwards:
        body["backwards"] = True
    if snapshot is not None:
        body["snapshot"] = snapshot.to_wire()
    return Call("POST", "/v1/events/query", lambda r: ReadResult.from_wire(r.json()), json=body)


def head() -> Call[int]:
    return Call("GET", "/v1/head", lambda r: int(r.json()["head"]))


def ready() -> Call[bool]:
    return Call("GET", "/readyz", lambda r: r.status_code == 200, ok=frozenset({200, 503}))


def _snapshot_path(name: str, key: str) -> str:
    return f"/v1/snapshots/{_segment(name)}/{_segment(key)}"


def put_snapshot(
    name: str, key: str, position: int, state: Any, metadata: Mapping[str, Any] | None
) -> Call[Snapshot]:
    body = {"position": position, "state": state, "metadata": dict(metadata or {})}
    return Call("PUT", _snapshot_path(name, key), lambda r: Snapshot.from_wire(r.json()), json=body)


def get_snapshot(name: str, key: str) -> Call[Snapshot | None]:
    def parse(response: httpx.Response) -> Snapshot | None:
        return None if response.status_code == 404 else Snapshot.from_wire(response.json())

    return Call("GET", _snapshot_path(name, key), parse, ok=frozenset({200, 404}))


def delete_snapshot(name: str, key: str) -> Call[None]:
    return Call("DELETE", _snapshot_path(name, key), _none, ok=frozenset({204}))


def stream_ticket() -> Call[StreamTicket]:
    def parse(response: httpx.Response) -> StreamTicket:
        wire = response.json()
        return StreamTicket(str(wire["ticket"]), int(wire["expires_in"]))

    return Call("POST", "/v1/stream-tickets", parse)


def event_types() -> Call[list[EventTypeInfo]]:
    def parse(response: httpx.Response) -> list[EventTypeInfo]:
        return [EventTypeInfo(**item) for item in response.json()["event_types"]]

    return Call("GET", "/v1/event-types", parse)


def tags(
    *, prefix: str | None, event_type: str | None, after: str | None, limit: int | None
) -> Call[TagsPage]:
    given = {"prefix": prefix, "type": event_type, "after": after, "limit": limit}
    params: list[tuple[str, str | int | float | bool | None]] = [
        (name, str(value)) for name, value in given.items() if value is not None
    ]

    def parse(response: httpx.Response) -> TagsPage:
        wire = response.json()
        return TagsPage(tuple(TagCount(**t) for t in wire["tags"]), bool(wire["has_more"]))

    return Call("GET", "/v1/tags", parse, params=params)


def stats() -> Call[Stats]:
    return Call("GET", "/v1/stats", lambda r: Stats.from_wire(r.json()))


def _schema_path(event_type: str) -> str:
    return f"/v1/event-types/{quote(event_type, safe='/')}/schema"


def put_schema(event_type: str, schema: Any, *, check_stored: bool) -> Call[EventSchema]:
    params: list[tuple[str, str | int | float | bool | None]] | None = (
        None if check_stored else [("check_stored", "false")]
    )
    return Call(
        "PUT",
        _schema_path(event_type),
        lambda r: EventSchema.from_wire(r.json()),
        json=schema,
        params=params,
    )


def get_schema(event_type: str) -> Call[EventSchema | None]:
    def parse(response: httpx.Response) -> EventSchema | None:
        return None if response.status_code == 404 else EventSchema.from_wire(response.json())

    return Call("GET", _schema_path(event_type), parse, ok=frozenset({200, 404}))


def delete_schema(event_type: str) -> Call[None]:
    return Call("DELETE", _schema_path(event_type), _none, ok=frozenset({204}))


def stream_params(
    query: Query | None, after: int, *, live: bool
) -> list[tuple[str, str | int | float | bool | None]]:
    params: list[tuple[str, str | int | float | bool | None]] = [("after", str(after))]
    if query is not None and query.items:
        params.append(("query", query.to_json()))
    if not live:
        params.append(("live", "false"))
    return params


def client_headers(token: str | None, headers: Mapping[str, str] | None) -> dict[str, str]:
    merged = {"Accept": "application/json", **dict(headers or {})}
    if token is not None:
        merged["Authorization"] = f"Bearer {token}"
    return merged
