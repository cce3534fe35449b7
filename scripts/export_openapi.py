"""Write the service's OpenAPI document to openapi/openapi.json (or check it is current).

python scripts/export_openapi.py          # rewrite the committed document
python scripts/export_openapi.py --check  # exit 1 if the committed document is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.config import Settings
from app.main import create_app

DOCUMENT = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"


def render() -> str:
    document = create_app(Settings(database_url="memory://")).openapi()
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check, write nothing")
    args = parser.parse_args()
    text = render()
    if args.check:
        current = DOCUMENT.read_text() if DOCUMENT.exists() else ""
        if current != text:
            print(f"{DOCUMENT} is stale: run python scripts/export_openapi.py", file=sys.stderr)
            return 1
        return 0
    DOCUMENT.parent.mkdir(exist_ok=True)
    DOCUMENT.write_text(text)
    print(f"wrote {DOCUMENT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
