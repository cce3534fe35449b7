"""Group commit changes nothing a caller can see: every answer is the one a serial execution
would give, on SQLite and PostgreSQL.

Appends started together by `asyncio.gather` are queued in the order of the gather before the
writer task runs, so they form one batch, decided in that order (`tests.support.batches`); each
test checks that they really shared a batch (`batch_stats`), then compares with the in-memory
specification running the same requests one after the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from app.domain import MATCH_ALL, AppendCondition, AppendResult, EventInput
from app.errors import StorageUnavailable
from app.storage.memory import MemoryEngine
from app.storage.sql.batch import AppendRequest, Outcome
from app.storage.sql.engine import SqlEngine
from app.storage.sql.group_commit import GroupCommitter
from tests.support.batches import Answer, Request, in_one_batch, one_by_one, started, stored
from tests.support.events import item, new_event, query

pytestmark = pytest.mark.anyio


@pytest.fixture
async def engine(store_url: str) -> AsyncIterator[SqlEngine]:
    store = await started(store_url)
    yield store
    await store.close()


def colliding_requests(rng: random.Random, count: int, head: int) -> list[Request]:
    """Appends over four tags, conditioned on random queries of several shapes and on random
    markers, so that many of them conflict with appends queued just before them or with the
    seed; some repeat earlier ones (with ids)."""
    vocabulary = ["course:1", "course:2", "student:1", "student:2"]
    requests: list[Request] = []
    for n in range(count):
        if requests and rng.random() < 0.15:
            requests.append(rng.choice(requests))  # a retry: a replay, or the same refusal
            continue
        with_ids = rng.random() < 0.5
        events = [
            new_event(
                rng.choice(["Subscribed", "Left"]),
                tags=rng.sample(vocabulary, rng.randint(1, 2)),
                data={"n": n},
                event_id=uuid.uuid4() if with_ids else None,
            )
            for _ in range(rng.randint(1, 3))
        ]
        condition = None
        if rng.random() < 0.8:
            tag, other = rng.sample(vocabulary, 2)
            boundary = rng.choice(
                [  # query shapes are checked in groups per shape: mix them in one batch
                    query(item(tags=[tag]), item(types=["Left"])),
                    query(item(tags=[tag])),
                    query(item(types=["Subscribed"], tags=[tag, other])),
                    query(item(types=["Left", "Opened"])),
                ]
            )
            condition = AppendCondition(boundary, after=rng.choice([None, head]))
        requests.append((events, condition))
    return requests


async def test_conflicting_appends_in_one_batch_get_the_serial_answers(engine: SqlEngine) -> None:
    rng = random.Random(20261127)
    seed = [new_event("Opened", tags=[f"course:{n}"]) for n in (1, 2)]
    await engine.append(seed)
    requests = colliding_requests(rng, 120, head=len(seed))
    spec = MemoryEngine()
    await spec.append(seed)

    answers = await in_one_batch(engine, requests)

    assert answers == await one_by_one(spec, requests)
    kinds = {answer.kind for answer in answers}
    assert {"stored", "409"} <= kinds, "the requests must both succeed and collide"
    assert any(answer.value[1] for answer in answers if answer.kind == "stored"), "no replay"
    stored_here = await stored(engine)
    assert [row[:4] for row in stored_here] == [row[:4] for row in await stored(spec)]


async def test_a_retry_in_the_same_batch_is_answered_with_the_first_result(
    engine: SqlEngine,
) -> None:
    claim = [new_event("SeatClaimed", tags=["seat:1"], event_id=uuid.uuid4())]
    condition = AppendCondition(query(item(tags=["seat:1"])), after=None)

    answers = await in_one_batch(engine, [(claim, condition)] * 3)

    assert answers == [
        Answer("stored", ((1,), False)),
        Answer("stored", ((1,), True)),
        Answer("stored", ((1,), True)),
    ]
    assert len(await stored(engine)) == 1


async def test_a_refused_append_does_not_fail_its_batch_mates(engine: SqlEngine) -> None:
    known = new_event("Registered", event_id=uuid.uuid4())
    await engine.append([known])
    reused = [new_event("Registered", data={"other": True}, event_id=known.id)]
    partial_retry = [known, new_event("Registered", event_id=uuid.uuid4())]
    taken = AppendCondition(MATCH_ALL, after=0)

    answers = await in_one_batch(
        engine,
        [
            ([new_event("A")], None),
            (reused, None),
            ([new_event("B")], None),
            (partial_retry, None),
            ([new_event("C")], taken),
            ([new_event("D")], None),
        ],
    )

    assert [answer.kind for answer in answers] == [
        "stored",
        "EventIdReused",
        "stored",
        "EventIdReused",
        "409",
        "stored",
    ]
    assert [row[1] for row in await stored(engine)] == ["Registered", "A", "B", "D"]


REFUSE_POISON = {
    "sqlite": [
        "CREATE TRIGGER refuse_poison BEFORE INSERT ON events WHEN NEW.type = 'Poison' "
        "BEGIN SELECT RAISE(ABORT, 'poison'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.type = 'Poison' THEN RAISE EXCEPTION 'poison' USING ERRCODE = 'unique_violation';"
        " END IF; RETURN NEW; END $$",
        "CREATE TRIGGER refuse_poison BEFORE INSERT ON events "
        "FOR EACH ROW EXECUTE FUNCTION refuse_poison()",
    ],
}


async def refuse_poison(url: str) -> None:
    """Make the database itself refuse events of type Poison, as it would refuse a duplicate
    key: a failure only the database sees, inside the writer's transaction."""
    target = make_url(url)
    if target.get_backend_name() == "sqlite":
        with contextlib.closing(sqlite3.connect(str(target.database))) as conn:
            for statement in REFUSE_POISON["sqlite"]:
                conn.execute(statement)
            conn.commit()
        return
    conn = await asyncpg.connect(
        target.set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        for statement in REFUSE_POISON["postgresql"]:
            await conn.execute(statement)
    finally:
        await conn.close()


async def test_a_member_the_database_refuses_does_not_fail_its_batch_mates(
    engine: SqlEngine, store_url: str
) -> None:
    """The batch's transaction is refused and rolled back; its members are decided again one
    transaction each. The refusal is the database's own, never mistaken for a reused id (on
    PostgreSQL the trigger even raises it as a unique violation, of no constraint)."""
    await refuse_poison(store_url)

    answers = await in_one_batch(
        engine,
        [([new_event("A")], None), ([new_event("Poison")], None), ([new_event("B")], None)],
    )

    assert [answer.kind for answer in answers] == ["stored", "WriteRefused", "stored"]
    assert answers[2] == Answer("stored", ((2,), False)), "positions leave no hole"
    assert [row[1] for row in await stored(engine)] == ["A", "B"]


async def twenty_together(url: str, **settings: Any) -> SqlEngine:
    """A closed engine (with ``settings``) that stored 20 appends started together, each once."""
    engine = await started(url, **settings)
    try:
        results = await asyncio.gather(*(engine.append([new_event(str(n))]) for n in range(20)))
    finally:
        await engine.close()
    assert sorted(result.last_position for result in results) == list(range(1, 21))
    return engine


async def test_a_batch_holds_at_most_its_request_limit(store_url: str) -> None:
    engine = await twenty_together(store_url, append_batch_max_requests=3)
    assert engine.batch_stats.largest == 3
    assert engine.batch_stats.batches >= 7  # 20 / 3, rounded up


async def test_appends_beyond_the_queue_wait_for_room(store_url: str) -> None:
    # Unbounded, the twenty would all be queued before the writer runs, and form one batch.
    engine = await twenty_together(store_url, append_queue_size=2)
    assert engine.batch_stats.largest == 2
    assert engine.batch_stats.batches >= 10


async def test_a_batch_stops_at_its_event_limit(store_url: str) -> None:
    engine = await started(store_url, append_batch_max_events=4)
    try:
        four = [new_event("Bulk") for _ in range(4)]
        await asyncio.gather(engine.append(four), engine.append(four), engine.append([four[0]]))
    finally:
        await engine.close()
    assert engine.batch_stats.batches == 3


async def test_a_queued_append_is_committed_even_if_its_caller_gives_up(
    engine: SqlEngine,
) -> None:
    abandoned = asyncio.create_task(engine.append([new_event("Abandoned")]))
    await asyncio.sleep(0)  # queued
    abandoned.cancel()
    await engine.append([new_event("Later")])  # decided after the abandoned one
    assert [row[1] for row in await stored(engine)] == ["Abandoned", "Later"]


async def test_close_commits_what_is_queued_then_refuses_appends(store_url: str) -> None:
    engine = await started(store_url)
    queued = [asyncio.create_task(engine.append([new_event(str(n))])) for n in range(10)]
    await asyncio.sleep(0)
    await engine.close()
    results = await asyncio.gather(*queued)
    assert [result.last_position for result in results] == list(range(1, 11))
    with pytest.raises(StorageUnavailable):
        await engine.append([new_event("TooLate")])


async def test_a_turn_failing_as_it_ends_leaves_its_batch_answered() -> None:
    """A batch decided inside the writer's turn stands even if releasing the turn raises; the
    writer goes on with the next batch."""
    positions = iter(range(1, 100))

    async def decide(batch: list[AppendRequest], now: datetime) -> list[Outcome]:
        return [AppendResult(positions=(next(positions),)) for _ in batch]

    @asynccontextmanager
    async def turn() -> AsyncIterator[None]:
        yield
        raise OSError("the lock could not be released")

    committer = GroupCommitter(
        decide,
        committed=lambda position: None,
        max_queued=10,
        max_batch_requests=10,
        max_batch_events=10,
        turn=turn,
    )
    committer.start()
    try:
        first = await asyncio.wait_for(committer.append([EventInput(type="A")], None), 5)
        second = await asyncio.wait_for(committer.append([EventInput(type="B")], None), 5)
    finally:
        await asyncio.wait_for(committer.close(), 5)
    assert (first.positions, second.positions) == ((1,), (2,))
