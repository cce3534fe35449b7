"""Query-string models are parsed as FastAPI parses them (`app.api.query_parameters`).

Each query string is given to a reference app, where FastAPI's own request handler parses the
same model, and to `QueryModel`: both must accept it with the same values, or refuse it with the
same problem (status, type, detail, errors).
"""

from __future__ import annotations

import random
from typing import Annotated, Any

import orjson
import pytest
from fastapi import FastAPI, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.types import Message, Receive, Scope, Send

from app.api.discovery_models import TagsParams
from app.api.problems import install_problem_handlers, validation_problem
from app.api.query_parameters import QueryModel
from app.api.request_limits import Limits, limits_scope
from app.api.schemas import ListEventsParams, StreamParams

pytestmark = pytest.mark.anyio

LIMITS = Limits(max_events=10, max_items=2, max_values=2)
MODELS: dict[str, type[BaseModel]] = {
    "list": ListEventsParams,
    "tags": TagsParams,
    "stream": StreamParams,
}


def reference_app() -> FastAPI:
    """FastAPI parsing each model itself, answering the values it validated."""
    app = FastAPI()
    install_problem_handlers(app)

    def route(model: type[BaseModel]) -> Any:
        async def endpoint(params: BaseModel) -> Response:
            return Response(orjson.dumps(params.model_dump(mode="json")))

        endpoint.__annotations__ = {"params": Annotated[model, Query()], "return": Response}
        return endpoint

    for path, model in MODELS.items():
        app.get(f"/{path}")(route(model))
    return app


class Limited:
    """The app, validating inside the limits' scope as the service's routes do."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with limits_scope(LIMITS):
            await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def reference() -> Limited:
    return Limited(reference_app())


def ours(model: type[BaseModel], query_string: bytes) -> tuple[int, bytes]:
    with limits_scope(LIMITS):
        try:
            parsed = QueryModel(model).parse(query_string)
        except RequestValidationError as error:
            problem = validation_problem(error.errors())
            return problem.status_code, bytes(problem.body)
    return 200, orjson.dumps(parsed.model_dump(mode="json"))


async def theirs(app: Limited, path: str, query_string: bytes) -> tuple[int, bytes]:
    """The reference's answer, called as a server would, with the raw query string."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": f"/{path}",
        "raw_path": f"/{path}".encode(),
        "root_path": "",
        "query_string": query_string,
        "headers": [],
        "server": ("reference", 80),
        "client": ("test", 1),
    }
    status = 0
    body = b""

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status, body
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body += message.get("body", b"")

    await app(scope, receive, send)
    return status, body


CASES = [
    b"",
    b"tag=a",
    b"tag=a&tag=b",
    b"tag=a&tag=b&tag=c",
    b"type=A&type=&tag=x",
    b"type=",
    b"tag=%00",
    b"tags=a",
    b"tags=a&tags=b&x=1",
    b"after=1&after=2",
    b"after=x&after=2",
    b"after=2&after=x",
    b"after=&before=0&limit=-1",
    b"after=%2B1&limit=1_0",
    b"after=+1",
    b"after=1.0&limit=1e3",
    b"backwards=TRUE&backwards=yes",
    b"backwards=on&live=0&event_names=off",
    b"backwards",
    b"&&=&==&tag",
    b"tag=a+b&tag=a%20b&tag=%E2%82%AC",
    b"tag=%zz&type=%",
    b"type=a;tag=b",
    b"type=" + b"t" * 256,
    b"tag=" + b"t" * 257,
    b"prefix=" + b"p" * 257 + b"&type=A&type=B",
    b"after=k:1&limit=0&extra=1&extra=2&extra=3",
    b"query=%7B%7D&ticket=t&ticket=u",
    b"\xc3\xa9=1&tag=\xc3\xa9",
]

FRAGMENTS = [
    "tag", "tags", "type", "after", "before", "limit", "backwards", "prefix", "query", "live",
    "event_names", "ticket", "x", "", "=", "&", "+", "%20", "%00", "%2B", "1", "-1", "0",
    "true", "no", "k:1", "A", "99999999999999999999", "1.5", "%E2%82%AC", "a b",
]  # fmt: skip


def generated(count: int) -> list[bytes]:
    rng = random.Random(18)
    return [
        "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 12))).encode()
        for _ in range(count)
    ]


@pytest.mark.parametrize("path", list(MODELS))
async def test_query_strings_are_parsed_as_fastapi_parses_them(
    reference: Limited, path: str
) -> None:
    model = MODELS[path]
    for query_string in CASES + generated(400):
        expected = await theirs(reference, path, query_string)
        assert ours(model, query_string) == expected, query_string


class Aliased(BaseModel):
    model_config = {"populate_by_name": True}

    value: int = Field(0, alias="v")


def test_a_model_taking_two_names_for_a_parameter_is_refused_when_built() -> None:
    with pytest.raises(TypeError, match="by alias only"):
        QueryModel(Aliased)
