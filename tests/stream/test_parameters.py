"""Bad parameters are answered with a 422 problem before any stream starts."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.support.api import assert_problem
from tests.support.live_server import live_server
from tests.support.sse import STREAM_PATH, WAIT

pytestmark = pytest.mark.anyio

VALIDATION = "/problems/validation"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server for the module: these requests change nothing."""
    store = tmp_path_factory.mktemp("store") / "store.db"
    with live_server({"EVENTSTORE_DATABASE_URL": f"sqlite:///{store}"}) as url:
        yield url


async def refused(
    client: httpx.AsyncClient, params: dict[str, str | list[str]], headers: dict[str, str]
) -> httpx.Response:
    """The answer to a stream request, which must not be a stream."""
    async with client.stream("GET", STREAM_PATH, params=params, headers=headers) as response:
        assert response.status_code != 200, "a stream started"
        await response.aread()
        return response


@pytest.mark.parametrize(
    ("params", "headers"),
    [
        pytest.param({"query": '{"items": []}', "type": "A"}, {}, id="query-and-type"),
        pytest.param({"query": '{"items": []}', "tag": "x"}, {}, id="query-and-tag"),
        pytest.param({"query": "{items:"}, {}, id="query-not-json"),
        pytest.param({"query": json.dumps({"items": [{}]})}, {}, id="item-without-types-or-tags"),
        pytest.param({"query": json.dumps({"items": [], "x": 1})}, {}, id="query-unknown-field"),
        pytest.param({"type": ""}, {}, id="empty-type"),
        pytest.param({"after": "-1"}, {}, id="negative-after"),
        pytest.param({"after": "soon"}, {}, id="after-not-a-number"),
        pytest.param({"after": "9" * 5000}, {}, id="after-huge"),
        pytest.param({"live": "maybe"}, {}, id="live-not-a-boolean"),
        pytest.param({"tags": "x"}, {}, id="unknown-parameter"),
        pytest.param({}, {"Last-Event-ID": "abc"}, id="last-event-id-not-a-number"),
        pytest.param({}, {"Last-Event-ID": "-1"}, id="last-event-id-negative"),
        pytest.param({}, {"Last-Event-ID": "1.5"}, id="last-event-id-fraction"),
        pytest.param({}, {"Last-Event-ID": "9" * 5000}, id="last-event-id-huge"),
    ],
)
async def test_bad_parameters_are_a_validation_problem(
    base_url: str, params: dict[str, str | list[str]], headers: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=WAIT) as client:
        response = await refused(client, params, headers)
    assert_problem(response, 422, VALIDATION)
