"""The event-sourced repository: state loaded by folding its events, from a snapshot when one
is stored, with lifecycle hooks and a snapshot policy.

A ``StateModule`` describes one kind of state: its ``name`` (also the snapshots' name),
``criteria(id)`` (the query of its events), ``create(id)`` (the state before any event),
``evolvers`` by event type, and optional ``Lifecycle`` hooks. ``repository.load(id)``:

1. reads the criteria's events from the stored snapshot ``(name, key(id))`` with the service's
   read-with-snapshot (one request), starting from the snapshot's state, or from
   ``create(id)`` when none is stored;
2. folds every event after it through the evolver of its type (events of other types pass);
3. fires the hooks as the seed's repository does: ``on_create`` when the first event (of a
   load that did not start from a snapshot) changes the state, ``on_state_change(before,
   after, event, id)`` for each event that changes it, ``on_delete`` when ``is_deleted`` turns
   true;
4. asks the snapshot policy, and when it says so stores a snapshot at the read's marker, in the
   background (a thread for ``EventSourcedRepository``, a task for
   ``AsyncEventSourcedRepository``): the load does not wait for it, and a failure to store it
   is logged, never raised;
5. returns ``Loaded``: the state with its sourcing info (criteria and marker), whose
   ``condition`` is the append condition of a decision taken on it.

A snapshot that cannot be read or turned back into state (the read fails, ``from_snapshot``
raises) falls back to a full replay from ``create(id)``, as the seed does. Snapshot states go
through ``to_snapshot``/``from_snapshot`` (JSON values in and out; identity by default).

``repository.decide(id, decision)`` is the decision loop on one state: load, decide, append
under ``loaded.condition``, again on conflict.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from eventstore_client.aio import AsyncEventStore
from eventstore_client.decision import (
    CONFLICT_BACKOFF,
    Decision,
    retry_on_conflict,
    retry_on_conflict_async,
)
from eventstore_client.models import (
    AppendCondition,
    AppendResult,
    Event,
    Query,
    ReadResult,
    SequencedEvent,
    SnapshotRef,
)
from eventstore_client.snapshot_policy import Evolution, SnapshotPolicy
from eventstore_client.store import EventStore

__all__ = [
    "AsyncEventSourcedRepository",
    "EventSourcedRepository",
    "Lifecycle",
    "Loaded",
    "StateModule",
]

log = logging.getLogger("eventstore_client")

I = TypeVar("I")  # noqa: E741 - the id, as in the seed
S = TypeVar("S")


def _identity(value: Any) -> Any:
    return value


@dataclass(frozen=True, slots=True)
class Lifecycle(Generic[I, S]):
    """Hooks fired while a state is folded."""

    on_create: Callable[[S, I], None] | None = None
    on_state_change: Callable[[S, S, SequencedEvent, I], None] | None = None
    on_delete: Callable[[S, I], None] | None = None
    is_deleted: Callable[[S], bool] | None = None


@dataclass(frozen=True, slots=True)
class StateModule(Generic[I, S]):
    """One kind of state, sourced from events."""

    name: str
    criteria: Callable[[I], Query]
    create: Callable[[I], S]
    evolvers: Mapping[str, Callable[[S, SequencedEvent], S]]
    lifecycle: Lifecycle[I, S] | None = None
    key: Callable[[I], str] = str
    to_snapshot: Callable[[S], Any] = _identity
    from_snapshot: Callable[[Any], S] = field(default=cast("Callable[[Any], S]", _identity))


@dataclass(frozen=True, slots=True)
class Loaded(Generic[S]):
    """A loaded state and what it was sourced from."""

    state: S
    criteria: Query
    marker: int
    events_applied: int
    snapshot_position: int | None
    """The position of the snapshot the load started from (None: a full replay)."""

    @property
    def condition(self) -> AppendCondition:
        """The condition of an append decided on this state."""
        return AppendCondition(self.criteria, self.marker)


class _Folder(Generic[I, S]):
    """The fold of one load, shared by both repositories."""

    def __init__(self, module: StateModule[I, S], id: I) -> None:  # noqa: A002
        self.module = module
        self.id = id
        self.started = time.perf_counter()
        self.criteria = module.criteria(id)
        self.key = module.key(id)

    def fold(self, sourced: ReadResult, state: S, *, from_snapshot: bool) -> tuple[S, int]:
        module, lifecycle = self.module, self.module.lifecycle
        deleted = bool(lifecycle and lifecycle.is_deleted and lifecycle.is_deleted(state))
        applied = 0
        for event in sourced.events:
            evolve = module.evolvers.get(event.type)
            if evolve is None:
                continue
            before, state = state, evolve(state, event)
            applied += 1
            if lifecycle is None or state == before:
                continue
            if applied == 1 and not from_snapshot and lifecycle.on_create:
                lifecycle.on_create(state, self.id)
            if lifecycle.on_state_change:
                lifecycle.on_state_change(before, state, event, self.id)
            if lifecycle.is_deleted:
                now_deleted = lifecycle.is_deleted(state)
                if now_deleted and not deleted and lifecycle.on_delete:
                    lifecycle.on_delete(state, self.id)
                deleted = now_deleted
        return state, applied

    def evolution(self, applied: int, sourced: ReadResult) -> Evolution:
        return Evolution(applied, time.perf_counter() - self.started, sourced.snapshot_due)

    def loaded(
        self, state: S, sourced: ReadResult, applied: int, snapshot: int | None
    ) -> Loaded[S]:
        return Loaded(state, self.criteria, sourced.marker, applied, snapshot)


class EventSourcedRepository(Generic[I, S]):
    """States of ``module`` from ``store``; snapshots stored as ``snapshot_policy`` says
    (never without one), read unless ``use_snapshots=False``."""

    def __init__(
        self,
        module: StateModule[I, S],
        store: EventStore,
        *,
        snapshot_policy: SnapshotPolicy | None = None,
        use_snapshots: bool = True,
    ) -> None:
        self.module = module
        self.store = store
        self.snapshot_policy = snapshot_policy
        self.use_snapshots = use_snapshots
        self._writer = ThreadPoolExecutor(1, thread_name_prefix=f"snapshots-{module.name}")
        self._pending: list[Future[None]] = []

    def load(self, id: I) -> Loaded[S]:  # noqa: A002
        folder = _Folder(self.module, id)
        sourced: ReadResult | None = None
        state = self.module.create(id)
        snapshot: int | None = None
        if self.use_snapshots:
            try:
                sourced = self.store.source(
                    folder.criteria, snapshot=SnapshotRef(self.module.name, folder.key)
                )
                if sourced.snapshot is not None:
                    state = self.module.from_snapshot(sourced.snapshot.state)
                    snapshot = sourced.snapshot.position
            except Exception:
                log.warning(
                    "snapshot %s/%s could not be loaded; replaying every event",
                    self.module.name,
                    folder.key,
                    exc_info=True,
                )
                sourced, state, snapshot = None, self.module.create(id), None
        if sourced is None:
            sourced = self.store.source(folder.criteria)
        state, applied = folder.fold(sourced, state, from_snapshot=snapshot is not None)
        policy = self.snapshot_policy
        if policy is not None and applied > 0 and policy(folder.evolution(applied, sourced)):
            self._pending.append(
                self._writer.submit(self._store_snapshot, folder.key, sourced.marker, state)
            )
        return folder.loaded(state, sourced, applied, snapshot)

    def _store_snapshot(self, key: str, position: int, state: S) -> None:
        try:
            self.store.put_snapshot(self.module.name, key, position, self.module.to_snapshot(state))
        except Exception:
            log.warning("snapshot %s/%s not stored", self.module.name, key, exc_info=True)

    def append(self, loaded: Loaded[S], events: Event | Sequence[Event]) -> AppendResult:
        """Append ``events`` decided on ``loaded``, under its condition."""
        return self.store.append(events, loaded.condition)

    def decide(
        self,
        id: I,  # noqa: A002
        decision: Callable[[S], Sequence[Event]],
        *,
        attempts: int = 5,
    ) -> Decision[S]:
        """Load, decide, append under the load's condition; again on conflict."""

        def attempt(number: int) -> Decision[S]:
            loaded = self.load(id)
            events = tuple(decision(loaded.state))
            appended = self.append(loaded, events) if events else None
            return Decision(loaded.state, events, appended, loaded.marker, number)

        return retry_on_conflict(attempt, attempts, CONFLICT_BACKOFF)

    def wait_for_snapshots(self) -> None:
        """Wait until every snapshot asked for so far was stored (or failed)."""
        pending, self._pending = self._pending, []
        for future in pending:
            future.result()

    def close(self) -> None:
        self._writer.shutdown(wait=True)


