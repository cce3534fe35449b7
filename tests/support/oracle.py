"""The decision oracle, after the consistency test of wwwision/dcb-eventstore: many clients each
read a random query's events, then append a decision conditioned on that read (``after`` = the
read's marker). Every decision records in its events' data what it was based on (client,
iteration, query, marker, batch id), so that the final log alone shows whether any accepted
decision ignored an event it should have seen.

Types and tags come from small vocabularies, so that the clients' queries and events really
collide. The matching rule of the API contract ("Query") is implemented here again,
independently of `app.domain.matches`, to judge the store by the contract rather than by its own
code.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx

Json = dict[str, Any]

TYPES = ("SeatBooked", "SeatReleased", "CourseRenamed")
TAGS = ("course:1", "course:2", "student:1", "student:2")
CONFLICT = "/problems/append-condition-failed"


def matches(query: Json, event: Json) -> bool:
    """The contract's rule: an event matches an item when the item has no types or lists the
    event's type, and the event carries every tag of the item; a query matches when any of its
    items does; no items match every event."""
    items: list[Json] = query.get("items") or []
    if not items:
        return True
    tags = set(event["tags"])
    return any(
        (not item.get("types") or event["type"] in item["types"])
        and set(item.get("tags") or []) <= tags
        for item in items
    )


def random_query(rng: random.Random) -> Json:
    """One or two items, each with up to two types and up to two tags (never neither)."""
    items = []
    for _ in range(rng.randint(1, 2)):
        types = rng.sample(TYPES, rng.randint(0, 2))
        tags = rng.sample(TAGS, rng.randint(0 if types else 1, 2))
        items.append({"types": types, "tags": tags})
    return {"items": items}


def random_event(rng: random.Random, data: Json) -> Json:
    return {"type": rng.choice(TYPES), "tags": rng.sample(TAGS, rng.randint(1, 2)), "data": data}


@dataclass(frozen=True)
class Decision:
    """What one append was based on: the read's query and marker."""

    client: int
    iteration: int
    batch: str
    query: Json
    marker: int
    size: int


@dataclass
class Outcomes:
    accepted: list[tuple[Decision, list[int]]] = field(default_factory=list)
    """Each accepted decision and the positions its 201 named."""
    refused: list[tuple[Decision, Json]] = field(default_factory=list)
    """Each refused decision and its 409 problem."""


@asynccontextmanager
async def separate_clients(
    count: int, timeout: float = 30.0
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """``count`` clients, one connection each. (One client sharing a pool of that many
    connections spends about 6 ms of CPU per request on the pool at this concurrency, measured
    here: the test process, not the server, would be the bottleneck, and the requests would
    reach the server spread out instead of together.)"""
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(httpx.AsyncClient(timeout=timeout))
            for _ in range(count)
        ]


async def decide(
    client: httpx.AsyncClient,
    base_url: str,
    number: int,
    iterations: int,
    rng: random.Random,
    outcomes: Outcomes,
) -> None:
    """Client ``number``'s decisions: read a random query, append 1 to 3 events on its marker."""
    for iteration in range(iterations):
        query = random_query(rng)
        read = await client.post(f"{base_url}/v1/events/query", json={"query": query})
        assert read.status_code == 200, read.text
        marker: int = read.json()["marker"]
        await anyio.sleep(rng.random() * 0.005)  # others decide meanwhile
        batch = uuid.uuid4().hex
        data = {"client": number, "iteration": iteration, "query": query, "marker": marker}
        events = [
            random_event(rng, data | {"batch": batch, "index": index})
            for index in range(rng.randint(1, 3))
        ]
        decision = Decision(number, iteration, batch, query, marker, len(events))
        condition = {"fail_if_events_match": query, "after": marker}
        response = await client.post(
            f"{base_url}/v1/events", json={"events": events, "condition": condition}
        )
        if response.status_code == 201:
            outcomes.accepted.append((decision, response.json()["positions"]))
        else:
            assert response.status_code == 409, response.text
            problem: Json = response.json()
            assert problem["type"] == CONFLICT, problem
            outcomes.refused.append((decision, problem))


async def run_clients(
    base_urls: Sequence[str],
    *,
    clients: int,
    iterations: int,
    seed: int,
    seconds: float = 60.0,
) -> Outcomes:
    """``clients`` deciding at once, client ``n`` through ``base_urls[n % len(base_urls)]``."""
    outcomes = Outcomes()
    async with separate_clients(clients) as each:
        with anyio.fail_after(seconds):
            async with anyio.create_task_group() as tasks:
                for number, client in enumerate(each):
                    rng = random.Random(f"{seed}/{number}")
                    url = base_urls[number % len(base_urls)]
                    tasks.start_soon(decide, client, url, number, iterations, rng, outcomes)
    return outcomes


async def read_log(client: httpx.AsyncClient, base_url: str, page: int = 100) -> list[Json]:
    """The whole log, paged forward with ``after = marker`` until ``has_more`` is false."""
    log: list[Json] = []
    after = 0
    while True:
        response = await client.post(
            f"{base_url}/v1/events/query", json={"after": after, "limit": page}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        log += body["events"]
        if not body["has_more"]:
            assert body["marker"] == body["head"] == (log[-1]["position"] if log else 0), body
            return log
        assert body["marker"] == body["events"][-1]["position"], body
        after = body["marker"]


def check(log: list[Json], outcomes: Outcomes) -> None:
    """The oracle's verdict on the final ``log``."""
    # Positions 1..head, no gap, no repeat.
    assert [event["position"] for event in log] == list(range(1, len(log) + 1))

    stored: dict[str, list[int]] = {}
    for event in log:
        stored.setdefault(event["data"]["batch"], []).append(event["position"])

    # What was stored is exactly what was accepted, each batch at the positions its 201 named,
    # consecutive, in the order sent; nothing of a refused batch.
    assert sorted(stored) == sorted(decision.batch for decision, _ in outcomes.accepted)
    for decision, positions in outcomes.accepted:
        assert stored[decision.batch] == positions, decision
        assert positions == list(range(positions[0], positions[0] + decision.size)), decision
        for index, position in enumerate(positions):
            data = log[position - 1]["data"]
            assert data["index"] == index
            assert (data["client"], data["iteration"], data["query"], data["marker"]) == (
                decision.client,
                decision.iteration,
                decision.query,
                decision.marker,
            )

    # The oracle proper, judged from the log alone: no accepted batch ignored an event that
    # matches its query and lies between its marker and its first position.
    for batch, positions in stored.items():
        recorded = log[positions[0] - 1]["data"]
        query, marker = recorded["query"], recorded["marker"]
        assert 0 <= marker < positions[0]
        ignored = [e["position"] for e in log[marker : positions[0] - 1] if matches(query, e)]
        assert not ignored, (
            f"batch {batch} at {positions} (query {query}, marker {marker}) was accepted "
            f"although {ignored} match"
        )

    # Every refusal names the first event that matches its query after its marker.
    for decision, problem in outcomes.refused:
        conflicting = problem["conflicting_position"]
        after = [e["position"] for e in log[decision.marker :] if matches(decision.query, e)]
        assert after, f"{decision} was refused, but nothing after its marker matches"
        assert conflicting == after[0], (decision, problem)
        assert problem["head"] >= conflicting, problem

    # Otherwise nothing was attacked.
    assert outcomes.accepted
    assert outcomes.refused
