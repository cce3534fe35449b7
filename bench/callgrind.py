"""Instructions counted by valgrind's callgrind: a cost that repeats whatever the machine's load.

Timings on a shared machine move by half between runs; the instructions a piece of Python
executes repeat to about a percent. `bench/per_request.py` and `bench/request_cost.py` run their
cases as ``python -m <module> ...`` under callgrind and read the totals of its output files.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


def run_counted(argv: Sequence[str], out: Path) -> None:
    """Run ``python <argv>`` under callgrind, writing its counts to ``out`` (and to ``out.N``
    for each dump the program asks for with ``callgrind_control``). A fixed hash seed makes
    dictionaries, and so the instructions, the same from run to run."""
    subprocess.run(
        [
            *("valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"),
            *(sys.executable, *argv),
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )


def total(counts: Path) -> int:
    """The instructions counted in one of callgrind's output files."""
    found = re.search(r"^(?:summary|totals): (\d+)", counts.read_text(), re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no total in callgrind's output {counts}")
    return int(found.group(1))
