"""Every operation of the API through ``EventStore`` and ``AsyncEventStore`` against real
service processes on every engine: positions, pages and markers, snapshots, discovery, schemas,
tickets; each problem raised as its own error carrying its body; appends idempotent by default
and retried, with a bound, when the answer was lost or the service said 503.

Lost answers and 503s are made by an httpx transport around the real one (`Flaky`): the request
reaches the real service, and the client is told it failed.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from eventstore_client import (
    AppendCondition,
    AppendConditionFailed,
    AsyncEventStore,
    Event,
    EventIdReused,
    EventSchemaViolation,
    EventStore,
    EventStoreUnavailable,
    Forbidden,
    Query,
    Retries,
    ServiceUnavailable,
    StoredEventsViolateSchema,
    Unauthorized,
    ValidationFailed,
)
from tests.support.live_server import free_port, live_server, settings_env

FAST = Retries(attempts=4, backoff=0.001, max_backoff=0.01)


class Flaky(httpx.HTTPTransport):
    """The real transport, but the first ``lose`` answers to ``path`` are lost after the
    service answered (a read timeout), and the first ``busy`` requests are answered 503
    without reaching it."""

    def __init__(self, path: str = "/v1/events", *, lose: int = 0, busy: int = 0) -> None:
        super().__init__()
        self.path, self.lose, self.busy = path, lose, busy
        self.sent = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != self.path:
            return super().handle_request(request)
        self.sent += 1
        if self.busy:
            self.busy -= 1
            problem = {"type": "about:blank", "title": "Service Unavailable", "status": 503}
            return httpx.Response(503, json=problem, headers={"Retry-After": "0"})
        response = super().handle_request(request)
        if self.lose:
            self.lose -= 1
            response.read()
            response.close()
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response


@contextmanager
def flaky_store(base_url: str, transport: Flaky) -> Iterator[EventStore]:
    """A store over ``transport``; a client given to a store is its owner's to close."""
    with httpx.Client(base_url=base_url, transport=transport, timeout=10) as client:
        yield EventStore(client=client, retries=FAST)


def tagged(store: EventStore, tag: str) -> list[str]:
    return [event.type for event in store.source(Query.of(tags=[tag])).events]


# -- appends and reads ---------------------------------------------------------------------------


def test_append_returns_the_positions_in_order(store: EventStore, unique: str) -> None:
    head = store.head()
    result = store.append([Event("A", {"n": 1}, [unique]), Event("B", None, [unique])])
    assert result.positions == (head + 1, head + 2)
    assert result.last_position == head + 2
    assert not result.replayed
    [a, b] = store.source(Query.of(tags=[unique])).events
    assert (a.type, a.data, a.tags, b.type) == ("A", {"n": 1}, (unique,), "B")
    assert a.id != b.id  # each was given an id of its own


def test_read_one_page_and_source_every_page(store: EventStore, unique: str) -> None:
    store.append([Event("E", {"i": i}, [unique]) for i in range(5)])
    query = Query.of(tags=[unique])

    page = store.read(query, limit=2)
    whole = store.source(query, page_size=2)
    newest = store.read(query, limit=1, backwards=True)

    assert [e.data["i"] for e in page.events] == [0, 1]
    assert page.has_more
    assert page.marker == page.events[-1].position
    assert [e.data["i"] for e in whole.events] == [0, 1, 2, 3, 4]
    assert not whole.has_more
    assert whole.marker == whole.head >= whole.events[-1].position
    assert [e.data["i"] for e in newest.events] == [4]


def test_the_marker_of_a_source_is_the_condition_of_the_next_append(
    store: EventStore, unique: str
) -> None:
    query = Query.of(types=["Seat"], tags=[unique])
    first = store.append(Event("Seat", None, [unique]))
    sourced = store.source(query)
    store.append(Event("Seat", None, [unique]))  # someone else decides first

    with pytest.raises(AppendConditionFailed) as refused:
        store.append(Event("Seat", None, [unique]), AppendCondition(query, sourced.marker))

    assert refused.value.status == 409
    assert refused.value.conflicting_position == first.last_position + 1
    assert refused.value.head >= refused.value.conflicting_position
    assert refused.value.problem["type"] == "/problems/append-condition-failed"
    assert tagged(store, unique) == ["Seat", "Seat"]


