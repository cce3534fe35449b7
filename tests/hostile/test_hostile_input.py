"""The hostile-input catalogue: what a careless or malicious client may send, and the answer.

Each case must get a clear answer (a 4xx problem, or a correct 2xx), never a 500. Where "no slow
path" can be seen in the answer it is asserted so: a list over its count limit is refused by its
count before any element is validated, so a list of invalid elements gets one error, ``too_long``,
at the list (validated first, it got one per element, and took seconds). Elsewhere each request
has a liveness bound, `LIVENESS`, far above any answer's time: it catches a hang or a quadratic
path, not a slow machine. Cases that
tests/api/test_limits.py, tests/api/test_validation.py and tests/stream/test_parameters.py
already assert identically are not repeated here.

Body size (``EVENTSTORE_MAX_BODY_BYTES``, counted on the bytes received), over a real server:

- a declared ``Content-Length`` over the limit is a 413 before the client sends a byte of body;
- a chunked body without a length that grows over the limit is a 413, on every endpoint that
  takes a body;
- a ``Content-Length`` that lies low: the server reads only the declared bytes and stores
  nothing; the answer is a 4xx (the 422 of the truncated JSON, or uvicorn's own 400 when it
  parses the surplus as the next request and refuses it), never a 201;
- over ASGI, a ``Content-Length`` that lies low while the server hands the app more bytes
  than that is still counted on what is received: 413.

Shapes:

- 100 000 levels of ``[`` (or ``{"a":``), in an append, a read and a stream's ``query``: 422;
- nesting deeper than orjson writes (255 to 1024 levels; near 1000 it was a 500) is a 422;
  250 levels are stored and returned unchanged;
- 10^5 query items, 10^5 tags in one item, 10^5 events, 8000 ``type`` parameters: 422 (413 for
  the events) within the size limits.

Strings:

- tags and types with ``%``, ``_``, ``\\``, quotes, unicode (case, composed and decomposed
  forms), trailing spaces: exact-match semantics on every engine (memory, SQLite, PostgreSQL),
  in queries, in ``GET /v1/events`` and in append conditions; ``a%`` does not match ``ab``,
  ``a_c`` does not match ``abc``;
- NUL in a type or tag anywhere a query takes one (query body, condition, query parameters,
  stream parameters, snapshot names) is a 422 on every engine; NUL inside ``data``/``metadata``
  strings and keys is stored and returned unchanged (PostgreSQL text cannot hold NUL: the JSON
  escape keeps it);
- invalid UTF-8 in a read or snapshot body: 422; invalid UTF-8 in a query string or path, once
  percent-decoded: 400 (it was replaced by U+FFFD, so ``%FF`` and ``%FE`` named one snapshot);
  a snapshot name or key with ``/`` (``%2F``): 422 naming it;
- lone surrogate escapes in type, tag, metadata key, query or snapshot state: 422; a valid
  escaped surrogate pair is stored as the character it encodes.

Positions: ``after``/``before``/``limit``/``condition.after``/snapshot ``position``/the
stream's ``after`` and ``Last-Event-ID`` at -1, 0, 2^63-1, 2^63, 10^30 and as ``true``, ``"3"``
and ``1.5``: a 422 where the value is invalid, a correct answer otherwise, on every engine.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import orjson
import pytest
from starlette.types import Message

from tests.support.api import (
    api_client,
    append,
    append_ok,
    assert_problem,
    event,
    make_settings,
    raw_append_scope,
    running_app,
)
from tests.support.engines import ENGINE_PARAMS, database_url
from tests.support.live_server import HOST, live_server
from tests.support.raw_http import exchange, parse_answer, request_head

pytestmark = pytest.mark.anyio

LIVENESS = 10.0
"""Seconds: a bound on one answer that only a hang or a quadratic path reaches, not a slow
machine (a shared, loaded two-core machine once took 1.16 s for a 1 s bound)."""
LIMIT = 4096
VALIDATION = "/problems/validation"
TOO_LARGE = "/problems/payload-too-large"
JSON = {"content-type": "application/json"}


async def timed(request: Any, bound: float = LIVENESS) -> httpx.Response:
    """Await the request; fail if it took ``bound`` seconds or more."""
    started = time.perf_counter()
    response: httpx.Response = await request
    elapsed = time.perf_counter() - started
    assert elapsed < bound, f"{elapsed:.2f}s for {response.request.method} {response.request.url}"
    return response


def assert_answered_cleanly(response: httpx.Response) -> None:
    """A 2xx, or a 4xx problem: never a 5xx."""
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json", response.text


@pytest.fixture(params=ENGINE_PARAMS)
async def engine_client(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    url = await database_url(request.param, tmp_path)
    async with api_client(make_settings(database_url=url)) as client:
        yield client


# --- body size, over a real server --------------------------------------------------------------


@pytest.fixture(scope="module")
def server_port() -> Iterator[int]:
    env = {"EVENTSTORE_DATABASE_URL": "memory://", "EVENTSTORE_MAX_BODY_BYTES": str(LIMIT)}
    with live_server(env) as url:
        yield int(url.rsplit(":", 1)[1])


BODY_ENDPOINTS = [
    pytest.param("POST", "/v1/events", id="append"),
    pytest.param("POST", "/v1/events/query", id="query"),
    pytest.param("PUT", "/v1/snapshots/s/k", id="snapshot"),
]


def server_head(port: int) -> int:
    value: int = httpx.get(f"http://{HOST}:{port}/v1/head").json()["head"]
    return value


def test_declared_length_over_the_limit_is_413_before_any_body_is_sent(server_port: int) -> None:
    data = exchange(
        server_port, request_head("POST", "/v1/events", f"Content-Length: {LIMIT + 1}"), []
    )  # not a byte of the body is sent: the answer comes before it is read

    answer = parse_answer(data)
    assert answer.status == 413
    assert answer.json()["type"] == TOO_LARGE


@pytest.mark.parametrize(("method", "path"), BODY_ENDPOINTS)
def test_chunked_body_growing_over_the_limit_is_413(
    server_port: int, method: str, path: str
) -> None:
    chunk = b"[" + b" " * 1000
    parts = [b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(LIMIT // len(chunk) + 2)]
    parts.append(b"0\r\n\r\n")

    data = exchange(server_port, request_head(method, path, "Transfer-Encoding: chunked"), parts)

    answer = parse_answer(data)
    assert answer.status == 413
    assert answer.json()["type"] == TOO_LARGE
    assert server_head(server_port) == 0


def test_content_length_lying_low_reads_only_the_declared_bytes(server_port: int) -> None:
    real = orjson.dumps({"events": [{"type": "A", "data": "x" * (LIMIT * 2)}]})

    data = exchange(server_port, request_head("POST", "/v1/events", "Content-Length: 20"), [real])

    status = int(data.split(b" ", 2)[1])
    assert status in (400, 422), data[:300]
    assert b" 201 " not in data
    assert server_head(server_port) == 0


@pytest.mark.parametrize(
    ("value", "status"), [("x" * 256, 422), ("x" * 256 * 1024, 431)], ids=["256", "256KiB"]
)
def test_an_oversize_trace_header_stores_nothing(server_port: int, value: str, status: int) -> None:
    """Its value was copied into every event: a 45 KB body with a 256 KB header stored 250 MB.
    Over 255 characters the append is a 422 naming the header; past the server's header limit
    it never reaches the application (431)."""
    body = orjson.dumps({"events": [{"type": "A"}] * 10})
    head = request_head(
        "POST", "/v1/events", f"Content-Length: {len(body)}", f"X-Correlation-ID: {value}"
    )

    answer = parse_answer(exchange(server_port, head, [body]))

    assert answer.status == status, answer
    assert answer.headers["content-type"] == "application/problem+json"
    if status == 422:
        assert [e["loc"] for e in answer.json()["errors"]] == [["header", "x-correlation-id"]]
    assert server_head(server_port) == 0


async def test_content_length_lying_low_is_counted_on_the_bytes_received() -> None:
    """Raw ASGI: a server that hands the app more than the declared length (the middleware
    cannot trust the header) still gets a 413 once the bytes received pass the limit."""
    chunk = b" " * 1024
    messages = [{"type": "http.request", "body": chunk, "more_body": True}] * (LIMIT // 1024 + 2)
    pending: list[Message] = [*messages, {"type": "http.request", "body": b"", "more_body": False}]
    sent: list[Message] = []

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        sent.append(message)

    scope = raw_append_scope(10)
    async with running_app(make_settings(max_body_bytes=LIMIT)) as app:
        with anyio.fail_after(LIVENESS):
            await app(scope, receive, send)

    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 413
    assert orjson.loads(b"".join(m.get("body", b"") for m in sent[1:]))["type"] == TOO_LARGE


# --- nesting and huge lists -----------------------------------------------------------------------


DEEP = 100_000
URL_DEEP = 20_000
"""As deep as a URL gets: httpx refuses URLs over 64 KiB (``[`` is three bytes there)."""


@pytest.mark.parametrize(
    ("path", "body"),
    [
        pytest.param(
            "/v1/events", b'{"events": [{"type": "A", "data": ' + b"[" * DEEP, id="append"
        ),
        pytest.param(
            "/v1/events", b'{"events": [{"type": "A", "data": ' + b'{"a":' * DEEP, id="objects"
        ),
        pytest.param("/v1/events/query", b'{"query": ' + b"[" * DEEP, id="query"),
        pytest.param("/v1/snapshots/s/k", b'{"position": 0, "state": ' + b"[" * DEEP, id="state"),
    ],
)
async def test_deeply_nested_json_is_refused_fast(
    client: httpx.AsyncClient, path: str, body: bytes
) -> None:
    method = client.put if path.startswith("/v1/snapshots") else client.post
    response = await timed(method(path, content=body, headers=JSON))

    assert_problem(response, 422, VALIDATION)


async def test_deeply_nested_stream_query_is_refused_fast(client: httpx.AsyncClient) -> None:
    with anyio.fail_after(LIVENESS):
        response = await timed(
            client.get("/v1/events/stream", params={"query": "[" * URL_DEEP, "live": "false"})
        )

    assert_problem(response, 422, VALIDATION)


def nested(depth: int) -> Any:
    value: Any = "core"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("depth", [255, 300, 1000])
async def test_nesting_the_store_cannot_write_back_is_refused(
    client: httpx.AsyncClient, depth: int
) -> None:
    """Was a 500 near 1000 levels: orjson reads up to 1024 levels but writes 254, and the
    standard library, which `app.domain.dump_json` falls back to, overflowed Python's recursion
    limit. Refused from 255 levels: what orjson writes is the one rule."""
    levels = depth - 3  # the body's own object, list and event object are three levels
    body = b'{"events": [{"type": "A", "data": ' + b"[" * levels + b"1" + b"]" * levels + b"}]}"

    response = await timed(client.post("/v1/events", content=body, headers=JSON))

    assert_problem(response, 422, VALIDATION)
    assert (await client.get("/v1/head")).json() == {"head": 0}


async def test_nesting_within_the_limit_round_trips(engine_client: httpx.AsyncClient) -> None:
    data = nested(250)
    await append_ok(engine_client, event("A", data=data))

    stored = (await engine_client.post("/v1/events/query", json={})).json()["events"]

    assert stored[0]["data"] == data


MANY = 100_000
INVALID_TYPE = ""
"""An element no list may hold (types are 1 to 255 characters): validated, each is an error."""


def one_too_long_error(response: httpx.Response, loc: list[str | int]) -> None:
    """The list at ``loc`` was refused by its count alone: one error, not one per element."""
    body = assert_problem(response, 422, VALIDATION)
    assert [(e["loc"], e["type"]) for e in body["errors"]] == [(loc, "too_long")]


async def test_huge_lists_are_refused_by_their_count(client: httpx.AsyncClient) -> None:
    """10^5 invalid elements, each body well under 4 MiB: one error at the list (validating
    every element first took 0.7-3 s, `app.api.request_limits`)."""
    invalid_items = [{"types": [INVALID_TYPE]}] * MANY
    cases: list[tuple[str, dict[str, Any], list[str | int]]] = [
        ("/v1/events/query", {"query": {"items": invalid_items}}, ["body", "query", "items"]),
        (
            "/v1/events/query",
            {"query": {"items": [{"tags": [INVALID_TYPE] * MANY}]}},
            ["body", "query", "items", 0, "tags"],
        ),
        (
            "/v1/events",
            {
                "events": [event("A")],
                "condition": {"fail_if_events_match": {"items": invalid_items}},
            },
            ["body", "condition", "fail_if_events_match", "items"],
        ),
    ]
    for path, body, loc in cases:
        content = orjson.dumps(body)
        assert len(content) < 4 * 1024 * 1024
        one_too_long_error(await timed(client.post(path, content=content, headers=JSON)), loc)
    events = orjson.dumps({"events": [{"type": INVALID_TYPE}] * MANY})
    # Counted first, the events are a 413; validated first, they were 10^5 errors of a 422.
    response = await timed(client.post("/v1/events", content=events, headers=JSON))
    assert_problem(response, 413, TOO_LARGE)
    assert (await client.get("/v1/head")).json() == {"head": 0}


@pytest.mark.parametrize("path", ["/v1/events", "/v1/events/stream"])
async def test_thousands_of_query_parameters_are_refused_by_their_count(
    client: httpx.AsyncClient, path: str
) -> None:
    query = "&".join(["type="] * 8_000 + ["live=false"] * (path.endswith("stream")))
    with anyio.fail_after(LIVENESS):
        response = await client.get(f"{path}?{query}")

    body = assert_problem(response, 422, VALIDATION)
    assert [e["type"] for e in body["errors"]] == ["too_long"]


# --- strings: exact matching, NUL, UTF-8, surrogates ----------------------------------------------


TRICKY_TAGS = [
    "a%",
    "ab",
    "a_c",
    "abc",
    "a\\c",
    "a\\\\c",
    "a'c",
    'a"c',
    "a%c",
    "%",
    "_",
    "*",
    "a ",
    "a",
    "A",
    "ä",
    "Ä",
    unicodedata.normalize("NFC", "é"),
    unicodedata.normalize("NFD", "é"),
    "ß",
    "ss",
    "😀",
    "[a-c]",
    "a.c",
]


async def positions_for(client: httpx.AsyncClient, **item: list[str]) -> list[int]:
    response = await client.post("/v1/events/query", json={"query": {"items": [item]}})
    assert response.status_code == 200, response.text
    return [stored["position"] for stored in response.json()["events"]]


async def test_tags_and_types_match_exactly(engine_client: httpx.AsyncClient) -> None:
    """Each tag is carried by one event and each type names one event: a lookup finds exactly
    that one, whatever LIKE, regex, collation or normalisation would make of it."""
    positions = await append_ok(engine_client, *(event(tag, tag) for tag in TRICKY_TAGS))
    expected = dict(zip(TRICKY_TAGS, positions, strict=True))

    for tag in TRICKY_TAGS:
        assert await positions_for(engine_client, tags=[tag]) == [expected[tag]], tag
        assert await positions_for(engine_client, types=[tag]) == [expected[tag]], tag
        listed = await engine_client.get("/v1/events", params={"tag": tag})
        assert [e["position"] for e in listed.json()["events"]] == [expected[tag]], tag
    for absent in ["a%%", "a_", "abc%", "%c", "a\\_c", "A%", "E"]:
        assert await positions_for(engine_client, tags=[absent]) == [], absent


async def test_append_conditions_match_tags_exactly(engine_client: httpx.AsyncClient) -> None:
    await append_ok(engine_client, event("A", "ab"), event("A", "abc"))

    for tag in ["a%", "a_c", "a_", "%"]:
        condition = {"fail_if_events_match": {"items": [{"tags": [tag]}]}, "after": 0}
        response = await append(engine_client, event("B", tag), condition=condition)
        assert response.status_code == 201, (tag, response.text)
    condition = {"fail_if_events_match": {"items": [{"tags": ["a%"]}]}, "after": 0}
    assert_problem(
        await append(engine_client, event("B"), condition=condition),
        409,
        "/problems/append-condition-failed",
    )


NUL_REQUESTS = [
    pytest.param(
        "POST", "/v1/events/query", {"query": {"items": [{"types": ["A\x00"]}]}}, id="q-type"
    ),
    pytest.param(
        "POST", "/v1/events/query", {"query": {"items": [{"tags": ["\x00"]}]}}, id="q-tag"
    ),
    pytest.param(
        "POST",
        "/v1/events",
        {
            "events": [{"type": "A"}],
            "condition": {"fail_if_events_match": {"items": [{"tags": ["k\x00"]}]}},
        },
        id="condition-tag",
    ),
    pytest.param(
        "POST", "/v1/events/query", {"snapshot": {"name": "s\x00", "key": "k"}}, id="q-snapshot"
    ),
    pytest.param("GET", "/v1/events?type=A%00", None, id="list-type"),
    pytest.param("GET", "/v1/events?tag=%00", None, id="list-tag"),
    pytest.param("GET", "/v1/events/stream?tag=k%00&live=false", None, id="stream-tag"),
    pytest.param("GET", "/v1/events/stream?type=%00&live=false", None, id="stream-type"),
    pytest.param("GET", "/v1/snapshots/s%00/k", None, id="snapshot-name"),
    pytest.param("PUT", "/v1/snapshots/s/k%00", {"position": 0, "state": 1}, id="snapshot-key"),
    pytest.param("DELETE", "/v1/snapshots/s%00/k", None, id="snapshot-delete"),
]


@pytest.mark.parametrize(("method", "path", "body"), NUL_REQUESTS)
async def test_nul_in_a_name_is_refused_everywhere(
    engine_client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    content = orjson.dumps(body) if body is not None else None
    with anyio.fail_after(LIVENESS):
        response = await timed(
            engine_client.request(method, path, content=content, headers=JSON if body else {})
        )

    assert_problem(response, 422, VALIDATION)
    assert (await engine_client.get("/v1/head")).json() == {"head": 0}


async def test_nul_inside_payloads_is_kept(engine_client: httpx.AsyncClient) -> None:
    data = {"k\x00": "v\x00", "list": ["\x00"]}
    metadata = {"m\x00": "\x00"}
    await append_ok(engine_client, event("A", data=data, metadata=metadata))
    put = await engine_client.put("/v1/snapshots/s/k", json={"position": 1, "state": data})
    assert put.status_code == 200, put.text

    stored = (await engine_client.post("/v1/events/query", json={})).json()["events"][0]
    snapshot = (await engine_client.get("/v1/snapshots/s/k")).json()

    assert stored["data"] == data
    assert stored["metadata"] == metadata
    assert snapshot["state"] == data


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/events/query"), ("PUT", "/v1/snapshots/s/k"), ("POST", "/v1/events")],
)
async def test_invalid_utf8_in_a_body_is_refused(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    content = (
        b'{"query": null, "position": 0, "state": "\xc3\x28", "events": [{"type": "\xed\xa0\x80"}]}'
    )

    response = await timed(client.request(method, path, content=content, headers=JSON))

    assert_problem(response, 422, VALIDATION)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/events?tag=%FF%FE",
        "/v1/events?type=%ED%A0%80",
        "/v1/events?tag=%C3%28",
        "/v1/snapshots/%FF/k",
        "/v1/snapshots/s/%ED%A0%80",
        "/v1/events/stream?tag=%FF&live=false",
        "/v1/events/%FF",
    ],
)
async def test_invalid_utf8_in_the_url_is_a_400(
    engine_client: httpx.AsyncClient, path: str
) -> None:
    """It was decoded into U+FFFD: different names became one."""
    with anyio.fail_after(LIVENESS):
        response = await timed(engine_client.get(path))

    assert_problem(response, 400, "about:blank")


def raw(port: int, method: str, target: str, body: bytes = b"") -> Any:
    head = request_head(method, target, f"Content-Length: {len(body)}")
    return parse_answer(exchange(port, head, [body]))


def test_snapshot_keys_are_exact_utf8_or_refused(server_port: int) -> None:
    """Over a real server: after ``PUT /v1/snapshots/a/%FF``, ``GET /v1/snapshots/a/%FE``
    returned that snapshot. Now both are 400 and nothing is stored; UTF-8 keys are kept exactly
    (é composed and decomposed are two keys)."""
    state = b'{"position": 0, "state": 1}'
    assert raw(server_port, "PUT", "/v1/snapshots/a/%FF", state).status == 400
    assert raw(server_port, "GET", "/v1/snapshots/a/%FE").status == 400
    assert raw(server_port, "GET", "/v1/snapshots/a/%EF%BF%BD").status == 404  # no U+FFFD key
    assert raw(server_port, "PUT", "/v1/snapshots/a/%C3%A9", state).status == 200
    assert raw(server_port, "GET", "/v1/snapshots/a/e%CC%81").status == 404
    assert raw(server_port, "GET", "/v1/snapshots/a/%C3%A9").json()["key"] == "\u00e9"
    assert raw(server_port, "GET", "/v1/events?tag=%FF").status == 400


@pytest.mark.parametrize("method", ["PUT", "GET", "DELETE"])
@pytest.mark.parametrize(
    ("target", "part"),
    [("/v1/snapshots/a%2Fb/k", "name"), ("/v1/snapshots/a/k%2f", "key")],
    ids=["name", "key"],
)
def test_a_slash_in_a_snapshot_name_or_key_is_refused(
    server_port: int, method: str, target: str, part: str
) -> None:
    """``%2F`` is decoded before routing: such a snapshot could never be addressed (404). It is
    refused at once instead, naming the part."""
    body = b'{"position": 0, "state": 1}' if method == "PUT" else b""

    answer = raw(server_port, method, target, body)

    assert answer.status == 422, answer
    assert [error["loc"] for error in answer.json()["errors"]] == [["path", part]]


async def test_a_slash_in_a_snapshot_to_read_from_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/events/query", json={"snapshot": {"name": "a/b", "key": "k"}})

    body = assert_problem(response, 422, VALIDATION)
    assert [error["loc"] for error in body["errors"]] == [["body", "snapshot", "name"]]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        pytest.param("/v1/events", b'{"events": [{"type": "\\udc00"}]}', id="type"),
        pytest.param("/v1/events", b'{"events": [{"type": "A", "tags": ["\\ud800x"]}]}', id="tag"),
        pytest.param(
            "/v1/events", b'{"events": [{"type": "A", "metadata": {"\\ud800": 1}}]}', id="meta-key"
        ),
        pytest.param(
            "/v1/events", b'{"events": [{"type": "A", "data": "\\ude00\\ud83d"}]}', id="reversed"
        ),
        pytest.param(
            "/v1/events/query", b'{"query": {"items": [{"tags": ["\\udfff"]}]}}', id="query"
        ),
        pytest.param(
            "/v1/snapshots/s/k", b'{"position": 0, "state": "\\ud800"}', id="snapshot-state"
        ),
    ],
)
async def test_lone_surrogates_are_refused(
    engine_client: httpx.AsyncClient, path: str, body: bytes
) -> None:
    method = engine_client.put if path.startswith("/v1/snapshots") else engine_client.post
    response = await timed(method(path, content=body, headers=JSON))

    assert_problem(response, 422, VALIDATION)
    assert (await engine_client.get("/v1/head")).json() == {"head": 0}


async def test_an_escaped_surrogate_pair_is_the_character(
    engine_client: httpx.AsyncClient,
) -> None:
    pair = b'"\\ud83d\\ude00"'
    body = b'{"events": [{"type": %s, "tags": [%s], "data": %s}]}' % (pair, pair, pair)
    assert (await engine_client.post("/v1/events", content=body, headers=JSON)).status_code == 201

    assert await positions_for(engine_client, tags=["😀"]) == [1]
    stored = (await engine_client.post("/v1/events/query", json={})).json()["events"][0]
    assert stored["type"] == stored["data"] == "😀"


# --- positions ----------------------------------------------------------------------------------


BIG = 2**63 - 1


@pytest.mark.parametrize("value", [-1, True, "3", 1.5, "x"], ids=repr)
@pytest.mark.parametrize("field", ["after", "before", "limit"])
async def test_invalid_positions_in_a_read_body_are_refused(
    engine_client: httpx.AsyncClient, field: str, value: Any
) -> None:
    """``true`` and ``"3"`` were taken as 1 and 3 by pydantic's lax mode."""
    response = await timed(engine_client.post("/v1/events/query", json={field: value}))

    assert_problem(response, 422, VALIDATION)


@pytest.mark.parametrize("value", [0, 1, "false"], ids=repr)
async def test_backwards_must_be_a_boolean(engine_client: httpx.AsyncClient, value: Any) -> None:
    response = await timed(engine_client.post("/v1/events/query", json={"backwards": value}))

    assert_problem(response, 422, VALIDATION)


async def test_zero_before_is_refused(engine_client: httpx.AsyncClient) -> None:
    for response in [
        await timed(engine_client.post("/v1/events/query", json={"before": 0})),
        await timed(engine_client.get("/v1/events", params={"before": "0"})),
    ]:
        assert_problem(response, 422, VALIDATION)


@pytest.mark.parametrize("value", [BIG, BIG + 1, 10**30], ids=["2^63-1", "2^63", "10^30"])
async def test_enormous_positions_are_answered_correctly(
    engine_client: httpx.AsyncClient, value: int
) -> None:
    """An enormous ``after`` reads nothing, an enormous ``before`` or ``limit`` everything;
    all in the body and in the query string, and as an append condition's ``after``."""
    await append_ok(engine_client, event("A", "t"), event("A", "t"))

    for read in [
        engine_client.post("/v1/events/query", json={"after": value}),
        engine_client.get("/v1/events", params={"after": str(value)}),
    ]:
        body = (await timed(read)).json()
        assert (body["events"], body["head"]) == ([], 2)
    for read in [
        engine_client.post("/v1/events/query", json={"before": value, "limit": value}),
        engine_client.get("/v1/events", params={"before": str(value), "limit": str(value)}),
    ]:
        body = (await timed(read)).json()
        assert [e["position"] for e in body["events"]] == [1, 2]
    condition = {"fail_if_events_match": {"items": [{"tags": ["t"]}]}, "after": value}
    assert (await timed(append(engine_client, event("A"), condition=condition))).status_code == 201


@pytest.mark.parametrize("value", [BIG + 1, 10**30], ids=["2^63", "10^30"])
async def test_snapshot_position_beyond_the_head_is_refused(
    engine_client: httpx.AsyncClient, value: int
) -> None:
    response = await timed(
        engine_client.put("/v1/snapshots/s/k", json={"position": value, "state": 1})
    )

    assert_problem(response, 422, VALIDATION)


@pytest.mark.parametrize("value", [-1, True, "1", 0.5], ids=repr)
async def test_invalid_positions_in_conditions_and_snapshots_are_refused(
    engine_client: httpx.AsyncClient, value: Any
) -> None:
    condition = {"fail_if_events_match": {"items": [{"types": ["A"]}]}, "after": value}
    responses = [
        await timed(append(engine_client, event("A"), condition=condition)),
        await timed(engine_client.put("/v1/snapshots/s/k", json={"position": value, "state": 1})),
    ]

    for response in responses:
        assert_problem(response, 422, VALIDATION)
    assert (await engine_client.get("/v1/head")).json() == {"head": 0}


@pytest.mark.parametrize(
    ("params", "headers"),
    [
        pytest.param({"after": str(BIG)}, {}, id="after-2^63-1"),
        pytest.param({"after": str(10**30)}, {}, id="after-10^30"),
        pytest.param({"after": "9" * 4000}, {}, id="after-4000-digits"),
        pytest.param({}, {"Last-Event-ID": str(BIG)}, id="last-event-id-2^63-1"),
        pytest.param({}, {"Last-Event-ID": "9" * 30}, id="last-event-id-30-digits"),
        pytest.param({}, {"Last-Event-ID": "0"}, id="last-event-id-0"),
    ],
)
async def test_enormous_stream_positions_end_a_finite_stream(
    engine_client: httpx.AsyncClient, params: dict[str, str], headers: dict[str, str]
) -> None:
    """With ``live=false`` the stream after an enormous position is empty and ends; after 0 it
    holds the one event."""
    await append_ok(engine_client, event("A"))

    with anyio.fail_after(LIVENESS):
        response = await timed(
            engine_client.get(
                "/v1/events/stream", params={**params, "live": "false"}, headers=headers
            )
        )

    assert response.status_code == 200, response.text
    expected = 1 if headers.get("Last-Event-ID") == "0" else 0
    assert response.text.count("\nid: ") + response.text.startswith("id: ") == expected


@pytest.mark.parametrize(
    ("params", "headers"),
    [
        pytest.param({"after": "1e3"}, {}, id="after-exponent"),
        pytest.param({}, {"Last-Event-ID": "9" * 31}, id="last-event-id-31-digits"),
        pytest.param({}, {"Last-Event-ID": ""}, id="last-event-id-empty"),
        pytest.param({}, {"Last-Event-ID": " 1"}, id="last-event-id-space"),
    ],
)
async def test_bad_stream_positions_are_refused(
    client: httpx.AsyncClient, params: dict[str, str], headers: dict[str, str]
) -> None:
    with anyio.fail_after(LIVENESS):
        response = await timed(
            client.get("/v1/events/stream", params={**params, "live": "false"}, headers=headers)
        )

    assert_problem(response, 422, VALIDATION)


@pytest.mark.parametrize(
    "value",
    ["-1", "1.5", "true", "", "9" * 5000],
    ids=["-1", "1.5", "true", "empty", "5000-digits"],
)
@pytest.mark.parametrize("name", ["after", "before", "limit"])
async def test_bad_positions_in_the_query_string_are_refused(
    client: httpx.AsyncClient, name: str, value: str
) -> None:
    response = await timed(client.get("/v1/events", params={name: value}))

    assert_problem(response, 422, VALIDATION)
