"""The SQL storage engine: SQLite (the default) and PostgreSQL, one implementation for both.

- `engine.py`: `SqlEngine`, the `EventStorageEngine` of both databases, and `build_sql_engine`.
- `group_commit.py`: the append queue and its writer task; `batch.py`: the write transaction
  that decides a batch of appends in order.
- `reads.py`, `snapshots.py`: the other transactions; `queries.py`: the statements that find
  matching events, built once per query shape; `compiled.py`: hot statements run on the driver's
  cursor; `rows.py`: rows as domain values; `tables.py`: the schema; `migrations/`: Alembic.
- `runner.py`: the `TransactionRunner` protocol, the dialect half, and the one translation of
  driver errors into domain errors; `sqlite.py`, `postgres.py`: the two runners;
  `postgres_notify.py`: LISTEN/NOTIFY between replicas on PostgreSQL.
"""
