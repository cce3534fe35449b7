"""The token registry: the tokens file's format, its errors, and who a token is.

Errors of the configuration must say where the problem is (variable, file, line) and never
show a token: start-up logs are read by more people than the tokens are meant for.
"""

from __future__ import annotations

import hashlib
import locale
import sys
from pathlib import Path

import pytest

from app.access.tokens import (
    Principal,
    Scope,
    TokenConfigError,
    TokenRegistry,
    digest_of,
    parse_tokens_file,
    token_line,
)

SECRET = "tok-9f1c2e-very-secret"


def test_a_token_line_round_trips_through_the_file_format() -> None:
    line = token_line("billing", SECRET, [Scope.APPEND, Scope.READ])

    assert line == f"billing  sha256:{hashlib.sha256(SECRET.encode()).hexdigest()}  read,append"
    assert SECRET not in line
    [(digest, principal)] = parse_tokens_file(line, source="tokens.txt")
    assert digest == digest_of(SECRET)
    assert principal == Principal("billing", frozenset({Scope.READ, Scope.APPEND}))


def test_comments_and_blank_lines_are_ignored() -> None:
    text = "\n".join(
        [
            "# who may call the event store",
            "",
            token_line("billing", "a", [Scope.READ]),
            "   # indented comment",
            token_line("ops", "b", [Scope.METRICS]),
        ]
    )

    names = [principal.name for _, principal in parse_tokens_file(text, source="f")]
    assert names == ["billing", "ops"]


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ("billing sha256:abc read", "digest"),
        (f"billing {digest_of(SECRET).upper()} read", "digest"),
        (f"billing {digest_of(SECRET)} read,fly", "unknown scope (the 2. of the list"),
        (f"billing {digest_of(SECRET)}", "expected"),
        (f"bad/name {digest_of(SECRET)} read", "not a token name"),
        (f"billing {digest_of(SECRET)} read extra", "expected"),
    ],
)
def test_a_bad_line_is_refused_with_its_file_and_number(line: str, complaint: str) -> None:
    with pytest.raises(TokenConfigError) as caught:
        parse_tokens_file(f"# header\n{line}\n", source="/etc/eventstore/tokens")

    message = str(caught.value)
    assert message.startswith("/etc/eventstore/tokens, line 2: ")
    assert complaint in message


def test_authenticate_finds_the_token_and_nothing_else() -> None:
    registry = TokenRegistry.load({SECRET: ["read"], "other": ["append", "snapshot"]}, None)

    assert registry.authenticate(SECRET) == Principal("env#1", frozenset({Scope.READ}))
    other = registry.authenticate("other")
    assert other is not None
    assert other.name == "env#2"
    assert other.scopes == {Scope.APPEND, Scope.SNAPSHOT}
    for wrong in ("", SECRET[:-1], SECRET + "x", SECRET.upper(), digest_of(SECRET)):
        assert registry.authenticate(wrong) is None


def test_both_sources_are_combined(tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text(token_line("billing", "from-file", [Scope.APPEND]) + "\n")

    registry = TokenRegistry.load({"from-env": ["read"]}, tokens_file)

    assert registry.names == ["env#1", "billing"]
    assert registry.by_name("billing") == registry.authenticate("from-file")
    assert not registry.is_open


def test_no_tokens_is_the_open_mode() -> None:
    assert TokenRegistry.load({}, None).is_open


@pytest.mark.parametrize("scopes", ["read", ["read", 5], [], {"read": True}, None, ["root"]])
def test_bad_scopes_in_the_variable_name_the_entry_not_the_token(scopes: object) -> None:
    with pytest.raises(TokenConfigError) as caught:
        TokenRegistry.load({"first": ["read"], SECRET: scopes}, None)

    assert "env#2" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_the_same_token_twice_is_refused_without_showing_it(tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text(token_line("billing", SECRET, [Scope.APPEND]) + "\n")

    with pytest.raises(
        TokenConfigError, match="one token is configured twice: env#1 and billing"
    ) as caught:
        TokenRegistry.load({SECRET: ["read"]}, tokens_file)
    assert SECRET not in str(caught.value)


def test_the_same_name_twice_is_refused(tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens"
    lines = [token_line("billing", "a", [Scope.READ]), token_line("billing", "b", [Scope.READ])]
    tokens_file.write_text("\n".join(lines))

    with pytest.raises(TokenConfigError, match="the same name is configured twice: billing"):
        TokenRegistry.load({}, tokens_file)


def test_a_missing_tokens_file_is_an_error_not_an_open_service(tmp_path: Path) -> None:
    with pytest.raises(TokenConfigError, match="cannot read the tokens file"):
        TokenRegistry.load({}, tmp_path / "absent")


def test_an_unknown_scope_is_refused_with_the_scopes_there_are() -> None:
    with pytest.raises(TokenConfigError) as caught:
        TokenRegistry.load({SECRET: ["read", "write"]}, None)

    assert str(caught.value) == (
        "env#1: unknown scope (the 2. of the list; known: read, append, snapshot, admin, metrics)"
    )


def test_a_bad_token_name_is_refused_with_what_a_name_may_be() -> None:
    with pytest.raises(TokenConfigError) as caught:
        token_line("bad/name", SECRET, [Scope.READ])

    assert str(caught.value) == (
        "token name 'bad/name': 1-64 letters, digits or ._@- (starting with a letter or digit)"
    )


def test_every_name_given_twice_is_named(tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens"
    names = ["ops", "billing", "ops", "billing"]
    tokens_file.write_text(
        "\n".join(token_line(name, f"t{n}", [Scope.READ]) for n, name in enumerate(names))
    )

    with pytest.raises(TokenConfigError) as caught:
        TokenRegistry.load({}, tokens_file)

    assert str(caught.value) == "the same name is configured twice: billing, ops"


def test_the_tokens_file_is_read_as_utf_8_whatever_the_locale(tmp_path: Path) -> None:
    """Its comments may say anything; a service started in the C locale must still read it."""
    tokens_file = tmp_path / "tokens"
    tokens_file.write_bytes(
        ("# clé de l'équipe\n" + token_line("billing", SECRET, [Scope.READ]) + "\n").encode()
    )
    previous = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        assert sys.flags.utf8_mode or locale.getencoding() != "UTF-8", "the locale did not change"
        registry = TokenRegistry.load({}, tokens_file)
    finally:
        locale.setlocale(locale.LC_CTYPE, previous)

    assert registry.names == ["billing"]
