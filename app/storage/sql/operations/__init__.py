"""What the operator's tool (`app.cli`) does to a store, as transactions of the SQL wing.

The command-line tool holds no SQL and no transaction: it opens databases and runs these
functions (`database.run_on`), each a plain synchronous function of SQLAlchemy Core
`Connection`s, like every other transaction of the engine.

- `database.py`: opening stores by URL, the writer lock the service's appends also take, the
  schema's revision.
- `records.py`: the NDJSON export format, one record a line.
- `export.py`, `load.py`: streaming the store out to records, and records into a store.
- `verify.py`: the checks of a store's integrity; `figures.py`: what discovery shows.
- `backup.py`: SQLite's consistent online copy, and the pg_dump command for PostgreSQL.
"""
