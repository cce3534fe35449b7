"""Credentials never reach the service's output: what ``python -m app`` prints, uvicorn's access
log included (``EVENTSTORE_LOG_LEVEL=info``).

Logs are kept, shipped and read by more people than the tokens are meant for. Bearer tokens
travel in a header, which no log line shows; stream tickets travel in the URL, which the access
log writes, so the service replaces them with ``ticket=[redacted]`` (however the parameter's
name is percent-encoded) and keeps the line, which operators need. Refused requests (unknown
token, missing scope, invalid input, a forged ticket) are where a careless message would echo
the credential, so they are made too. And a tokens configuration the service cannot use stops
it at start-up with a message that says what is wrong without showing the token.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.support.live_server import ServiceProcess, refused_start, service_process
from tests.support.sse import STREAM_PATH, SseStream, open_stream, stream_attempt
from tests.support.streams import client_for, event, service_env
from tests.support.tickets import bearer, mint_ticket, refused_stream

WRITER = "writer-s3cret-7c41e9a2"
READER = "reader-s3cret-0d6b3f85"
UNKNOWN = "unknown-s3cret-9e2a7c14"
TOKENS = json.dumps({WRITER: ["read", "append"], READER: ["read"]})
TAG = "logged"

LOG_SECONDS = 10.0
"""How long an access log line may take to reach the output."""


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    database = f"sqlite:///{tmp_path_factory.mktemp('store') / 'store.db'}"
    env = service_env(database, api_tokens=TOKENS, log_level="info")
    with service_process("app", env) as process:
        yield process


def access_line(method: str, target: str, status: int) -> str:
    """The part of uvicorn's access log line that names the request and its status."""
    return f'"{method} {target} HTTP/1.1" {status}'


def output_with(service: ServiceProcess, lines: list[str]) -> str:
    """The service's output once it holds each of ``lines``; fails after `LOG_SECONDS`."""
    deadline = time.monotonic() + LOG_SECONDS
    while True:
        output = service.output()
        missing = [line for line in lines if line not in output]
        if not missing:
            return output
        assert time.monotonic() < deadline, f"not logged: {missing}\nThe output:\n{output}"
        time.sleep(0.05)


def assert_absent(output: str, secrets: dict[str, str]) -> None:
    shown = [name for name, secret in secrets.items() if secret in output]
    assert not shown, f"the output shows {shown}:\n{output}"


@pytest.mark.anyio
async def test_bearer_tokens_are_not_in_the_output(service: ServiceProcess) -> None:
    async with client_for(service.base_url) as client:
        answers = [
            await client.post(
                "/v1/events", json={"events": [event("Logged", TAG)]}, headers=bearer(WRITER)
            ),
            await client.get("/v1/events", params={"tag": TAG}, headers=bearer(READER)),
            await client.post(  # no scope append
                "/v1/events", json={"events": [event("Logged", TAG)]}, headers=bearer(READER)
            ),
            await client.get("/v1/head", headers=bearer(UNKNOWN)),
            await client.get("/v1/head", headers={"Authorization": f"Basic {WRITER}"}),
            await client.post("/v1/events", json={"events": "none"}, headers=bearer(WRITER)),
        ]
        assert [answer.status_code for answer in answers] == [201, 200, 403, 401, 401, 422]
        async with open_stream(client, {"after": 0, "tag": TAG}, bearer(READER)) as stream:
            await stream.take(1)
        refused = await refused_stream(client, {"after": 0, "tag": TAG}, bearer(UNKNOWN))
        assert refused.status_code == 401
    answers.append(refused)
    for answer in answers:  # no answer echoes the credential either
        assert_absent(answer.text, {"writer": WRITER, "reader": READER, "unknown": UNKNOWN})

    stream_target = f"{STREAM_PATH}?after=0&tag={TAG}"
    output = output_with(
        service,
        [
            access_line("POST", "/v1/events", 201),
            access_line("GET", f"/v1/events?tag={TAG}", 200),
            access_line("POST", "/v1/events", 403),
            access_line("GET", "/v1/head", 401),
            access_line("POST", "/v1/events", 422),
            access_line("GET", stream_target, 200),
            access_line("GET", stream_target, 401),
        ],
    )
    assert_absent(output, {"writer": WRITER, "reader": READER, "unknown": UNKNOWN})