def test_query_items_combine_with_or(store: EventStore, unique: str) -> None:
    store.append(
        [
            Event("A", None, [f"{unique}:x"]),
            Event("B", None, [f"{unique}:y"]),
            Event("C", None, [f"{unique}:x"]),
        ]
    )
    query = Query.of(types=["A"], tags=[f"{unique}:x"]) | Query.of(tags=[f"{unique}:y"])
    assert [e.type for e in store.source(query).events] == ["A", "B"]


def test_problems_are_typed_and_carry_their_body(store: EventStore, unique: str) -> None:
    taken = str(uuid.uuid4())
    store.append(Event("Original", None, [unique], id=taken))

    with pytest.raises(EventIdReused) as reused:
        store.append(Event("Another", None, [unique], id=taken))
    with pytest.raises(ValidationFailed) as invalid:
        store.append(Event("", None, [unique]))

    assert reused.value.status == 422
    assert reused.value.problem["type"] == "/problems/event-id-reused"
    assert invalid.value.errors[0]["loc"][:3] == ["body", "events", 0]


def test_schemas_refuse_appends_and_stored_events(store: EventStore, unique: str) -> None:
    kind = f"Book{unique}"
    store.append(Event(kind, {"title": "no isbn"}, [unique]))
    schema = {"type": "object", "required": ["isbn"]}

    with pytest.raises(StoredEventsViolateSchema) as stored:
        store.put_schema(kind, schema)
    registered = store.put_schema(kind, schema, check_stored=False)
    with pytest.raises(EventSchemaViolation) as violation:
        store.append(Event(kind, {"title": "still none"}, [unique]))
    fetched = store.get_schema(kind)
    store.delete_schema(kind)

    assert stored.value.violations[0]["position"] > 0
    assert registered.schema == schema
    assert violation.value.violations[0]["event"] == 0
    assert fetched is not None
    assert fetched.type == kind
    assert store.get_schema(kind) is None


def test_snapshots_and_reads_from_them(store: EventStore, unique: str) -> None:
    first = store.append(Event("Step", 1, [unique]))
    store.append(Event("Step", 2, [unique]))

    stored = store.put_snapshot("steps", unique, first.last_position, {"sum": 1}, {"v": 1})
    fetched = store.get_snapshot("steps", unique)
    read = store.read(Query.of(tags=[unique]), snapshot=("steps", unique))
    store.delete_snapshot("steps", unique)

    assert stored.position == first.last_position
    assert fetched == stored
    assert read.snapshot == stored
    assert [e.data for e in read.events] == [2]
    assert store.get_snapshot("steps", unique) is None


def test_head_discovery_tickets_and_readiness(store: EventStore, unique: str) -> None:
    kind = f"Counted{unique}"
    appended = store.append([Event(kind, None, [f"{unique}:a"]), Event(kind, None, [])])

    types = {info.type: info for info in store.event_types()}
    tags = store.tags(prefix=unique)
    stats = store.stats()
    ticket = store.stream_ticket()

    assert store.head() >= appended.last_position
    assert (types[kind].count, types[kind].last_position) == (2, appended.last_position)
    assert [(t.tag, t.count) for t in tags.tags] == [(f"{unique}:a", 1)]
    assert stats.head >= appended.last_position
    assert ticket.ticket
    assert ticket.expires_in > 0
    assert store.ready()


# -- idempotency and retries ---------------------------------------------------------------------


def test_an_append_whose_answer_was_lost_is_replayed_not_stored_twice(
    base_url: str, unique: str
) -> None:
    transport = Flaky(lose=1)
    with flaky_store(base_url, transport) as store:
        result = store.append(Event("Once", None, [unique]))
        stored = tagged(store, unique)

    assert transport.sent == 2
    assert result.replayed
    assert stored == ["Once"]


