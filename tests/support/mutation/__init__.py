"""Mutation testing of the decision logic: `scripts/mutate` runs mutmut and judges its verdicts.

mutmut changes one thing at a time in the modules that decide and runs the tests that call the
changed function (which modules, and which tests: `variants`); a mutant no test notices
"survives". Every survivor is either killed by a new test or
written down as equivalent, with the reason, in ``equivalents.toml``.

- `__main__`: ``python -m tests.support.mutation [--fast]``: a fresh run, the report, the verdict.
- `variants`: the modules, and the tests and mutants of the full run and of the fast sample.
- `workdir`: the work tree of a run, with the variant's mutmut configuration.
- `verdicts`: what mutmut decided for each mutant, and its diff.
- `equivalents`: the known equivalent mutants, checked against what the tool generates now.
- `report`: the Markdown report, a table per module.
- `fresh_statements`: a pytest plugin of the run, so that every test builds its own statements.

Figures and the list of equivalents: docs/reliability.md, "Mutation testing".
"""
