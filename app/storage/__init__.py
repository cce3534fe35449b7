"""Storage engines: the protocol, the in-memory specification, and the SQL engine."""
