"""What ``import`` and ``copy`` refuse and what they do when asked: positions that do not
continue the target, truncated files, re-runs, renumbering, ranges and queries, gzip, stdin,
and a copy from PostgreSQL back to SQLite."""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path

import orjson
import pytest
from sqlalchemy import Connection

from app.storage.sql.operations.database import reading, run_on
from app.storage.sql.rows import head_of
from tests.operations.conftest import KINDS, empty_store
from tests.support.stores import eventstore, fill_store

EVENTS = 2500


def head(url: str) -> int:
    def work(conn: Connection) -> int:
        with reading(conn):
            return head_of(conn)

    return run_on([url], work)


@pytest.fixture
def source(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'source.db'}"
    asyncio.run(fill_store(url, EVENTS))
    return url


@pytest.fixture
def exported(source: str, tmp_path: Path) -> Path:
    path = tmp_path / "export.ndjson"
    eventstore("export", path, "--database-url", source)
    return path


def lines_of(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_an_import_into_a_store_that_is_not_empty_is_refused_and_stores_nothing(
    exported: Path, tmp_path: Path
) -> None:
    target = f"sqlite:///{tmp_path / 'target.db'}"
    asyncio.run(fill_store(target, 10, first=100_000))
    refused = eventstore("import", exported, "--database-url", target, check=False)
    assert refused.returncode == 1
    assert "position 1 of the file does not continue the target's log (its head is 10)" in (
        " ".join(refused.stderr.split())
    )
    assert head(target) == 10


def test_renumbered_events_follow_the_head_with_their_appends_and_snapshots(
    exported: Path, tmp_path: Path
) -> None:
    target = f"sqlite:///{tmp_path / 'target.db'}"
    asyncio.run(fill_store(target, 10, first=100_000))
    eventstore("import", exported, "--database-url", target, "--renumber")
    assert head(target) == 10 + EVENTS
    eventstore("verify", "--database-url", target)
    moved = tmp_path / "moved.ndjson"
    eventstore("export", moved, "--database-url", target, "--after", "10")
    original, renumbered = lines_of(exported), lines_of(moved)
    events = [r for r in original if r["kind"] == "event"]
    moved_events = [r for r in renumbered if r["kind"] == "event"]
    assert [r["id"] for r in moved_events] == [r["id"] for r in events]
    assert [r["position"] for r in moved_events] == list(range(11, 11 + EVENTS))
    assert [r["append"] for r in moved_events] == [int(str(r["append"])) + 10 for r in events]
    # Run again: everything is there already, nothing is stored twice.
    again = eventstore("import", exported, "--database-url", target, "--renumber")
    assert f"0 events stored, {EVENTS} already there" in " ".join(again.stderr.split())
    assert head(target) == 10 + EVENTS


def test_a_truncated_file_is_imported_as_far_as_it_goes_and_reported(
    exported: Path, tmp_path: Path
) -> None:
    truncated = tmp_path / "truncated.ndjson"
    truncated.write_bytes(b"\n".join(exported.read_bytes().splitlines()[:1001]) + b"\n")
    target = f"sqlite:///{tmp_path / 'target.db'}"
    refused = eventstore("import", truncated, "--database-url", target, check=False)
    assert refused.returncode == 1
    assert "truncated" in refused.stderr
    assert head(target) == 1000
    eventstore("import", exported, "--database-url", target)  # the whole file completes it
    assert head(target) == EVENTS


def test_a_range_continues_a_store_and_a_query_needs_renumbering(
    source: str, tmp_path: Path
) -> None:
    first, rest = tmp_path / "first.ndjson", tmp_path / "rest.ndjson.gz"
    eventstore("export", first, "--database-url", source, "--to", "1000", "--no-snapshots")
    eventstore("export", rest, "--database-url", source, "--after", "1000")
    target = f"sqlite:///{tmp_path / 'target.db'}"
    refused = eventstore("import", rest, "--database-url", target, check=False)
    assert refused.returncode == 1  # position 1001 cannot start an empty store
    eventstore("import", first, "--database-url", target)
    eventstore("import", rest, "--database-url", target)
    whole, again = tmp_path / "whole.ndjson", tmp_path / "again.ndjson"
    eventstore("export", whole, "--database-url", source)
    eventstore("export", again, "--database-url", target)
    assert again.read_bytes() == whole.read_bytes()

    flagged = tmp_path / "flagged.ndjson"
    eventstore("export", flagged, "--database-url", source, "--tag", "flagged")
    records = lines_of(flagged)
    assert records[0]["query"] == {"items": [{"types": [], "tags": ["flagged"]}]}
    assert {r["position"] for r in records if r["kind"] == "event"} == set(range(1, EVENTS + 1, 5))
    only = f"sqlite:///{tmp_path / 'only.db'}"
    assert eventstore("import", flagged, "--database-url", only, check=False).returncode == 1
    eventstore("import", flagged, "--database-url", only, "--renumber")
    assert head(only) == EVENTS // 5
    eventstore("verify", "--database-url", only)


def test_an_export_goes_to_stdout_and_an_import_reads_stdin(
    source: str, exported: Path, tmp_path: Path
) -> None:
    printed = eventstore("export", "--database-url", source)
    assert printed.stdout.encode() == exported.read_bytes()
    target = f"sqlite:///{tmp_path / 'target.db'}"
    eventstore("import", "-", "--database-url", target, stdin=gzip.compress(exported.read_bytes()))
    assert head(target) == EVENTS


@pytest.mark.parametrize("kind", KINDS)
def test_a_copy_there_and_back_is_the_same_store(
    kind: str, source: str, exported: Path, tmp_path: Path
) -> None:
    there = asyncio.run(empty_store(kind, tmp_path, "there"))
    back = f"sqlite:///{tmp_path / 'back.db'}"
    eventstore("copy", source, there)
    eventstore("copy", there, back)
    again = eventstore("copy", there, back)
    assert f"0 events stored, {EVENTS} already there" in " ".join(again.stderr.split())
    result = tmp_path / "back.ndjson"
    eventstore("export", result, "--database-url", back)
    assert result.read_bytes() == exported.read_bytes()


def test_a_line_that_is_not_a_record_is_named(exported: Path, tmp_path: Path) -> None:
    lines = exported.read_bytes().splitlines()
    broken = tmp_path / "broken.ndjson"
    broken.write_bytes(b"\n".join([*lines[:3], b'{"kind": "event", "position": 3}', *lines[4:]]))
    target = f"sqlite:///{tmp_path / 'target.db'}"
    refused = eventstore("import", broken, "--database-url", target, check=False)
    assert refused.returncode == 1
    assert "line 4: not a record of format 1" in refused.stderr
    assert head(target) == 0  # the batch it was in is not stored
