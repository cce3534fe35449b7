"""The uniqueness race over HTTP: in each round, 50 clients claim the same username at the same
moment, each with ``fail_if_events_match`` on the username's tag and ``after: null`` (fail if
any such claim exists at all). Exactly one claim may win: two would be the duplicate username
that the Dynamic Consistency Boundary exists to prevent.

Attacked: the condition check against appends in flight at the same time, through the whole
service (HTTP, the group-commit queue, one batch deciding many appends in memory, the writer
lock). With two service processes on one store (SQLite and PostgreSQL) the clients are split
between them, so that the claims race across processes too, through the store's writer lock
alone (SQLite: the lock file and ``BEGIN IMMEDIATE``; PostgreSQL: the advisory lock).

The 50 requests of a round are released together behind a gate, each on its own client whose
connection is already open, so that they reach the server within a few milliseconds.
"""

from __future__ import annotations

import anyio
import httpx
import pytest

from tests.support.oracle import CONFLICT, Json, separate_clients

pytestmark = pytest.mark.anyio

ROUNDS = 20
CLAIMANTS = 50


async def claim(
    client: httpx.AsyncClient,
    base_url: str,
    username: str,
    claimant: int,
    gate: anyio.Event,
    into: dict[int, httpx.Response],
) -> None:
    tag = f"username:{username}"
    body = {
        "events": [{"type": "UsernameClaimed", "tags": [tag], "data": {"claimant": claimant}}],
        "condition": {"fail_if_events_match": {"items": [{"tags": [tag]}]}, "after": None},
    }
    await gate.wait()
    into[claimant] = await client.post(f"{base_url}/v1/events", json=body)


async def race(clients: list[httpx.AsyncClient], servers: list[str], username: str) -> int:
    """One round: every client claims ``username`` at once; returns the winner's position."""
    responses: dict[int, httpx.Response] = {}
    gate = anyio.Event()
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tasks:
            for claimant, client in enumerate(clients):
                url = servers[claimant % len(servers)]
                tasks.start_soon(claim, client, url, username, claimant, gate, responses)
            await anyio.sleep(0.01)  # every task waits at the gate
            gate.set()

    statuses = sorted(response.status_code for response in responses.values())
    assert statuses == [201] + [409] * (CLAIMANTS - 1), (username, statuses)
    won = next(r.json() for r in responses.values() if r.status_code == 201)
    assert len(won["positions"]) == 1
    position: int = won["last_position"]
    for response in responses.values():
        if response.status_code == 409:
            problem: Json = response.json()
            assert problem["type"] == CONFLICT, problem
            assert problem["conflicting_position"] == position, problem
            assert problem["head"] >= position, problem

    # Read back through another instance than the winner's, maybe.
    stored = await clients[0].get(
        f"{servers[-1]}/v1/events", params={"tag": f"username:{username}"}
    )
    assert stored.status_code == 200, stored.text
    events = stored.json()["events"]
    assert [event["position"] for event in events] == [position]
    winner = next(c for c, r in responses.items() if r.status_code == 201)
    assert events[0]["data"] == {"claimant": winner}
    return position


async def largest_batch(client: httpx.AsyncClient, base_url: str) -> float:
    """The most appends one write transaction of ``base_url`` decided together (metrics)."""
    metrics = await client.get(f"{base_url}/metrics")
    assert metrics.status_code == 200, metrics.text
    for line in metrics.text.splitlines():
        if line.startswith("eventstore_append_batch_largest "):
            return float(line.split()[1])
    raise AssertionError("no eventstore_append_batch_largest in /metrics")


@pytest.mark.parametrize(
    ("engine_name", "server_count"),
    [
        pytest.param("sqlite", 1, id="sqlite"),
        pytest.param("sqlite", 2, id="sqlite-2-processes"),
        pytest.param("postgres", 2, id="postgres-2-processes", marks=pytest.mark.postgres),
    ],
)
async def test_of_fifty_simultaneous_claims_of_a_username_exactly_one_wins(
    servers: list[str],
) -> None:
    async with separate_clients(CLAIMANTS) as clients:
        for number, client in enumerate(clients):  # every connection open before the races
            assert (await client.get(f"{servers[number % len(servers)]}/v1/head")).is_success
        winners = [await race(clients, servers, f"user-{number}") for number in range(ROUNDS)]
        head = await clients[0].get(f"{servers[0]}/v1/head")
        # The claims really raced: each server decided many of them in one transaction.
        batches = [await largest_batch(clients[0], url) for url in servers]
    assert winners == list(range(1, ROUNDS + 1))
    assert head.json() == {"head": ROUNDS}
    assert all(largest >= 5 for largest in batches), batches
