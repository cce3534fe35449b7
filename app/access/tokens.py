"""API tokens: who may call the service, with which scopes.

Deliberate choices:

- Scopes: ``read`` (query, head, stream, get snapshots, discovery and schemas, mint stream
  tickets), ``append``, ``snapshot`` (put and delete snapshots), ``admin`` (register and delete
  the JSON Schemas of event types: they decide what every later append may say) and
  ``metrics`` (``/metrics``, unless it is public).
- Tokens come from ``EVENTSTORE_API_TOKENS`` (a JSON object, token -> scopes, convenient for
  development) and from a tokens file (``EVENTSTORE_API_TOKENS_FILE``, for production), which
  holds only SHA-256 digests of the tokens, so that reading the file does not let anyone in.
  One line per token; blank lines and lines starting with ``#`` are ignored::

      billing  sha256:5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8  read,append

  The name is what logs and limits call the token; ``python -m app.access`` makes the lines.
  Tokens of ``EVENTSTORE_API_TOKENS`` are named by their order: ``env#1``, ``env#2``, ...
- A plain digest, not a slow password hash: tokens are meant to be long random strings (the
  command makes 256-bit ones), which no dictionary attack can guess, and a slow hash would cost
  every request its time.
- Only digests are kept in memory, for both sources. A presented token is hashed, its digest
  looked up in a dict, and the entry found confirmed with `hmac.compare_digest`. No comparison
  ever runs on a token's characters: the lookup's time depends only on the SHA-256 of what was
  presented (a dict compares strings only when their hashes are equal), and nobody can steer
  that towards a stored digest without inverting SHA-256, so timing tells an attacker nothing
  about how close a guess came. Comparing with every digest in turn would cost each request
  time in proportion to the number of tokens, for no more secrecy.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

DIGEST_PREFIX = "sha256:"
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


class Scope(StrEnum):
    READ = "read"
    APPEND = "append"
    SNAPSHOT = "snapshot"
    ADMIN = "admin"
    METRICS = "metrics"


@dataclass(frozen=True)
class Principal:
    """Who a request acts for: a token's name and scopes.

    ``ticket_expires_at`` (epoch seconds) is set when the credential was a stream ticket; the
    stream it opens ends then.
    """

    name: str
    scopes: frozenset[Scope]
    ticket_expires_at: float | None = None

    def has(self, scope: Scope) -> bool:
        return scope in self.scopes


ANONYMOUS = Principal("anonymous", frozenset(Scope))
"""Every request's principal when no token is configured (the open mode)."""


class TokenConfigError(ValueError):
    """The tokens configuration cannot be used; the message never contains a token."""


def digest_of(token: str) -> str:
    """``sha256:<hex>`` of a token, the form the tokens file holds."""
    return DIGEST_PREFIX + hashlib.sha256(token.encode()).hexdigest()


def parse_scopes(text: object, *, where: str) -> frozenset[Scope]:
    """Scopes from ``read,append`` or ``["read", "append"]``."""
    if isinstance(text, str):
        names = text.split(",")
    elif isinstance(text, list) and all(isinstance(name, str) for name in text):
        names = text
    else:
        raise TokenConfigError(f"{where}: the scopes must be a list of names")
    scopes: set[Scope] = set()
    for number, name in enumerate(names, start=1):
        try:
            scopes.add(Scope(name.strip()))
        except ValueError:
            # Not echoed: a token pasted in the wrong place would be printed.
            known = ", ".join(scope.value for scope in Scope)
            raise TokenConfigError(
                f"{where}: unknown scope (the {number}. of the list; known: {known})"
            ) from None
    if not scopes:
        raise TokenConfigError(f"{where}: no scopes")
    return frozenset(scopes)


def token_line(name: str, token: str, scopes: Iterable[Scope]) -> str:
    """The tokens-file line for ``token``."""
    if not _NAME.fullmatch(name):
        raise TokenConfigError(
            f"token name {name!r}: 1-64 letters, digits or ._@- (starting with a letter or digit)"
        )
    ordered = sorted(set(scopes), key=list(Scope).index)
    return f"{name}  {digest_of(token)}  {','.join(scope.value for scope in ordered)}"


def parse_tokens_file(text: str, *, source: str) -> list[tuple[str, Principal]]:
    """``(digest, principal)`` of each line of a tokens file."""
    entries: list[tuple[str, Principal]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source}, line {number}"
        fields = line.split()
        if len(fields) != 3:
            raise TokenConfigError(f"{where}: expected 'name sha256:<hex> scopes'")
        name, digest, scopes = fields
        if not _NAME.fullmatch(name):
            raise TokenConfigError(f"{where}: {name!r} is not a token name")
        if not _DIGEST.fullmatch(digest):
            raise TokenConfigError(
                f"{where}: the digest must be sha256: and 64 lowercase hex digits"
            )
        entries.append((digest, Principal(name, parse_scopes(scopes, where=where))))
    return entries


class TokenRegistry:
    """The known tokens, as digests. Empty means the service is open."""

    def __init__(self, entries: Iterable[tuple[str, Principal]]) -> None:
        self._entries = tuple(entries)
        names = [principal.name for _, principal in self._entries]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise TokenConfigError(f"the same name is configured twice: {', '.join(repeated)}")
        holders: dict[str, list[str]] = {}
        for digest, principal in self._entries:
            holders.setdefault(digest, []).append(principal.name)
        for shared in holders.values():
            if len(shared) > 1:
                raise TokenConfigError(f"one token is configured twice: {' and '.join(shared)}")
        self._by_name = {principal.name: principal for _, principal in self._entries}
        self._by_digest = {digest: (digest, principal) for digest, principal in self._entries}

    @classmethod
    def load(cls, tokens: Mapping[str, object], tokens_file: Path | None) -> TokenRegistry:
        """From ``EVENTSTORE_API_TOKENS`` and the tokens file (read here: call at start-up)."""
        entries = []
        for n, (token, scopes) in enumerate(tokens.items(), start=1):
            name = f"env#{n}"
            if not isinstance(scopes, list):
                raise TokenConfigError(f"{name}: the scopes must be a JSON list of names")
            entries.append((digest_of(token), Principal(name, parse_scopes(scopes, where=name))))
        if tokens_file is not None:
            try:
                text = tokens_file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise TokenConfigError(f"cannot read the tokens file {tokens_file}: {exc}") from exc
            entries += parse_tokens_file(text, source=str(tokens_file))
        return cls(entries)

    @property
    def is_open(self) -> bool:
        return not self._entries

    @property
    def names(self) -> list[str]:
        return list(self._by_name)

    def authenticate(self, token: str) -> Principal | None:
        """The principal of ``token``, or None (see the module docstring on timing)."""
        presented = digest_of(token)
        found = self._by_digest.get(presented)
        if found is None:
            return None
        stored, principal = found
        return principal if hmac.compare_digest(stored, presented) else None

    def by_name(self, name: str) -> Principal | None:
        return self._by_name.get(name)