class AsyncEventSourcedRepository(Generic[I, S]):
    """``EventSourcedRepository`` over an ``AsyncEventStore``; snapshots are stored by tasks."""

    def __init__(
        self,
        module: StateModule[I, S],
        store: AsyncEventStore,
        *,
        snapshot_policy: SnapshotPolicy | None = None,
        use_snapshots: bool = True,
    ) -> None:
        self.module = module
        self.store = store
        self.snapshot_policy = snapshot_policy
        self.use_snapshots = use_snapshots
        self._pending: set[asyncio.Task[None]] = set()

    async def load(self, id: I) -> Loaded[S]:  # noqa: A002
        folder = _Folder(self.module, id)
        sourced: ReadResult | None = None
        state = self.module.create(id)
        snapshot: int | None = None
        if self.use_snapshots:
            try:
                sourced = await self.store.source(
                    folder.criteria, snapshot=SnapshotRef(self.module.name, folder.key)
                )
                if sourced.snapshot is not None:
                    state = self.module.from_snapshot(sourced.snapshot.state)
                    snapshot = sourced.snapshot.position
            except Exception:
                log.warning(
                    "snapshot %s/%s could not be loaded; replaying every event",
                    self.module.name,
                    folder.key,
                    exc_info=True,
                )
                sourced, state, snapshot = None, self.module.create(id), None
        if sourced is None:
            sourced = await self.store.source(folder.criteria)
        state, applied = folder.fold(sourced, state, from_snapshot=snapshot is not None)
        policy = self.snapshot_policy
        if policy is not None and applied > 0 and policy(folder.evolution(applied, sourced)):
            task = asyncio.create_task(self._store_snapshot(folder.key, sourced.marker, state))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
        return folder.loaded(state, sourced, applied, snapshot)

    async def _store_snapshot(self, key: str, position: int, state: S) -> None:
        try:
            await self.store.put_snapshot(
                self.module.name, key, position, self.module.to_snapshot(state)
            )
        except Exception:
            log.warning("snapshot %s/%s not stored", self.module.name, key, exc_info=True)

    async def append(self, loaded: Loaded[S], events: Event | Sequence[Event]) -> AppendResult:
        return await self.store.append(events, loaded.condition)

    async def decide(
        self,
        id: I,  # noqa: A002
        decision: Callable[[S], Sequence[Event]],
        *,
        attempts: int = 5,
    ) -> Decision[S]:
        """Load, decide, append under the load's condition; again on conflict."""

        async def attempt(number: int) -> Decision[S]:
            loaded = await self.load(id)
            events = tuple(decision(loaded.state))
            appended = await self.append(loaded, events) if events else None
            return Decision(loaded.state, events, appended, loaded.marker, number)

        return await retry_on_conflict_async(attempt, attempts, CONFLICT_BACKOFF)

    async def wait_for_snapshots(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending)
