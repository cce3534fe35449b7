"""``python -m tests.support.mutation [--fast] [--max-children N]`` (`scripts/mutate`): a fresh
mutmut run, its report, and the verdict.

- The full run tries every mutant of `variants.MODULES` and writes ``build/mutation/report.md``;
  the fast run (``--fast``, for CI) tries `variants.FAST_SAMPLE` and writes
  ``build/mutation/fast-report.md``. Each starts from a fresh work tree
  (``build/mutation/full/``, ``build/mutation/fast/``; `workdir`): mutmut's incremental results
  could outlive the tests that decided them. mutmut's own output is ``mutmut.log`` there, and
  ``mutmut show NAME`` or ``mutmut browse`` run there show its mutants.
- Both check the list of equivalents against every mutant generated now (`equivalents`).
- The exit status is 0 when every mutant tried was detected or is a listed equivalent and the
  list is current; 1 otherwise; 2 when mutmut itself failed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.support.mutation.equivalents import known_equivalents, stale_entries
from tests.support.mutation.report import markdown, rows, survivors
from tests.support.mutation.variants import FAST, FULL, MODULES, Variant
from tests.support.mutation.verdicts import verdicts
from tests.support.mutation.workdir import lay_out

REPO = Path(__file__).resolve().parents[3]
OUT = REPO / "build" / "mutation"


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/mutate", description=__doc__)
    parser.add_argument("--fast", action="store_true", help="only the mutants of FAST_SAMPLE")
    parser.add_argument("--max-children", type=int, default=2, help="tests run in parallel")
    args = parser.parse_args()
    variant = FAST if args.fast else FULL

    tree = lay_out(variant, REPO, OUT)
    seconds = run_mutmut(variant, tree, args.max_children)
    if seconds is None:
        return 2

    os.chdir(tree)  # mutmut's files and diffs are read from there
    generated = verdicts(MODULES)
    judged = generated if variant.sample is None else verdicts(MODULES, variant.sample)
    equivalents = known_equivalents()
    problems = stale_entries(equivalents, generated)
    report_path = OUT / ("fast-report.md" if args.fast else "report.md")
    title = "Mutation testing: fast sample" if args.fast else "Mutation testing"
    report = markdown(title, judged, equivalents, problems, seconds)
    report_path.write_text(report, encoding="utf-8")

    for row in rows(judged, equivalents):
        print(
            f"{row.module}: {row.mutants} mutants, {row.killed} killed, {row.timeouts} timeouts,"
            f" {row.equivalent} equivalent, {row.survived} survived: {row.score:.1%}"
        )
    left = survivors(judged, equivalents)
    for verdict in left:
        print(f"SURVIVED ({verdict.status}): {verdict.mutant}", file=sys.stderr)
    for problem in problems:
        print(f"EQUIVALENTS LIST: {problem}", file=sys.stderr)
    print(f"mutation run: {len(judged)} mutants in {seconds:.0f} s; report: {report_path}")
    return 1 if left or problems else 0


def run_mutmut(variant: Variant, tree: Path, max_children: int) -> float | None:
    """Run mutmut in ``tree``; its run time in seconds, or None when it failed."""
    command = [
        str(Path(sys.executable).with_name("mutmut")),
        "run",
        f"--max-children={max_children}",
        *(variant.sample or []),
    ]
    log = tree / "mutmut.log"
    started = time.monotonic()
    with log.open("wb") as output:
        finished = subprocess.run(
            command, cwd=tree, stdout=output, stderr=subprocess.STDOUT, check=False
        )
    seconds = time.monotonic() - started
    if finished.returncode != 0:
        tail = log.read_bytes()[-4000:].decode(errors="replace").replace("\r", "\n")
        print(f"{tail}\nmutmut failed (exit {finished.returncode}); log: {log}", file=sys.stderr)
        return None
    return seconds


if __name__ == "__main__":
    sys.exit(main())
