"""The library as a user installs it: a wheel built from ``clients/python`` that brings its typing
marker, needs only httpx and httpx-sse, and imports nothing of the service."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

from tests.support.live_server import REPO

LIBRARY = REPO / "clients" / "python"


def build_wheel(folder: Path) -> Path:
    """The wheel, built from a copy of the library: setuptools leaves a ``build/`` folder
    beside what it builds, which must not land in the repository."""
    ignore = shutil.ignore_patterns("*.egg-info", "__pycache__")
    source = shutil.copytree(LIBRARY / "src", folder / "library" / "src", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(LIBRARY / name, source.parent)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "--wheel-dir", str(folder), str(source.parent)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    [wheel] = folder.glob("dcb_eventstore_client-*.whl")
    return wheel


def test_the_wheel_holds_the_library_typed_and_needs_only_httpx_and_its_sse(
    tmp_path: Path,
) -> None:
    with zipfile.ZipFile(build_wheel(tmp_path)) as wheel:
        names = wheel.namelist()
        [metadata] = [name for name in names if name.endswith(".dist-info/METADATA")]
        requires = Parser().parsestr(wheel.read(metadata).decode()).get_all("Requires-Dist")

    assert "eventstore_client/py.typed" in names
    packages = {name.split("/")[0] for name in names if ".dist-info/" not in name}
    assert packages == {"eventstore_client"}
    assert sorted(requirement.split(">")[0].split("<")[0] for requirement in requires or []) == [
        "httpx",
        "httpx-sse",
    ]


def test_importing_the_library_imports_nothing_of_the_service() -> None:
    probe = (
        "import sys, eventstore_client, eventstore_client.aio, eventstore_client.repository;"
        "print(sorted(m for m in sys.modules if m == 'app' or m.startswith('app.')))"
    )
    ran = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, cwd="/"
    )
    assert ran.stdout.strip() == "[]"
