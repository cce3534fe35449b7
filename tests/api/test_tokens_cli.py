"""``python -m app.access`` makes the tokens an operator hands out; the service accepts them.

What the operator relies on: ``new`` prints a strong token once and appends its line (digest
only) to the tokens file, which a new file keeps private (0600); ``hash`` makes the line of a
token read from stdin, a plain SHA-256 anyone can check; a bad scope or name is refused with a
message and exit status 2, leaving the file alone. A service reading the file lets that token do
exactly what its scopes say. A tokens file that cannot be used stops the start-up, with a
message naming the file and the line but never a token, rather than serving open or half
configured.
"""

from __future__ import annotations

import hashlib
import io
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from app.access import __main__ as access
from app.access.tokens import TokenConfigError
from tests.support.api import api_client, assert_problem, event, make_settings
from tests.support.live_server import REPO, refused_start

pytestmark = pytest.mark.anyio

SECRET = "pasted-token-0123456789abcdef"


def access_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.access", *args],
        cwd=REPO,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def access_main(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    stdin: str = "",
) -> tuple[int, str, str]:
    """The same command in this process (quicker, for the many refusals): exit status, stdout,
    stderr."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    status: object
    try:
        status = access.main(args)
    except SystemExit as exit_:  # argparse's errors
        status = exit_.code
    out, err = capsys.readouterr()
    assert isinstance(status, int)
    return status, out, err


def new_token(name: str, scopes: str, tokens_file: Path) -> str:
    result = access_cli("new", name, scopes, "--file", str(tokens_file))
    assert result.returncode == 0, result.stderr
    [token] = result.stdout.splitlines()
    return token


def sha256_hex(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def test_new_prints_a_token_and_appends_its_digest_to_a_private_file(tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens"

    token = new_token("billing", "read,append", tokens_file)

    assert len(token) >= 43  # 256 random bits, URL-safe base64
    assert tokens_file.read_text() == f"billing  sha256:{sha256_hex(token)}  read,append\n"
    assert token not in tokens_file.read_text()
    assert stat.S_IMODE(tokens_file.stat().st_mode) == 0o600


def test_new_keeps_the_lines_already_in_the_file(tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens"
    existing = f"# production\nbilling  sha256:{sha256_hex('old')}  read"  # no final newline
    tokens_file.write_text(existing)
    tokens_file.chmod(0o640)

    token = new_token("reporting", "read", tokens_file)

    expected = f"{existing}\nreporting  sha256:{sha256_hex(token)}  read\n"
    assert tokens_file.read_text() == expected
    assert stat.S_IMODE(tokens_file.stat().st_mode) == 0o640  # the operator's choice stays


def test_new_tokens_differ(tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens"

    assert new_token("a", "read", tokens_file) != new_token("b", "read", tokens_file)


def test_new_without_a_file_prints_the_token_and_its_line() -> None:
    result = access_cli("new", "billing", "append")

    assert result.returncode == 0, result.stderr
    token_row, line_row = result.stdout.splitlines()
    token = token_row.removeprefix("token: ")
    assert line_row == f"line:  billing  sha256:{sha256_hex(token)}  append"


async def test_the_service_grants_a_new_token_exactly_its_scopes(tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens"
    token = new_token("billing", "read,append", tokens_file)
    headers = {"Authorization": f"Bearer {token}"}

    async with api_client(make_settings(api_tokens_file=tokens_file)) as client:
        appended = await client.post(
            "/v1/events", json={"events": [event("Paid", "invoice:1")]}, headers=headers
        )
        read = await client.post(
            "/v1/events/query", json={"query": {"items": [{"types": ["Paid"]}]}}, headers=headers
        )
        snapshot = await client.put(
            "/v1/snapshots/invoice/1", json={"position": 1, "state": {}}, headers=headers
        )
        stranger = await client.get("/v1/head", headers={"Authorization": "Bearer other"})

    assert appended.status_code == 201, appended.text
    assert read.status_code == 200, read.text
    assert [e["type"] for e in read.json()["events"]] == ["Paid"]
    assert_problem(snapshot, 403, "/problems/forbidden")
    assert_problem(stranger, 401, "/problems/unauthorized")


def test_hash_prints_the_line_of_the_token_on_stdin() -> None:
    result = access_cli("hash", "ci", "snapshot,read", stdin=SECRET)

    assert result.returncode == 0, result.stderr
    # The scopes in their canonical order, whatever order they were given in.
    assert result.stdout == f"ci  sha256:{sha256_hex(SECRET)}  read,snapshot\n"


@pytest.mark.parametrize("stdin", [f"{SECRET}\n", f"{SECRET}\r\n"])
def test_hash_takes_the_token_without_its_line_end(
    stdin: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, out, _ = access_main(capsys, monkeypatch, "hash", "ci", "read", stdin=stdin)

    assert status == 0
    assert out == f"ci  sha256:{sha256_hex(SECRET)}  read\n"


def test_hash_without_a_token_on_stdin_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, out, err = access_main(capsys, monkeypatch, "hash", "ci", "read", stdin="")

    assert status == 2
    assert "no token on stdin" in err
    assert out == ""


def test_an_unknown_scope_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens"

    result = access_cli("new", "billing", "read,superuser", "--file", str(tokens_file))

    assert result.returncode == 2
    assert "unknown scope (the 2. of the list" in result.stderr
    assert "read, append, snapshot, admin, metrics" in result.stderr  # what it could have been
    assert result.stdout == ""
    assert not tokens_file.exists()


@pytest.mark.parametrize("scopes", ["read,root", "Read", "read,,append", ""])
def test_hash_refuses_an_unknown_scope(
    scopes: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, out, err = access_main(capsys, monkeypatch, "hash", "ci", scopes, stdin=SECRET)

    assert status == 2
    assert "unknown scope" in err
    assert out == ""
    assert SECRET not in err


def test_a_bad_name_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens"

    result = access_cli("new", "two words", "read", "--file", str(tokens_file))

    assert result.returncode == 2
    assert "token name 'two words'" in result.stderr
    assert result.stdout == ""
    assert not tokens_file.exists()


@pytest.mark.parametrize("name", ["two words", ".hidden", "x" * 65, "a/b", "a:b"])
@pytest.mark.parametrize("command", ["new", "hash"])
def test_names_the_file_format_cannot_hold_are_refused(
    command: str,
    name: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tokens_file = tmp_path / "tokens"
    file_option = ["--file", str(tokens_file)] if command == "new" else []

    status, out, err = access_main(
        capsys, monkeypatch, command, name, "read", *file_option, stdin=SECRET
    )

    assert status == 2
    assert f"token name {name!r}" in err
    assert out == ""
    assert SECRET not in err
    assert not tokens_file.exists()


GOOD_LINE = f"billing  sha256:{sha256_hex('billing-token')}  read"

MALFORMED = {
    # the token itself pasted where its digest belongs: a mistake that must not show it
    "token-instead-of-digest": (f"# tokens\nbilling  {SECRET}  read\n", "line 2: the digest"),
    "uppercase-digest": (
        f"\n\nbilling  sha256:{sha256_hex(SECRET).upper()}  read\n",
        "line 3: the digest",
    ),
    "unknown-scope": (
        f"billing  sha256:{sha256_hex(SECRET)}  read,root\n",
        "line 1: unknown scope (the 2. of the list",
    ),
    "missing-scopes": (f"billing  sha256:{sha256_hex(SECRET)}\n", "line 1: expected"),
}


def write_malformed(tmp_path: Path, case: str) -> tuple[Path, str]:
    tokens_file = tmp_path / "tokens"
    text, complaint = MALFORMED[case]
    tokens_file.write_text(text)
    return tokens_file, complaint


@pytest.mark.parametrize("case", MALFORMED)
async def test_a_malformed_tokens_file_stops_the_start_up(case: str, tmp_path: Path) -> None:
    tokens_file, complaint = write_malformed(tmp_path, case)

    with pytest.raises(TokenConfigError) as caught:
        async with api_client(make_settings(api_tokens_file=tokens_file)):
            pytest.fail("the service started")

    message = str(caught.value)
    assert message.startswith(f"{tokens_file}, ")
    assert complaint in message
    assert SECRET not in message


async def test_a_name_given_twice_stops_the_start_up(tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text(f"{GOOD_LINE}\nbilling  sha256:{sha256_hex(SECRET)}  append\n")

    with pytest.raises(TokenConfigError) as caught:
        async with api_client(make_settings(api_tokens_file=tokens_file)):
            pytest.fail("the service started")

    assert "the same name is configured twice: billing" in str(caught.value)
    assert SECRET not in str(caught.value)


async def test_a_missing_tokens_file_stops_the_start_up(tmp_path: Path) -> None:
    tokens_file = tmp_path / "absent"

    with pytest.raises(TokenConfigError) as caught:
        async with api_client(make_settings(api_tokens_file=tokens_file)):
            pytest.fail("the service started, open")

    assert f"cannot read the tokens file {tokens_file}" in str(caught.value)


def test_python_m_app_reports_a_malformed_tokens_file_in_one_line(tmp_path: Path) -> None:
    tokens_file, complaint = write_malformed(tmp_path, "token-instead-of-digest")

    result = refused_start({"EVENTSTORE_API_TOKENS_FILE": str(tokens_file)}, cwd=tmp_path)

    assert result.returncode != 0
    [message] = result.stderr.strip().splitlines()
    assert message.startswith(f"python -m app: invalid tokens: {tokens_file}, {complaint}")
    assert SECRET not in result.stdout + result.stderr
