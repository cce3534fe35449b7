"""A pytest plugin of the mutation run: every test builds the SQL statements it runs.

The statements of `app.storage.sql.queries` are built once per query shape and cached, and so is
their compiled form. In a normal run that is the point; in a mutation run it would hide a mutant
of a builder from every test but the first to use a shape, and mutmut, which records which tests
call each function, would then run only that test against it. Emptying the caches before each
test makes every test that reads or checks a condition a caller of the builders.
"""

from __future__ import annotations

import pytest

from app.storage.sql import compiled, queries


@pytest.fixture(autouse=True)
def _fresh_statements() -> None:
    queries._statement.cache_clear()
    queries._first_positions.cache_clear()
    compiled.raw.cache_clear()
