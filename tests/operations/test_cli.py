"""The ``eventstore`` command itself: ``--help`` on every subcommand, the console script
declared, tokens, migrate, stats (the figures the service shows), and errors an operator can
act on (one line, status 1)."""

from __future__ import annotations

import asyncio
import hashlib
import tomllib
from pathlib import Path

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from app.cli.main import cli
from tests.support.live_server import REPO, service_process, settings_env
from tests.support.stores import eventstore, fill_store

SUBCOMMANDS = [
    "serve", "migrate", "backup", "export", "import", "copy", "verify", "stats", "tokens",
    "tokens new", "tokens hash",
]  # fmt: skip


def test_the_console_script_is_declared() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["eventstore"] == "app.cli.main:main"


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command: str) -> None:
    result = CliRunner().invoke(cli, [*command.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_the_top_level_help_lists_every_subcommand() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    for command in SUBCOMMANDS:
        if " " not in command:
            assert f" {command} " in result.output


def test_tokens_new_appends_a_digest_and_prints_the_token_once(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    made = eventstore("tokens", "new", "billing", "read,append", "--file", tokens)
    token = made.stdout.strip()
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert tokens.read_text() == f"billing  sha256:{digest}  read,append\n"
    line = eventstore("tokens", "hash", "billing", "append,read", stdin=token.encode()).stdout
    assert line.strip() == f"billing  sha256:{digest}  read,append"
    refused = eventstore("tokens", "new", "x", "read,fly", check=False)
    assert refused.returncode == 1
    assert "unknown scope" in refused.stderr


def test_migrate_brings_a_new_store_to_the_latest_revision(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    behind = eventstore("migrate", "--status", "--database-url", url, check=False)
    assert behind.returncode == 1
    assert "revision (none)" in behind.stdout
    assert "migrated from (empty) to 0003" in eventstore("migrate", "--database-url", url).stdout
    assert "revision 0003 (current)" in eventstore("migrate", "--status", "-d", url).stdout
    assert "already the latest" in eventstore("migrate", "--database-url", url).stdout


def test_stats_shows_what_the_service_shows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    asyncio.run(fill_store(url, 1200))
    shown = orjson.loads(eventstore("stats", "--json", "--tags", "5", "-d", url).stdout)
    with service_process("app", settings_env(url), inherit_settings=False) as service:
        served = httpx.get(f"{service.base_url}/v1/stats").json()
        types = httpx.get(f"{service.base_url}/v1/event-types").json()
        tags = httpx.get(f"{service.base_url}/v1/tags", params={"limit": 5}).json()
    assert (shown["events"], shown["head"]) == (served["events"], served["head"]) == (1200, 1200)
    assert shown["first_recorded_at"] == served["first_recorded_at"]
    assert shown["last_recorded_at"] == served["last_recorded_at"]
    assert [(t["type"], t["count"]) for t in shown["event_types"]] == [
        (t["type"], t["count"]) for t in types["event_types"]
    ]
    assert [(t["tag"], t["count"]) for t in shown["tags"]] == [
        (t["tag"], t["count"]) for t in tags["tags"]
    ]
    assert shown["more_tags"] is True
    assert "event types" in eventstore("stats", "-d", url).stdout


def test_an_unreachable_store_is_one_line_and_status_1() -> None:
    url = "postgresql+asyncpg://nobody@127.0.0.1:1/nothing"
    failed = eventstore("export", "--database-url", url, check=False)
    assert failed.returncode == 1
    assert failed.stderr.startswith("eventstore: export from postgresql+asyncpg://nobody@")
    assert "Traceback" not in failed.stderr


def test_an_export_never_overwrites_a_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    existing = tmp_path / "existing.ndjson"
    existing.write_text("keep")
    failed = eventstore("export", existing, "--database-url", url, check=False)
    assert failed.returncode == 1
    assert existing.read_text() == "keep"


def test_progress_steps_aside_when_the_output_is_not_a_terminal(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    asyncio.run(fill_store(url, 3000))
    done = eventstore("export", tmp_path / "out.ndjson", "--database-url", url)
    assert "events/s" not in done.stderr
    assert "\x1b[" not in done.stderr
