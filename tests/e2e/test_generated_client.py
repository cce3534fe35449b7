"""A client generated from the committed OpenAPI document works against a running server.

openapi-python-client generates the package (with no warnings), then appends, conflicts and reads
through it, against a real uvicorn process on a SQLite file: an open one, and one with API tokens,
where the generated ``AuthenticatedClient`` carries the token and a missing token or scope comes
back as the declared 401 or 403 problem.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support.live_server import REPO, live_server

PACKAGE = "dcb_event_store_client"
WRITER = "writer-token-0123456789"
READER = "reader-token-0123456789"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The generated package, importable for this module's tests."""
    where = tmp_path_factory.mktemp("client")
    config = where / "config.yaml"
    config.write_text("post_hooks: []\n")  # no formatter run: nothing outside the venv
    generator = Path(sys.executable).with_name("openapi-python-client")
    result = subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            str(REPO / "openapi" / "openapi.json"),
            "--meta",
            "none",
            "--config",
            str(config),
        ],
        cwd=where,
        capture_output=True,
        text=True,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "warning" not in output.lower(), output
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(where))
        for name in [n for n in sys.modules if n.split(".")[0] == PACKAGE]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = tmp_path_factory.mktemp("store") / "store.db"
    with live_server({"EVENTSTORE_DATABASE_URL": f"sqlite:///{store}"}) as url:
        yield url


@pytest.fixture(scope="module")
def guarded_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server with a read+append token and a read-only one."""
    store = tmp_path_factory.mktemp("store") / "store.db"
    env = {
        "EVENTSTORE_DATABASE_URL": f"sqlite:///{store}",
        "EVENTSTORE_API_TOKENS": json.dumps({WRITER: ["read", "append"], READER: ["read"]}),
    }
    with live_server(env) as url:
        yield url


@dataclass(frozen=True)
class Api:
    """The parts of the generated package these tests use."""

    models: Any
    append_events: ModuleType
    read_events: ModuleType


@pytest.fixture(scope="module")
def api(generated: Any) -> Api:
    return Api(
        models=importlib.import_module(f"{PACKAGE}.models"),
        append_events=importlib.import_module(f"{PACKAGE}.api.events.append_events"),
        read_events=importlib.import_module(f"{PACKAGE}.api.events.read_events"),
    )


def test_append_conflict_and_read_through_the_generated_client(
    generated: Any, api: Api, base_url: str
) -> None:
    with generated.Client(base_url=base_url, raise_on_unexpected_status=True) as client:
        check_append_conflict_and_read(client, api)


def test_a_token_with_read_and_append_appends_and_reads(
    generated: Any, api: Api, guarded_url: str
) -> None:
    with generated.AuthenticatedClient(
        base_url=guarded_url, token=WRITER, raise_on_unexpected_status=True
    ) as client:
        check_append_conflict_and_read(client, api)


@pytest.mark.parametrize("token", [None, "not-a-known-token"], ids=["no-token", "unknown-token"])
def test_without_a_known_token_the_client_gets_401(
    generated: Any, api: Api, guarded_url: str, token: str | None
) -> None:
    models = api.models
    client = (
        generated.Client(base_url=guarded_url, raise_on_unexpected_status=True)
        if token is None
        else generated.AuthenticatedClient(
            base_url=guarded_url, token=token, raise_on_unexpected_status=True
        )
    )
    with client:
        appended = api.append_events.sync_detailed(client=client, body=seat_claim(models))
        read = api.read_events.sync_detailed(client=client, body=seat_read(models))

    for response in (appended, read):
        assert response.status_code == 401
        assert isinstance(response.parsed, models.Problem)
        assert response.parsed.type_ == "/problems/unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_read_only_token_reads_but_gets_403_on_append(
    generated: Any, api: Api, guarded_url: str
) -> None:
    models = api.models
    with generated.AuthenticatedClient(
        base_url=guarded_url, token=READER, raise_on_unexpected_status=True
    ) as client:
        appended = api.append_events.sync_detailed(client=client, body=seat_claim(models))
        read = api.read_events.sync_detailed(client=client, body=seat_read(models))

    assert appended.status_code == 403
    assert isinstance(appended.parsed, models.Problem)
    assert appended.parsed.type_ == "/problems/forbidden"
    assert read.status_code == 200
    assert isinstance(read.parsed, models.ReadResponse)


def seat_claim(models: Any) -> Any:
    return models.AppendRequest(
        events=[models.EventInput(type_="SeatClaimed", data={"by": "bob"}, tags=["seat:9"])]
    )


def seat_read(models: Any) -> Any:
    query = models.Query(items=[models.QueryItem(types=["SeatClaimed"], tags=["seat:9"])])
    return models.ReadRequest(query=query)


def check_append_conflict_and_read(client: Any, api: Api) -> None:
    models = api.models
    query = models.Query(items=[models.QueryItem(types=["SeatClaimed"], tags=["seat:7"])])

    claim = models.AppendRequest(
        events=[models.EventInput(type_="SeatClaimed", data={"by": "ann"}, tags=["seat:7"])],
        condition=models.AppendCondition(fail_if_events_match=query, after=None),
    )
    first = api.append_events.sync_detailed(client=client, body=claim)
    assert first.status_code == 201
    assert first.parsed.positions == [1]
    assert first.parsed.last_position == 1

    second = api.append_events.sync_detailed(client=client, body=claim)
    assert second.status_code == 409
    assert isinstance(second.parsed, models.ConflictProblem)
    assert second.parsed.type_ == "/problems/append-condition-failed"
    assert second.parsed.conflicting_position == 1
    assert second.parsed.head == 1

    read = api.read_events.sync_detailed(client=client, body=models.ReadRequest(query=query))
    assert read.status_code == 200
    assert read.parsed.marker == 1
    assert read.parsed.head == 1
    assert read.parsed.has_more is False
    [event] = read.parsed.events
    assert (event.position, event.type_, event.tags) == (1, "SeatClaimed", ["seat:7"])
    assert event.data == {"by": "ann"}