def test_without_ids_a_lost_answer_is_not_retried(base_url: str, unique: str) -> None:
    transport = Flaky(lose=1)
    with flaky_store(base_url, transport) as store:
        with pytest.raises(EventStoreUnavailable):
            store.append(Event("Once", None, [unique]), idempotent=False)
        stored = tagged(store, unique)

    assert transport.sent == 1
    assert stored == ["Once"]


def test_a_503_is_retried_with_a_bound(base_url: str, unique: str) -> None:
    transport = Flaky(busy=2)
    with flaky_store(base_url, transport) as store:
        store.append(Event("AfterBusy", None, [unique]))
        transport.busy = 100
        with pytest.raises(ServiceUnavailable) as busy:
            store.append(Event("Never", None, [unique]))
        stored = tagged(store, unique)

    assert transport.sent == 3 + FAST.attempts
    assert busy.value.retry_after == 0
    assert stored == ["AfterBusy"]


def test_no_service_is_unavailable_after_the_retries() -> None:
    address = f"http://127.0.0.1:{free_port()}"
    store = EventStore(address, retries=FAST)
    with store, pytest.raises(EventStoreUnavailable) as unavailable:
        store.head()
    assert isinstance(unavailable.value.__cause__, httpx.ConnectError)


def test_timeouts_are_the_stores() -> None:
    """A service that accepts the connection and never answers: each attempt times out after
    the store's timeout, and the store gives up after its retries."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        store = EventStore(f"http://127.0.0.1:{port}", timeout=0.2, retries=FAST)
        with store, pytest.raises(EventStoreUnavailable) as timed_out:
            store.append(Event("Slow", None, ["never"]))
    assert isinstance(timed_out.value.__cause__, httpx.ReadTimeout)


# -- the async store -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_async_store_does_the_same(async_store: AsyncEventStore, unique: str) -> None:
    query = Query.of(tags=[unique])
    appended = await async_store.append([Event("A", i, [unique]) for i in range(3)])
    page = await async_store.read(query, limit=1)
    whole = await async_store.source(query, page_size=1)
    await async_store.put_snapshot("async", unique, appended.positions[0], {"n": 1})
    from_snapshot = await async_store.source(query, snapshot=("async", unique))

    with pytest.raises(AppendConditionFailed) as refused:
        await async_store.append(Event("A", 9, [unique]), AppendCondition(query, page.marker))

    assert [e.data for e in whole.events] == [0, 1, 2]
    assert whole.marker >= appended.last_position
    assert from_snapshot.snapshot is not None
    assert [e.data for e in from_snapshot.events] == [1, 2]
    assert refused.value.conflicting_position == appended.positions[1]
    assert await async_store.head() >= appended.last_position
    assert (await async_store.get_snapshot("async", "missing")) is None


# -- bearer tokens -------------------------------------------------------------------------------

WRITER = "writer-token-0123456789"
READER = "reader-token-0123456789"


@pytest.fixture(scope="module")
def guarded_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = tmp_path_factory.mktemp("guarded") / "store.db"
    tokens = json.dumps({WRITER: ["read", "append"], READER: ["read"]})
    with live_server(settings_env(f"sqlite:///{store}", api_tokens=tokens)) as url:
        yield url


def test_bearer_tokens(guarded_url: str, unique: str) -> None:
    with EventStore(guarded_url, token=WRITER) as writer:
        writer.append(Event("Guarded", None, [unique]))
    with EventStore(guarded_url, token=READER) as reader:
        assert [e.type for e in reader.source(Query.of(tags=[unique])).events] == ["Guarded"]
        with pytest.raises(Forbidden) as forbidden:
            reader.append(Event("Guarded", None, [unique]))
    with EventStore(guarded_url) as anonymous, pytest.raises(Unauthorized) as unauthorized:
        anonymous.head()

    assert forbidden.value.scope == "append"
    assert unauthorized.value.headers["www-authenticate"].startswith("Bearer")
