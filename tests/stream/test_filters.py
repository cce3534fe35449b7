"""A stream sends only the events matching its query, from history and live alike: ``type`` and
``tag`` form one item (types OR'ed, tags AND'ed); ``query`` is a JSON Query of any items."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from app.domain import Query, QueryItem, matches
from tests.support.engines import SQL_ENGINES
from tests.support.sse import open_stream
from tests.support.streams import Appended, append, assert_delivered, event

pytestmark = pytest.mark.anyio

MIXED = [
    event("A", "x", "y"),
    event("A", "x"),
    event("B", "y", "x", "z"),
    event("C", "x", "y"),
    event("B"),
    event("C", "z"),
    event("A", "y"),
    event("D", "x", "y", "z"),
]
"""Events some of which match each query below, and some not."""


def matching(appended: Appended, query: Query) -> Appended:
    return {p: e for p, e in appended.items() if matches(query, e["type"], e["tags"])}


async def check(
    client: httpx.AsyncClient, params: dict[str, Any], query: Query, sentinel: dict[str, Any]
) -> None:
    """History (events stored before the stream opens) and live (appended after) are filtered;
    the stream is read up to ``sentinel``, a matching event appended last."""
    appended = await append(client, *MIXED)
    async with open_stream(client, {**params, "after": 0}) as stream:
        appended |= await append(client, *MIXED)
        appended |= await append(client, sentinel)
        received = await stream.through(max(appended))
    expected = matching(appended, query)
    assert 3 < len(expected) < len(appended) - 2  # the test means something
    assert_delivered(received, expected)


@pytest.mark.parametrize("engine_name", SQL_ENGINES)
async def test_type_and_tag_parameters_form_one_item(client: httpx.AsyncClient) -> None:
    params = {"type": ["A", "B"], "tag": ["x", "y"]}
    query = Query(items=(QueryItem(types=("A", "B"), tags=("x", "y")),))
    await check(client, params, query, event("B", "x", "y"))


@pytest.mark.parametrize("engine_name", SQL_ENGINES)
async def test_query_parameter_with_two_items(client: httpx.AsyncClient) -> None:
    items = [{"types": ["C"]}, {"types": ["A", "D"], "tags": ["y"]}]
    query = Query(items=(QueryItem(types=("C",)), QueryItem(types=("A", "D"), tags=("y",))))
    await check(client, {"query": json.dumps({"items": items})}, query, event("C"))


async def test_event_names_name_each_message_with_its_type(client: httpx.AsyncClient) -> None:
    """For ``addEventListener``: the type is the message's name; history and live alike. A
    type holding a line break cannot be a field of the format: that event comes unnamed."""
    appended = await append(client, event("CourseDefined", "c:1"), event("Odd\nType", "c:1"))
    async with open_stream(client, {"tag": "c:1", "after": 0, "event_names": "true"}) as named:
        appended |= await append(client, event("StudentSubscribed", "c:1"))
        received = await named.take(3)
    async with open_stream(client, {"tag": "c:1", "after": 0, "live": "false"}) as plain:
        unnamed = await plain.rest()

    assert_delivered(received, appended)
    assert [message.values("event") for message in received] == [
        ["CourseDefined"],
        [],
        ["StudentSubscribed"],
    ]
    assert [message.values("event") for message in unnamed] == [[], [], []]
