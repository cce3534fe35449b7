"""A client generated from the committed OpenAPI document works against a running server, with
no work-around: the generator's default settings, a plain ``Client`` for an open service.

openapi-python-client generates the package (with no warnings); then a program written with it
runs the course-subscription decision of the DCB examples, with its 409 retry, against a real
uvicorn process on a SQLite file: an open one, and one with API tokens, where the generated
``AuthenticatedClient`` carries the token and a missing token or scope comes back as the declared
401 or 403 problem, typed.
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


class Courses:
    """The course-subscription decision, written as a user of the generated client would."""

    def __init__(self, api: Api, client: Any) -> None:
        self.api = api
        self.models = api.models
        self.client = client

    def append(
        self, event_type: str, data: dict[str, Any], tags: list[str], **condition: Any
    ) -> Any:
        models = self.models
        body = models.AppendRequest(
            events=[models.EventInput(type_=event_type, data=data, tags=tags)],
            **({"condition": models.AppendCondition(**condition)} if condition else {}),
        )
        return self.api.append_events.sync_detailed(client=self.client, body=body)

    def define(self, course: str, capacity: int) -> None:
        response = self.append(
            "CourseDefined", {"course_id": course, "capacity": capacity}, [f"course:{course}"]
        )
        assert response.status_code == 201, response.content

    def subscribe(self, student: str, course: str, *, before_append: Any = None) -> str:
        """Read the course's events, decide, append under the read's condition; on 409 read
        and decide again. The outcome, as the example words it."""
        models = self.models
        query = models.Query(
            items=[
                models.QueryItem(
                    types=["CourseDefined", "StudentSubscribedToCourse"], tags=[f"course:{course}"]
                )
            ]
        )
        for _ in range(5):
            read = self.api.read_events.sync_detailed(
                client=self.client, body=models.ReadRequest(query=query)
            )
            assert read.status_code == 200, read.content
            page = read.parsed
            capacity = 0
            subscribed: set[str] = set()
            for event in page.events:
                data = event.data
                if event.type_ == "CourseDefined":
                    capacity = data["capacity"]
                else:
                    subscribed.add(data["student_id"])
            if student in subscribed:
                return "Student already subscribed to this course"
            if len(subscribed) >= capacity:
                return f'Course "{course}" is already fully booked'
            if before_append is not None:
                before_append()
                before_append = None
            appended = self.append(
                "StudentSubscribedToCourse",
                {"student_id": student, "course_id": course},
                [f"student:{student}", f"course:{course}"],
                fail_if_events_match=query,
                after=page.marker,
            )
            if appended.status_code == 201:
                return "subscribed"
            assert appended.status_code == 409, appended.content
            assert isinstance(appended.parsed, models.ConflictProblem)
            assert appended.parsed.conflicting_position > page.marker
        raise AssertionError("no decision after five rounds")


def test_the_decision_with_its_retry_through_a_plain_client(
    generated: Any, api: Api, base_url: str
) -> None:
    """Two students race for the last seat: the one who appends second gets the typed 409,
    reads again, and is told the course is full."""
    with generated.Client(base_url=base_url, raise_on_unexpected_status=True) as client:
        courses = Courses(api, client)
        courses.define("c1", capacity=1)
        outcomes: list[str] = []

        def rival_takes_the_seat() -> None:
            outcomes.append(courses.subscribe("s2", "c1"))

        outcomes.append(courses.subscribe("s1", "c1", before_append=rival_takes_the_seat))
        again = courses.subscribe("s2", "c1")

    assert outcomes == ["subscribed", 'Course "c1" is already fully booked']
    assert again == "Student already subscribed to this course"


def test_a_token_with_read_and_append_runs_the_decision(
    generated: Any, api: Api, guarded_url: str
) -> None:
    with generated.AuthenticatedClient(
        base_url=guarded_url, token=WRITER, raise_on_unexpected_status=True
    ) as client:
        courses = Courses(api, client)
        courses.define("c2", capacity=2)
        assert courses.subscribe("s1", "c2") == "subscribed"


@pytest.mark.parametrize("token", [None, "not-a-known-token"], ids=["no-token", "unknown-token"])
def test_without_a_known_token_the_client_gets_a_typed_401(
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
        appended = Courses(api, client).append("CourseDefined", {}, ["course:c9"])
        read = api.read_events.sync_detailed(client=client, body=models.ReadRequest())

    for response in (appended, read):
        assert response.status_code == 401
        assert isinstance(response.parsed, models.UnauthorizedProblem)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_read_only_token_reads_but_gets_a_typed_403_on_append(
    generated: Any, api: Api, guarded_url: str
) -> None:
    models = api.models
    with generated.AuthenticatedClient(
        base_url=guarded_url, token=READER, raise_on_unexpected_status=True
    ) as client:
        appended = Courses(api, client).append("CourseDefined", {}, ["course:c9"])
        read = api.read_events.sync_detailed(client=client, body=models.ReadRequest())

    assert appended.status_code == 403
    assert isinstance(appended.parsed, models.ForbiddenProblem)
    assert appended.parsed.scope == "append"
    assert read.status_code == 200
    assert isinstance(read.parsed, models.ReadResponse)


def test_schemas_and_discovery_through_the_generated_client(generated: Any, base_url: str) -> None:
    """A schema registered with the client refuses a bad append with a typed problem; the
    event types it lists count what was stored."""
    models = importlib.import_module(f"{PACKAGE}.models")
    put_schema = importlib.import_module(f"{PACKAGE}.api.event_types.put_event_schema")
    list_types = importlib.import_module(f"{PACKAGE}.api.discovery.list_event_types")
    append = importlib.import_module(f"{PACKAGE}.api.events.append_events")
    schema = models.PutEventSchemaBodyType0.from_dict(
        {"type": "object", "required": ["isbn"], "properties": {"isbn": {"type": "string"}}}
    )

    def book(data: dict[str, Any]) -> Any:
        return models.AppendRequest(
            events=[models.EventInput(type_="BookAdded", data=data, tags=["shelf:1"])]
        )

    with generated.Client(base_url=base_url, raise_on_unexpected_status=True) as client:
        registered = put_schema.sync_detailed("BookAdded", client=client, body=schema)
        stored = append.sync_detailed(client=client, body=book({"isbn": "978-0"}))
        refused = append.sync_detailed(client=client, body=book({"title": "no isbn"}))
        types = list_types.sync(client=client)

    assert registered.status_code == 200
    assert stored.status_code == 201
    assert isinstance(refused.parsed, models.EventSchemaViolationProblem)
    assert refused.parsed.violations[0].event == 0
    assert isinstance(types, models.EventTypes)
    [books] = [t for t in types.event_types if t.type_ == "BookAdded"]
    assert (books.count, books.has_schema) == (1, True)
