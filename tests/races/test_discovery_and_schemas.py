"""Discovery and schemas under concurrent appends, through real service processes: on SQLite
one, on PostgreSQL two sharing the database, the clients split between them.

Attacked: the counts every append adds to (two processes' batches interleave on PostgreSQL, each
in its own transaction under the writer lock), and a schema registered while appends of its
type are in flight, on one process while the other appends.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import anyio
import httpx
import pytest

from tests.support.engines import SQL_ENGINES
from tests.support.streams import client_for

pytestmark = pytest.mark.anyio

CLIENTS = 12
APPENDS = 15
SCHEMA = {"type": "object", "required": ["seats"], "properties": {"seats": {"type": "integer"}}}


@pytest.fixture
def server_count(engine_name: str) -> int:
    return 2 if engine_name == "postgres" else 1


async def every_event(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        page = (await client.post("/v1/events/query", json={"after": after})).json()
        events += page["events"]
        if not page["has_more"]:
            return events
        after = page["marker"]


async def every_tag(client: httpx.AsyncClient, **params: str) -> dict[str, int]:
    counted: dict[str, int] = {}
    after: dict[str, str] = {}
    while True:
        page = (await client.get("/v1/tags", params={**params, **after, "limit": "7"})).json()
        counted |= {entry["tag"]: entry["count"] for entry in page["tags"]}
        if not page["has_more"]:
            return counted
        after = {"after": page["tags"][-1]["tag"]}


@pytest.mark.parametrize("engine_name", SQL_ENGINES)
async def test_discovery_counts_what_concurrent_appends_stored(servers: list[str]) -> None:
    rng = random.Random(7)

    async def appender(number: int) -> None:
        async with client_for(servers[number % len(servers)]) as client:
            for _ in range(APPENDS):
                events = [
                    {
                        "type": rng.choice(["A", "B", "C"]),
                        "tags": rng.sample(["k:1", "k:2", "k:3", "x:1", f"c:{number}"], 2),
                    }
                    for _ in range(rng.randint(1, 3))
                ]
                response = await client.post("/v1/events", json={"events": events})
                assert response.status_code == 201, response.text

    with anyio.fail_after(120):
        async with anyio.create_task_group() as tasks:
            for number in range(CLIENTS):
                tasks.start_soon(appender, number)

    async with client_for(servers[-1]) as client:
        events = await every_event(client)
        types = (await client.get("/v1/event-types")).json()["event_types"]
        tags = await every_tag(client)
        tags_of_a = await every_tag(client, type="A", prefix="k:")

    assert {t["type"]: t["count"] for t in types} == Counter(e["type"] for e in events)
    for summary in types:
        positions = [e["position"] for e in events if e["type"] == summary["type"]]
        assert (summary["first_position"], summary["last_position"]) == (
            positions[0],
            positions[-1],
        )
    assert tags == Counter(tag for e in events for tag in e["tags"])
    assert tags_of_a == Counter(
        tag for e in events if e["type"] == "A" for tag in e["tags"] if tag.startswith("k:")
    )


@pytest.mark.parametrize("engine_name", SQL_ENGINES)
async def test_a_schema_registered_during_appends_holds_from_its_registration_on(
    servers: list[str],
) -> None:
    """Appends of the type, half of them breaking the schema, race its registration (for future
    events only). Every answer is 201 or the schema's 422; every event stored that breaks the
    schema was stored before the registration answered; no refusal is answered before the
    registration was sent."""
    answers: list[tuple[float, int, bool]] = []  # (when answered, status, breaks the schema)
    registered: dict[str, Any] = {}
    stored_breaking = anyio.Event()  # the registration races appends already under way

    async def appender(number: int) -> None:
        async with client_for(servers[number % len(servers)]) as client:
            for n in range(APPENDS):
                breaks = (number + n) % 2 == 0
                data = {"title": "no seats"} if breaks else {"seats": n}
                response = await client.post(
                    "/v1/events", json={"events": [{"type": "CourseDefined", "data": data}]}
                )
                answers.append((anyio.current_time(), response.status_code, breaks))
                if breaks and response.status_code == 201:
                    stored_breaking.set()
                await anyio.sleep(0.005)

    async def registrar() -> None:
        async with client_for(servers[0]) as client:
            await stored_breaking.wait()
            registered["sent"] = anyio.current_time()
            response = await client.put(
                "/v1/event-types/CourseDefined/schema",
                json=SCHEMA,
                params={"check_stored": "false"},
            )
            registered["answered"] = anyio.current_time()
            assert response.status_code == 200, response.text
            registered["head"] = (await client.get("/v1/head")).json()["head"]

    with anyio.fail_after(120):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(registrar)
            for number in range(CLIENTS):
                tasks.start_soon(appender, number)

    async with client_for(servers[-1]) as client:
        events = await every_event(client)

    assert {status for _, status, _ in answers} <= {201, 422}
    assert all(breaks for _, status, breaks in answers if status == 422)
    # A request sent just before the registration may reach a server after it: what no client may
    # see is a refusal answered before the registration was even sent.
    assert all(answered >= registered["sent"] for answered, status, _ in answers if status == 422)
    assert any(status == 422 for _, status, _ in answers), "the race never ran past the schema"
    breaking = [e["position"] for e in events if "seats" not in (e["data"] or {})]
    assert breaking, "the race never ran before the schema"
    assert max(breaking) <= registered["head"]
    assert len(events) == sum(1 for _, status, _ in answers if status == 201)


@pytest.mark.postgres
@pytest.mark.parametrize("engine_name", ["postgres"])
async def test_a_schema_registered_on_one_replica_holds_on_the_other_at_once(
    servers: list[str],
) -> None:
    first, second = servers
    path = "/v1/event-types/SeatBooked/schema"
    bad = {"events": [{"type": "SeatBooked", "data": {}}]}
    async with client_for(first) as one, client_for(second) as other:
        assert (await one.put(path, json=SCHEMA)).status_code == 200
        refused = await other.post("/v1/events", json=bad)
        seen = (await other.get(path)).json()
        assert (await other.delete(path)).status_code == 204
        accepted = await one.post("/v1/events", json=bad)

    assert refused.status_code == 422
    assert refused.json()["type"] == "/problems/event-schema-violation"
    assert seen["schema"] == SCHEMA
    assert accepted.status_code == 201
