"""What a mutation run mutates, and with which tests: the full run and the fast sample.

Both mutate the same modules (so that the list of equivalents is checked against every mutant
the tool generates); they differ in the tests they give mutmut and the mutants they try.

- Full: every mutant, against the fast tests that cover the modules: the contract suite and the
  batch tests on memory and SQLite, the access tests. PostgreSQL is left out: the statements
  are the same constructs compiled for another dialect, and each test resets one shared
  database, which forked test processes cannot share. Races, streams and faults start servers
  (slow, and outside the mutated process), so they are not run here.
- Fast (CI): the mutants of how a batch decides (`FAST_SAMPLE`: conditions, and the schemas it
  checks first) and of the matching rule, against the tests that decide them, so that mutmut's
  first pass over the tests (which records who calls what) stays short.
"""

from __future__ import annotations

from dataclasses import dataclass

MODULES = [
    "app/domain.py",
    "app/storage/memory.py",
    "app/storage/idempotency.py",
    "app/storage/event_schemas.py",
    "app/storage/sql/batch.py",
    "app/storage/sql/queries.py",
    "app/storage/sql/reads.py",
    "app/access/control.py",
    "app/access/tokens.py",
    "app/access/tickets.py",
    "app/access/limits.py",
]
"""The modules that decide: the DCB matching rule and markers, the batch, the SQL of first
matches and reads, the in-memory specification, the replay rule, the schemas' verdicts, and the
access checks."""

PYTEST_ARGS = [
    "-m",
    "not postgres",
    "-p",
    "no:cacheprovider",
    "-p",
    "tests.support.mutation.fresh_statements",
    # The one test that reads what a `python -m app` started elsewhere prints: mutmut's
    # trampolines look for their configuration from the process's directory, and complain.
    "--deselect",
    "tests/api/test_tokens_cli.py::test_python_m_app_reports_a_malformed_tokens_file_in_one_line",
]


@dataclass(frozen=True)
class Variant:
    name: str
    tests: list[str]
    sample: list[str] | None
    """Patterns of the mutants tried (mutmut's names); None: all of them."""


FULL = Variant(
    "full",
    tests=[
        "tests/contract",
        "tests/storage/test_group_commit.py",
        "tests/storage/test_batch_conditions.py",
        "tests/access",
        "tests/api/test_access.py",
        "tests/api/test_limits.py",
        "tests/api/test_tokens_cli.py",
    ],
    sample=None,
)

FAST_SAMPLE = [
    "app.storage.sql.batch.xǁPendingǁfirst_match__mutmut_*",
    "app.storage.sql.batch.x__decide__mutmut_*",
    "app.storage.sql.batch.x__committed_conflicts__mutmut_*",
    "app.domain.x_matches__mutmut_*",
    "app.domain.x_item_matches__mutmut_*",
]
"""How a batch checks a condition against the events it has decided to store and against the
committed ones, and the matching rule itself."""

FAST = Variant(
    "fast",
    tests=[
        "tests/storage/test_batch_conditions.py",
        "tests/storage/test_group_commit.py",
        "tests/contract/test_query.py",
        "tests/contract/test_conditions.py",
        "tests/contract/test_schemas.py",
    ],
    sample=FAST_SAMPLE,
)
