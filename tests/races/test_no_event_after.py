""" "No event at all after H" over HTTP, decided in one batch: exactly one client wins.

In each round, 24 clients read the head H, then append at the same moment with the condition
"fail if any event lies after H" (a query with no items): an optimistic lock on the whole store,
which only one of them may take. The writer is kept busy meanwhile by the retry of a large
append (1,000 events with ids, stored before the rounds): recognising it as a replay takes the
writer a while and stores nothing, so the claims queue behind it and are decided together.
Inside that batch the claims are checked against each other in memory (the no-items case of
`Pending.first_match`): the first stores its event, and every later one must see that event,
the last the batch has decided to store. Two winners in a round is the lost update the
condition exists to prevent.

/metrics confirms that claims were decided together: per round, the appends decided less the
batches that decided them (the replay can add one at most).
"""

from __future__ import annotations

import uuid

import anyio
import httpx
import pytest

from tests.support.engines import SQL_ENGINES
from tests.support.oracle import CONFLICT, Json, separate_clients

pytestmark = pytest.mark.anyio

ROUNDS = 10
CLAIMANTS = 24
LARGE = 1000


def large_append() -> Json:
    return {
        "events": [
            {"type": "Imported", "id": str(uuid.uuid4()), "tags": ["import"], "data": {"n": n}}
            for n in range(LARGE)
        ]
    }


async def batch_counters(client: httpx.AsyncClient, base_url: str) -> tuple[float, float]:
    """Appends decided by batches so far, and the batches."""
    metrics = await client.get(f"{base_url}/metrics")
    assert metrics.status_code == 200, metrics.text
    found = {}
    for line in metrics.text.splitlines():
        name, _, value = line.partition(" ")
        if name in {
            "eventstore_append_batched_requests_total",
            "eventstore_append_batches_total",
        }:
            found[name] = float(value)
    return (
        found["eventstore_append_batched_requests_total"],
        found["eventstore_append_batches_total"],
    )


async def race(
    clients: list[httpx.AsyncClient], base_url: str, replay: Json, round_: int
) -> tuple[int, float]:
    """One round; returns the winner's position and how many claims shared a batch."""
    requests, batches = await batch_counters(clients[0], base_url)
    head = (await clients[0].get(f"{base_url}/v1/head")).json()["head"]
    condition = {"fail_if_events_match": {"items": []}, "after": head}
    responses: dict[int, httpx.Response] = {}
    replayed: list[httpx.Response] = []
    gate = anyio.Event()

    async def send_replay() -> None:
        await gate.wait()
        replayed.append(await clients[-1].post(f"{base_url}/v1/events", json=replay))

    async def claim(claimant: int) -> None:
        body = {
            "events": [{"type": "Claimed", "tags": [f"round:{round_}"], "data": {"c": claimant}}],
            "condition": condition,
        }
        await gate.wait()
        await anyio.sleep(0.005)  # behind the replay
        responses[claimant] = await clients[claimant].post(f"{base_url}/v1/events", json=body)

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(send_replay)
            for claimant in range(CLAIMANTS):
                tasks.start_soon(claim, claimant)
            await anyio.sleep(0.01)  # every task waits at the gate
            gate.set()

    [replay_response] = replayed
    assert replay_response.status_code == 200, replay_response.text
    assert replay_response.headers["Idempotent-Replayed"] == "true"
    statuses = sorted(response.status_code for response in responses.values())
    assert statuses == [201] + [409] * (CLAIMANTS - 1), (round_, statuses)
    won = next(r.json() for r in responses.values() if r.status_code == 201)
    assert won["positions"] == [head + 1]
    for response in responses.values():
        if response.status_code == 409:
            problem: Json = response.json()
            assert problem["type"] == CONFLICT, problem
            assert problem["conflicting_position"] == head + 1, problem
    after_requests, after_batches = await batch_counters(clients[0], base_url)
    return head + 1, (after_requests - requests) - (after_batches - batches)


@pytest.mark.parametrize("engine_name", SQL_ENGINES)
async def test_of_claims_on_no_event_after_the_head_decided_together_exactly_one_wins(
    servers: list[str],
) -> None:
    [base_url] = servers
    replay = large_append()
    async with separate_clients(CLAIMANTS + 1) as clients:
        stored = await clients[0].post(f"{base_url}/v1/events", json=replay)
        assert stored.status_code == 201, stored.text
        for client in clients:  # every connection open before the races
            assert (await client.get(f"{base_url}/v1/head")).is_success
        rounds = [await race(clients, base_url, replay, number) for number in range(ROUNDS)]
        head = (await clients[0].get(f"{base_url}/v1/head")).json()["head"]

    assert [winner for winner, _ in rounds] == list(range(LARGE + 1, LARGE + ROUNDS + 1))
    assert head == LARGE + ROUNDS
    together = [shared for _, shared in rounds if shared >= 2]
    print(f"claims beyond the first of their batch, per round: {[s for _, s in rounds]}")
    assert len(together) >= ROUNDS // 2, "the claims were seldom decided together"
