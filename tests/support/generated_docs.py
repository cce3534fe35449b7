"""The documents generated from the code, committed so that they can be read without running
it: the OpenAPI document (openapi/openapi.json, from the app) and the configuration reference
(the table of docs/configuration.md, from `app.config.Settings`).

    scripts/export-docs   # python -m tests.support.generated_docs: rewrite both

`tests/api/test_generated_docs.py` fails while either differs from what the code renders, so
a change that is not exported does not land.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo

from app.config import Settings
from app.main import create_app
from tests.support.live_server import REPO

OPENAPI = REPO / "openapi" / "openapi.json"
CONFIGURATION = REPO / "docs" / "configuration.md"
TABLE_START = "<!-- the table below is generated from app.config.Settings: scripts/export-docs -->"
TABLE_END = "<!-- end of the generated table -->"


def render_openapi() -> str:
    document = create_app(Settings(database_url="memory://")).openapi()
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def _default(field: FieldInfo) -> str:
    value: Any = field.get_default(call_default_factory=True)
    if value is None:
        return "none"
    if isinstance(value, str):
        return f"`{value}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{json.dumps(value)}`"


def render_settings_table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        meaning = (field.description or "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `EVENTSTORE_{name.upper()}` | {_default(field)} | {meaning} |")
    return "\n".join(rows) + "\n"


def render_configuration(current: str) -> str:
    """``current`` (docs/configuration.md) with its generated table replaced."""
    pattern = re.compile(re.escape(TABLE_START) + r"\n.*?" + re.escape(TABLE_END), re.DOTALL)
    if not pattern.search(current):
        raise ValueError(f"{CONFIGURATION} has no {TABLE_START!r} ... {TABLE_END!r} section")
    table = f"{TABLE_START}\n{render_settings_table()}{TABLE_END}"
    return pattern.sub(lambda _: table, current)


def main() -> None:
    OPENAPI.parent.mkdir(exist_ok=True)
    OPENAPI.write_text(render_openapi())
    CONFIGURATION.write_text(render_configuration(CONFIGURATION.read_text()))
    for written in (OPENAPI, CONFIGURATION):
        print(f"wrote {Path(written).relative_to(REPO)}")


if __name__ == "__main__":
    main()
