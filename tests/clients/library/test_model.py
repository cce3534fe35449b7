"""The seed's model in the client library, against real service processes: the repository's
hooks and its fall back to a full replay, snapshot policies, tag resolvers and interceptors;
and the values themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import pytest

from eventstore_client import (
    AppendCondition,
    AppendResult,
    CorrelationInterceptor,
    Event,
    EventSourcedRepository,
    EventStore,
    Evolution,
    Interceptor,
    Lifecycle,
    Query,
    QueryItem,
    ReadResult,
    StateModule,
    correlation,
    handling,
    snapshot_policy,
    tags,
)


@dataclass(frozen=True)
class Account:
    opened: bool = False
    balance: int = 0
    closed: bool = False


def account_module(calls: list[tuple[Any, ...]]) -> StateModule[str, Account]:
    return StateModule(
        name="account",
        criteria=lambda account: Query.of(tags=[f"account:{account}"]),
        create=lambda account: Account(),
        evolvers={
            "Opened": lambda state, event: replace(state, opened=True),
            "Deposited": lambda state, event: replace(state, balance=state.balance + event.data),
            "Closed": lambda state, event: replace(state, closed=True),
            "Noted": lambda state, event: state,  # changes nothing: no hook
        },
        lifecycle=Lifecycle(
            on_create=lambda state, account: calls.append(("create", account, state.opened)),
            on_state_change=lambda before, after, event, account: calls.append(
                ("change", event.type, before.balance, after.balance)
            ),
            on_delete=lambda state, account: calls.append(("delete", account)),
            is_deleted=lambda state: state.closed,
        ),
        to_snapshot=lambda state: [state.opened, state.balance, state.closed],
        from_snapshot=lambda state: Account(*state),
    )


def open_account(store: EventStore, account: str) -> None:
    tag = [f"account:{account}"]
    store.append(
        [
            Event("Opened", None, tag),
            Event("Deposited", 5, tag),
            Event("Noted", None, tag),
            Event("Unknown", None, tag),
            Event("Closed", None, tag),
        ]
    )


def test_the_hooks_fire_as_the_seeds_do(store: EventStore, unique: str) -> None:
    calls: list[tuple[Any, ...]] = []
    open_account(store, unique)
    with_hooks = EventSourcedRepository(account_module(calls), store)

    loaded = with_hooks.load(unique)
    with_hooks.close()

    assert loaded.state == Account(True, 5, True)
    assert loaded.events_applied == 4  # "Unknown" has no evolver
    assert loaded.condition == AppendCondition(Query.of(tags=[f"account:{unique}"]), loaded.marker)
    assert calls == [
        ("create", unique, True),
        ("change", "Opened", 0, 0),
        ("change", "Deposited", 0, 5),
        ("change", "Closed", 5, 5),
        ("delete", unique),
    ]


def test_a_snapshot_that_cannot_be_used_falls_back_to_a_full_replay(
    store: EventStore, unique: str, caplog: pytest.LogCaptureFixture
) -> None:
    open_account(store, unique)
    head = store.head()
    store.put_snapshot("account", unique, head, "not the shape from_snapshot expects")
    calls: list[tuple[Any, ...]] = []
    repository = EventSourcedRepository(account_module(calls), store)

    with caplog.at_level(logging.WARNING, logger="eventstore_client"):
        loaded = repository.load(unique)
    repository.close()

    assert loaded.snapshot_position is None
    assert loaded.state == Account(True, 5, True)
    assert calls[0] == ("create", unique, True)
    assert "replaying every event" in caplog.text


@pytest.mark.parametrize(
    ("policy", "stored"),
    [
        (snapshot_policy.every(3), True),
        (snapshot_policy.every(5), False),
        (snapshot_policy.slower_than(0), True),
        (snapshot_policy.slower_than(3600), False),
        (snapshot_policy.when_due(), False),  # 5 events; the service says due at 100
        (snapshot_policy.any_of(snapshot_policy.never(), snapshot_policy.every(4)), True),
        (snapshot_policy.all_of(snapshot_policy.every(1), snapshot_policy.when_due()), False),
    ],
)
def test_snapshot_policies(
    store: EventStore, unique: str, policy: snapshot_policy.SnapshotPolicy, stored: bool
) -> None:
    open_account(store, unique)
    repository = EventSourcedRepository(account_module([]), store, snapshot_policy=policy)
    loaded = repository.load(unique)
    repository.wait_for_snapshots()
    repository.close()

    snapshot = store.get_snapshot("account", unique)
    assert (snapshot is not None) == stored
    if snapshot is not None:
        assert (snapshot.position, snapshot.state) == (loaded.marker, [True, 5, True])


def test_the_service_says_when_a_snapshot_is_due(store: EventStore, unique: str) -> None:
    tag = [f"account:{unique}"]
    store.append([Event("Deposited", 1, tag) for _ in range(100)])
    repository = EventSourcedRepository(
        account_module([]), store, snapshot_policy=snapshot_policy.when_due()
    )
    repository.load(unique)
    repository.wait_for_snapshots()
    again = repository.load(unique)
    repository.close()

    assert again.snapshot_position is not None
    assert again.state.balance == 100
    assert again.events_applied == 0
    assert not snapshot_policy.when_due()(Evolution(1000, 0.0, snapshot_due=False))


def test_tag_resolvers_run_before_the_append(base_url: str, unique: str) -> None:
    resolver = tags.combined(
        tags.from_event(),
        tags.from_event(lambda event: [f"course:{event.data['course']}"]),
        tags.from_metadata("tenant", "beta", "absent"),
    )
    with EventStore(base_url, tag_resolver=resolver) as store:
        store.append(Event("X", {"course": unique}, [unique], {"tenant": "t1", "beta": True}))
        [stored] = store.source(Query.of(tags=[unique])).events

    assert stored.tags == (unique, f"course:{unique}", "tenant:t1", "beta:true")


class Recording(Interceptor):
    """Records the calls it sees and marks what it touches."""

    def __init__(self, name: str, seen: list[str]) -> None:
        self.name, self.seen = name, seen

    def before_append(
        self, events: Sequence[Event], condition: AppendCondition | None
    ) -> Sequence[Event]:
        self.seen.append(f"{self.name} before append")
        return [event.with_metadata(**{self.name: True}) for event in events]

    def after_append(self, events: Sequence[Event], result: AppendResult) -> None:
        self.seen.append(f"{self.name} after append")

    def before_source(self, query: Query) -> Query:
        self.seen.append(f"{self.name} before source")
        return query

    def after_source(self, query: Query, result: ReadResult) -> ReadResult:
        self.seen.append(f"{self.name} after source")
        return result


def test_interceptors_wrap_appends_and_sources_in_order(base_url: str, unique: str) -> None:
    seen: list[str] = []
    interceptors = [Recording("outer", seen), Recording("inner", seen)]
    with EventStore(base_url, interceptors=interceptors) as store:
        store.append(Event("X", None, [unique]))
        [stored] = store.source(Query.of(tags=[unique])).events

    assert seen == [
        "outer before append",
        "inner before append",
        "inner after append",
        "outer after append",
        "outer before source",
        "inner before source",
        "inner after source",
        "outer after source",
    ]
    assert stored.metadata == {"outer": True, "inner": True}


def test_correlation_and_causation_ids(base_url: str, unique: str) -> None:
    with EventStore(base_url, interceptors=[CorrelationInterceptor()]) as store:
        with correlation("request-42"):
            store.append(Event("Ordered", None, [unique]))
        [ordered] = store.source(Query.of(tags=[unique])).events
        with handling(ordered):
            store.append(Event("Shipped", None, [unique]))
        store.append(Event("Unrelated", None, [unique], {"correlation_id": "own"}))
        events = store.source(Query.of(tags=[unique])).events

    metadata = [dict(event.metadata) for event in events]
    assert metadata == [
        {"correlation_id": "request-42"},
        {"correlation_id": "request-42", "causation_id": ordered.id},
        {"correlation_id": "own"},
    ]


def test_the_values() -> None:
    course = Query.of(types=["CourseDefined"], tags=["course:c1"])
    student = Query.of(tags=["student:s1"])
    event = Event("CourseDefined", {"capacity": 1}, ["course:c1", "x"])

    assert (course | student).items == (
        QueryItem(("CourseDefined",), ("course:c1",)),
        QueryItem((), ("student:s1",)),
    )
    assert (course | course) == course
    assert (course | Query.all()) == Query.all()
    assert course.matches(event)
    assert not student.matches(event)
    assert Query.all().matches(event)
    identified = event.with_id()
    assert identified.id is not None
    assert identified.with_id() is identified
    with pytest.raises(ValueError, match="needs types or tags"):
        QueryItem()
    with pytest.raises(TypeError):
        Query.of(tags="course:c1")
    with pytest.raises(AttributeError):
        event.type = "Other"  # type: ignore[misc]
