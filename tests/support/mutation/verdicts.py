"""What mutmut decided for each mutant of the run in ``mutants/`` (of the current directory, the
run's work tree), and what each mutant changed.

mutmut keeps, beside each mutated copy of a module (``mutants/<path>.meta``), the exit code of
the tests run against each of its mutants; `mutmut.stats.status_by_exit_code` names them. Diffs
come from mutmut's own reader of the mutated copies. Both are mutmut's internals, which is why
pyproject.toml pins its minor version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code

MUTANTS = Path("mutants")

DETECTED = frozenset({"killed", "timeout"})
"""A mutant that makes a test fail, or makes the tests run out of time (an endless loop)."""


@dataclass(frozen=True)
class Verdict:
    mutant: str
    module: str
    status: str

    @property
    def detected(self) -> bool:
        return self.status in DETECTED


def verdicts(modules: list[str], patterns: list[str] | None = None) -> list[Verdict]:
    """The verdict on every mutant of ``modules`` (of those matching one of ``patterns``)."""
    found = []
    for module in modules:
        meta = json.loads((MUTANTS / f"{module}.meta").read_text(encoding="utf-8"))
        for mutant, exit_code in meta["exit_code_by_key"].items():
            if patterns is None or any(fnmatch(mutant, pattern) for pattern in patterns):
                found.append(Verdict(mutant, module, status_by_exit_code[exit_code]))
    return found


def change(verdict: Verdict) -> str:
    """The lines the mutant removes (``-``) and adds (``+``), without the diff's context."""
    diff = get_diff_for_mutant(verdict.mutant, path=verdict.module).splitlines()
    return "\n".join(
        line.rstrip()
        for line in diff[2:]  # past the ---/+++ header
        if line.startswith(("-", "+"))
    )
