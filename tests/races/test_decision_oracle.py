"""The decision oracle over HTTP (see `tests.races.oracle`): concurrent clients each read a
random query, then append a decision conditioned on the read's marker, all drawing types and
tags from small vocabularies so that decisions really conflict. The final log must show no
accepted decision that ignored a matching event committed between its read and its append, no
gap, no split batch, and each refusal must name the first event that did match.

Attacked: the condition check of concurrent, overlapping but different boundaries (not one
shared tag, as in the uniqueness race), appends of several events, and the marker of reads that
race with the group-committed writer: a marker that ran ahead of what its read saw, or a
condition checked against a stale head, lets a decision through that the log convicts.
"""

from __future__ import annotations

import random

import httpx
import pytest

from tests.support.engines import SQL_ENGINES
from tests.support.oracle import check, read_log, run_clients

pytestmark = pytest.mark.anyio

CLIENTS = 24
ITERATIONS = 8


@pytest.mark.parametrize("engine_name", SQL_ENGINES)
async def test_no_accepted_decision_ignored_an_event_it_should_have_seen(
    servers: list[str],
) -> None:
    seed = random.randrange(1 << 32)  # fixes each client's queries and events, not the timing
    print(f"seed {seed}")
    outcomes = await run_clients(servers, clients=CLIENTS, iterations=ITERATIONS, seed=seed)
    async with httpx.AsyncClient(timeout=30) as client:
        log = await read_log(client, servers[0], page=50)
    print(f"accepted {len(outcomes.accepted)}, refused {len(outcomes.refused)}, {len(log)} events")
    check(log, outcomes)
