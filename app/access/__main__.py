"""``python -m app.access``: make API tokens and the lines of the tokens file.

    python -m app.access new billing read,append --file tokens.txt
        makes a random token, appends its line to tokens.txt and prints the token (once: the
        file keeps only its digest)
    printf '%s' "$TOKEN" | python -m app.access hash billing read,append
        prints the line for a token read from stdin (never from the command line, where other
        users of the machine could see it)

The same as ``eventstore tokens``. The service reads the file named by
``EVENTSTORE_API_TOKENS_FILE`` at start-up, and again when it changes or on SIGHUP.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from app.access.token_lines import append_line, new_token
from app.access.tokens import TokenConfigError, parse_scopes, token_line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.access", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    commands = parser.add_subparsers(dest="command", required=True)
    new = commands.add_parser("new", help="make a random token and its line")
    new.add_argument("name")
    new.add_argument("scopes", help="comma-separated: read, append, snapshot, admin, metrics")
    new.add_argument("--file", type=Path, help="append the line to this tokens file")
    hashed = commands.add_parser("hash", help="the line of a token read from stdin")
    hashed.add_argument("name")
    hashed.add_argument("scopes", help="comma-separated: read, append, snapshot, admin, metrics")
    args = parser.parse_args(argv)

    try:
        scopes = parse_scopes(args.scopes, where="scopes")
        if args.command == "new":
            token = new_token()
            line = token_line(args.name, token, scopes)
            if args.file is not None:
                append_line(args.file, line)
                print(token)
            else:
                print(f"token: {token}\nline:  {line}")
            return 0
        token = sys.stdin.readline().rstrip("\r\n")
        if not token:
            parser.error("no token on stdin")
        print(token_line(args.name, token, scopes))
        return 0
    except TokenConfigError as exc:
        print(f"python -m app.access: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
