"""The crash test (`tests/support/crash.py`), short: kill -9 the service a few times under load.

Each kill lands at a random moment of 50-500 ms of appends from several clients and of a stream
following the log. Across the kills nothing acknowledged may be lost, no append may be half
written, every retry with the same ids must be answered 201 or 200 (replay), never 409/422, and
the stream, resuming with Last-Event-ID, must receive every position once, in order. The long
run is `scripts/crashtest --kills 200`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.crash import run_crashtest
from tests.support.engines import SQL_ENGINES, database_url

pytestmark = pytest.mark.anyio

KILLS = {"sqlite": 5, "postgres": 3}


@pytest.mark.parametrize("engine_name", SQL_ENGINES)
async def test_nothing_acknowledged_is_lost_across_kills(engine_name: str, tmp_path: Path) -> None:
    url = await database_url(engine_name, tmp_path)
    report = await run_crashtest(url, kills=KILLS[engine_name], clients=4, seed=7)
    print("\n".join(report.lines()))
    assert report.violations == []
    figures = report.figures
    assert figures.kills == KILLS[engine_name]
    assert figures.acknowledged == figures.appends_sent > 0
    assert figures.events > 0
    assert figures.stream_messages == figures.events
    assert (figures.lost, figures.duplicated, figures.out_of_order, figures.half_written) == (
        0,
        0,
        0,
        0,
    )


async def test_nothing_acknowledged_is_lost_when_one_of_two_sqlite_processes_is_killed(
    tmp_path: Path,
) -> None:
    # A second process on the same file serves half the appenders and a stream of its own
    # throughout: each kill lands while both write, and its stream must deliver, woken across
    # processes, every event the killed processes stored.
    url = await database_url("sqlite", tmp_path)
    report = await run_crashtest(url, kills=KILLS["sqlite"], clients=4, seed=7, processes=2)
    print("\n".join(report.lines()))
    assert report.violations == []
    figures = report.figures
    assert figures.kills == KILLS["sqlite"]
    assert figures.acknowledged == figures.appends_sent > 0
    assert figures.stream_messages == 2 * figures.events > 0
    assert (figures.lost, figures.duplicated, figures.out_of_order, figures.half_written) == (
        0,
        0,
        0,
        0,
    )
