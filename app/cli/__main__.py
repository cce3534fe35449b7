"""``python -m app.cli``: the same as the ``eventstore`` console script."""

from app.cli.main import main

main()
