"""The committed OpenAPI document (openapi/openapi.json): how it is rendered, and rewriting it.

    scripts/export-openapi   # python -m tests.support.openapi

`tests/api/test_openapi.py` fails while the committed document differs from `render()`, so a
change of the API that is not exported does not land.
"""

from __future__ import annotations

import json

from app.config import Settings
from app.main import create_app
from tests.support.live_server import REPO

DOCUMENT = REPO / "openapi" / "openapi.json"


def render() -> str:
    document = create_app(Settings(database_url="memory://")).openapi()
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def main() -> None:
    DOCUMENT.parent.mkdir(exist_ok=True)
    DOCUMENT.write_text(render())
    print(f"wrote {DOCUMENT}")


if __name__ == "__main__":
    main()
