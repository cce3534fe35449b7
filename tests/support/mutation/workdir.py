"""The work tree of a mutation run: ``build/mutation/<variant>/``, with copies of ``app/`` and
``tests/`` and a pyproject.toml of its own.

mutmut reads its configuration from the pyproject.toml of the directory it runs in and works in
``mutants/`` there. Each variant gets a tree of its own, so that the two configurations live in
`variants` (not in the project's pyproject.toml, which can hold only one) and a fast run never
wipes the results of a full one. The tree's pyproject.toml is the variant's ``[tool.mutmut]``
and the project's own ``[tool.pytest.ini_options]``, copied as it is.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.support.mutation.variants import MODULES, PYTEST_ARGS, Variant

PYTEST_TABLE = "[tool.pytest.ini_options]"


def lay_out(variant: Variant, repo: Path, root: Path) -> Path:
    """A fresh work tree for ``variant`` under ``root``; returns it."""
    tree = root / variant.name
    shutil.rmtree(tree, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("app", "tests"):
        shutil.copytree(repo / folder, tree / folder, ignore=ignore)
    settings = {
        "source_paths": ["app"],
        "only_mutate": MODULES,
        "pytest_add_cli_args_test_selection": variant.tests,
        "pytest_add_cli_args": PYTEST_ARGS,
        # Each mutant's tests run in a process forked from one that has only collected them: no
        # state of an earlier test (a cache, a thread) is inherited.
        "process_isolation": "forkserver",
    }
    lines = ["[tool.mutmut]", *(f"{key} = {json.dumps(value)}" for key, value in settings.items())]
    pyproject = "\n".join([*lines, "", pytest_table(repo / "pyproject.toml")])
    (tree / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    return tree


def pytest_table(pyproject: Path) -> str:
    """The project's ``[tool.pytest.ini_options]`` table, as written."""
    text = pyproject.read_text(encoding="utf-8")
    start = text.index(PYTEST_TABLE)
    end = text.find("\n[", start + len(PYTEST_TABLE))
    return text[start:] if end == -1 else text[start : end + 1]
