"""The known equivalent mutants: changes no user of the service could ever observe.

``equivalents.toml`` lists each one with the change it makes (as `verdicts.change` prints it)
and why nothing can tell it from the original. mutmut numbers mutants per function, so an entry
names a mutant *and* its change: when the code moves and the number now means another change,
the entry no longer matches, and the run says so instead of excusing the wrong mutant. An entry
whose mutant a test now kills is reported too: it was not equivalent.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from tests.support.mutation.verdicts import Verdict, change

LIST = Path(__file__).with_name("equivalents.toml")


@dataclass(frozen=True)
class Equivalent:
    mutant: str
    change: str
    reason: str


def known_equivalents(path: Path = LIST) -> dict[str, Equivalent]:
    entries = tomllib.loads(path.read_text(encoding="utf-8")).get("equivalent", [])
    return {
        entry["mutant"]: Equivalent(
            entry["mutant"], entry["change"].strip(), " ".join(entry["reason"].split())
        )
        for entry in entries
    }


def stale_entries(equivalents: dict[str, Equivalent], judged: list[Verdict]) -> list[str]:
    """What is wrong with the list, given every mutant of this run, run or not (one entry per
    problem): entries whose mutant no longer exists or now makes another change, and entries
    whose mutant a test killed. A mutant a sampled run left out is checked for its change only;
    one that ran out of time is not held against the list (on a loaded machine an equivalent
    mutant's tests may, and the report counts it as a timeout)."""
    by_name = {verdict.mutant: verdict for verdict in judged}
    problems = []
    for name, entry in equivalents.items():
        verdict = by_name.get(name)
        if verdict is None:
            problems.append(f"{name}: no such mutant in this run")
            continue
        now = change(verdict)
        if now != entry.change:
            problems.append(f"{name}: the list says\n{entry.change}\nbut the mutant now is\n{now}")
        elif verdict.status == "killed":
            problems.append(f"{name}: listed as equivalent, but a test kills it")
    return problems