def _changed_at(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


@pytest.mark.anyio
async def test_stream_tickets_are_redacted_from_the_access_log(service: ServiceProcess) -> None:
    async with client_for(service.base_url) as client:
        writer = bearer(WRITER)
        stored = await client.post(
            "/v1/events", json={"events": [event("Logged", TAG)]}, headers=writer
        )
        assert stored.status_code == 201, stored.text
        ticket = await mint_ticket(client, READER)
        forged = _changed_at(ticket, len(ticket) - 10)  # in the signature
        accepted = [
            f"{STREAM_PATH}?ticket={ticket}&after=0&tag={TAG}",
            # The same parameter, its name percent-encoded: the service takes it as the ticket.
            f"{STREAM_PATH}?after=0&%74icket={ticket}&tag={TAG}",
        ]
        for target in accepted:
            async with stream_attempt(client, url=target) as response:
                assert response.status_code == 200, response.text
                await SseStream(response).take(1)
        refused = [
            (f"{STREAM_PATH}?after=0&tag={TAG}&ticket={forged}", 401),
            (f"{STREAM_PATH}?after=-1&ticket={ticket}", 422),
            (f"/v1/head?ticket={ticket}", 401),  # not accepted there, redacted all the same
            # Encoded twice: not taken for the ticket (so no credential: 401), but it is one.
            (f"{STREAM_PATH}?after=0&%2574icket={ticket}", 401),
            # Separated by ";": not a parameter for the service (401), a ticket all the same.
            (f"{STREAM_PATH}?live=false;ticket={ticket}", 401),
            (f"{STREAM_PATH}?Ticket={ticket}&after=0", 401),  # another case
            (f"{STREAM_PATH}?ticket=x&ticket={ticket}&live=false", 200),  # repeated: the last
            (f"{STREAM_PATH}?after=0%26ticket%3D{ticket}", 401),  # an encoded separator
            (f"{STREAM_PATH}%3Fticket%3D{ticket}", 404),  # in the path
        ]
        for target, status in refused:
            if status == 200:
                async with stream_attempt(client, url=target) as response:
                    assert response.status_code == 200, response.text
                    await SseStream(response).rest()
                continue
            response = await refused_stream(client, url=target)
            assert response.status_code == status, response.text
            if status != 404:  # a 404 names the path the client sent
                assert ticket not in response.text
    output = output_with(
        service,
        [
            access_line("GET", f"{STREAM_PATH}?ticket=[redacted]&after=0&tag={TAG}", 200),
            access_line("GET", f"{STREAM_PATH}?after=0&ticket=[redacted]&tag={TAG}", 200),
            access_line("GET", f"{STREAM_PATH}?after=0&tag={TAG}&ticket=[redacted]", 401),
            access_line("GET", f"{STREAM_PATH}?after=-1&ticket=[redacted]", 422),
            access_line("GET", "/v1/head?ticket=[redacted]", 401),
            access_line("GET", f"{STREAM_PATH}?after=0&ticket=[redacted]", 401),
            access_line("GET", f"{STREAM_PATH}?live=false;ticket=[redacted]", 401),
            access_line("GET", f"{STREAM_PATH}?ticket=[redacted]&after=0", 401),
            access_line(
                "GET", f"{STREAM_PATH}?ticket=[redacted]&ticket=[redacted]&live=false", 200
            ),
            access_line("GET", "[redacted]", 401),
            access_line("GET", "[redacted]", 404),
        ],
    )
    signature = ticket.rpartition(".")[2]
    assert_absent(
        output,
        {
            "ticket": ticket,
            "its signature": signature,
            "the forged ticket": forged,
            "reader": READER,
        },
    )


SECRET = "s3cret-token-value"
"""The token of each bad configuration below: never to be shown."""
PASTED = "an0ther-s3cret-token"
"""A token pasted where a scope goes: never to be shown either."""

BAD_TOKENS = [
    pytest.param({SECRET: "nonsense-scope"}, "scope", id="scopes-a-string"),
    pytest.param({SECRET: ["read", PASTED]}, "unknown scope", id="unknown-scope"),
    pytest.param({SECRET: 5}, "scope", id="scopes-a-number"),
    pytest.param({SECRET: []}, "scope", id="no-scopes"),
    pytest.param({"an-ok-token-value": ["read"], SECRET: [5]}, "env#2", id="second-token"),
]


@pytest.mark.parametrize(("tokens", "named"), BAD_TOKENS)
def test_unusable_tokens_stop_the_start_up_without_showing_them(
    tokens: dict[str, object], named: str
) -> None:
    started = refused_start({"EVENTSTORE_API_TOKENS": json.dumps(tokens)})
    assert started.returncode != 0, started.stderr
    [message] = started.stderr.strip().splitlines()  # one line, no traceback
    assert message.startswith("python -m app: invalid tokens: env#"), message  # by its name
    assert named in message, message
    output = started.stdout + started.stderr
    assert_absent(output, {"a token": SECRET, "another token": PASTED})
    assert_absent(output, {key: key for key in tokens})


@pytest.mark.parametrize(
    "value",
    [json.dumps([SECRET]), json.dumps(SECRET), SECRET, f'{{"{SECRET}": ["read"]'],
    ids=["a-list", "a-string", "not-json", "truncated-json"],
)
def test_tokens_that_are_not_a_json_object_stop_the_start_up_without_showing_them(
    value: str,
) -> None:
    started = refused_start({"EVENTSTORE_API_TOKENS": value})
    assert started.returncode != 0, started.stderr
    [message] = started.stderr.strip().splitlines()  # one line, no traceback
    assert "EVENTSTORE_API_TOKENS" in message, message
    assert_absent(started.stdout + started.stderr, {"the token": SECRET})
