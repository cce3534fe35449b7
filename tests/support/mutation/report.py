"""The Markdown report of a mutation run: a table per module, then every mutant that counts
against the score, with its change, then the equivalents with their reasons.

Score: detected (killed, or timed out) over all mutants less the equivalent ones. A mutant no
selected test calls ("no tests") counts against it like a survivor.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from tests.support.mutation.equivalents import Equivalent
from tests.support.mutation.verdicts import Verdict, change


@dataclass(frozen=True)
class Row:
    module: str
    mutants: int
    killed: int
    timeouts: int
    equivalent: int
    survived: int

    @property
    def score(self) -> float:
        judged = self.mutants - self.equivalent
        return 1.0 if judged == 0 else (self.killed + self.timeouts) / judged


def rows(judged: list[Verdict], equivalents: dict[str, Equivalent]) -> list[Row]:
    by_module: dict[str, Counter[str]] = {}
    for verdict in judged:
        counts = by_module.setdefault(verdict.module, Counter())
        counts["mutants"] += 1
        if verdict.status == "killed":
            counts["killed"] += 1
        elif verdict.status == "timeout":
            counts["timeouts"] += 1
        elif verdict.mutant in equivalents:
            counts["equivalent"] += 1
        else:
            counts["survived"] += 1
    return [
        Row(module, c["mutants"], c["killed"], c["timeouts"], c["equivalent"], c["survived"])
        for module, c in by_module.items()
    ]


def survivors(judged: list[Verdict], equivalents: dict[str, Equivalent]) -> list[Verdict]:
    """The mutants that count against the score."""
    return [v for v in judged if not v.detected and v.mutant not in equivalents]


def markdown(
    title: str,
    judged: list[Verdict],
    equivalents: dict[str, Equivalent],
    problems: list[str],
    seconds: float,
) -> str:
    table = rows(judged, equivalents)
    total = Row(
        "all",
        *(
            sum(getattr(row, name) for row in table)
            for name in Row.__dataclass_fields__
            if name != "module"
        ),
    )
    lines = [
        f"# {title}",
        "",
        f"{total.mutants} mutants in {seconds / 60:.1f} min.",
        "",
        "| module | mutants | killed | timeouts | equivalent | survived | score |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in [*table, total]:
        lines.append(
            f"| {row.module} | {row.mutants} | {row.killed} | {row.timeouts} | "
            f"{row.equivalent} | {row.survived} | {row.score:.1%} |"
        )
    lines += ["", "## Survivors", ""]
    for verdict in survivors(judged, equivalents):
        lines += [f"- `{verdict.mutant}` ({verdict.status})", "", _block(change(verdict)), ""]
    if problems:
        lines += ["## Problems with the list of equivalents", ""]
        lines += [f"- {problem}" for problem in problems]
        lines.append("")
    lines += ["## Equivalent", ""]
    for verdict in judged:
        entry = equivalents.get(verdict.mutant)
        if entry is not None and not verdict.detected:
            lines += [f"- `{entry.mutant}`: {entry.reason}", "", _block(entry.change), ""]
    return "\n".join(lines)


def _block(diff: str) -> str:
    return "\n".join(["  ```diff", *(f"  {line}" for line in diff.splitlines()), "  ```"])
