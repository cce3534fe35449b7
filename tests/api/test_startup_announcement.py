"""At start-up the service says who may call it, so that an operator notices an open API.

With no token configured anyone who reaches the service may read and append: on localhost that
is a development set-up and a plain INFO line says so; listening beyond localhost it is most
likely a mistake, and a WARNING names the address and the settings that close it. With tokens
configured the line names them (``env#1``... and the names of the tokens file), never a token:
logs are read by more people than may call the API.

The lifespan makes the announcement (`app.main.announce_access`), caught here with caplog; one
real ``python -m app`` shows that the line reaches the process's output with the default
logging set-up.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from app.access.tokens import Scope, digest_of, token_line
from tests.support.api import make_settings, running_app
from tests.support.live_server import service_process

pytestmark = pytest.mark.anyio

ANNOUNCER = "app.main"
ENV_TOKENS = {"first-env-token-0123456789": ["read"], "second-env-token-0123456789": ["append"]}
FILE_TOKENS = {"billing": "billing-token-0123456789", "reporting": "reporting-token-0123456789"}
SECRETS = [*ENV_TOKENS, *FILE_TOKENS.values()]


@pytest.fixture
def tokens_file(tmp_path: Path) -> Path:
    path = tmp_path / "tokens"
    lines = [token_line(name, token, [Scope.READ]) for name, token in FILE_TOKENS.items()]
    path.write_text("# who may call the event store\n" + "\n".join(lines) + "\n")
    return path


async def announcement(caplog: pytest.LogCaptureFixture, **settings: object) -> logging.LogRecord:
    """The one line the lifespan logs about access, for a service with these settings."""
    caplog.set_level(logging.INFO, logger=ANNOUNCER)
    async with running_app(make_settings(**settings)):
        pass
    [record] = [record for record in caplog.records if record.name == ANNOUNCER]
    return record


def assert_no_secret_in(text: str) -> None:
    for token in SECRETS:
        assert token not in text
        assert digest_of(token).removeprefix("sha256:") not in text


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
async def test_open_on_localhost_is_said_plainly(
    caplog: pytest.LogCaptureFixture, host: str
) -> None:
    record = await announcement(caplog, host=host)

    assert record.levelno == logging.INFO
    assert "no API tokens configured" in record.getMessage()
    assert "open" in record.getMessage()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])
async def test_open_beyond_localhost_is_said_loudly(
    caplog: pytest.LogCaptureFixture, host: str
) -> None:
    record = await announcement(caplog, host=host)

    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert "NO ACCESS CONTROL" in message
    assert f"listens on {host}," in message
    assert "EVENTSTORE_API_TOKENS" in message
    assert "EVENTSTORE_API_TOKENS_FILE" in message


async def test_configured_tokens_are_named_never_shown(
    caplog: pytest.LogCaptureFixture, tokens_file: Path
) -> None:
    record = await announcement(
        caplog, host="0.0.0.0", api_tokens=ENV_TOKENS, api_tokens_file=tokens_file
    )

    assert record.levelno == logging.INFO
    message = record.getMessage()
    for name in ["env#1", "env#2", "billing", "reporting"]:
        assert name in message
    assert "open" not in message
    assert_no_secret_in(caplog.text)


def test_the_process_names_its_tokens_in_its_output(tokens_file: Path) -> None:
    env = {
        "EVENTSTORE_DATABASE_URL": "memory://",
        "EVENTSTORE_LOG_LEVEL": "info",
        "EVENTSTORE_API_TOKENS": json.dumps(ENV_TOKENS),
        "EVENTSTORE_API_TOKENS_FILE": str(tokens_file),
    }
    with service_process("app", env, inherit_settings=False) as service:
        output = service.output()

    [line] = [line for line in output.splitlines() if "API tokens" in line]
    assert line.startswith("INFO:")
    for name in ["env#1", "env#2", "billing", "reporting"]:
        assert name in line
    assert_no_secret_in(output)


def test_the_open_process_says_so_in_its_output() -> None:
    env = {"EVENTSTORE_DATABASE_URL": "memory://", "EVENTSTORE_LOG_LEVEL": "info"}
    with service_process("app", env, inherit_settings=False) as service:
        output = service.output()

    assert "no API tokens configured: the API is open" in output
