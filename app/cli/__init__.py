"""``eventstore``: the operator's command-line tool (typer, with rich's progress bars).

Deliberate choices:

- One console script with a subcommand per task (`main.py`), each in a module named for what it
  does; ``--help`` everywhere. `python -m app` still serves and `python -m app.access` still
  makes tokens; ``eventstore serve`` and ``eventstore tokens`` are the same code.
- The tool holds no SQL and no transaction: it opens stores and runs the functions of
  `app.storage.sql.operations`, which take the same writer lock as the service, so it is safe
  to run against a store that a service is serving.
- Progress bars go to stderr and only when stderr is a terminal (`progress.py`): in a pipe, a
  log or CI they step aside, and stdout stays the data (``eventstore export > file``).
- Errors the operator can act on are one line on stderr and exit status 1 (`failures.py`);
  a usage error is typer's, status 2.
"""
