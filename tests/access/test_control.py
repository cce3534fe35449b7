"""`AccessControl`: which credential is accepted, and what a refusal tells the client.

The HTTP matrix (tests/api/test_access.py) checks every route against every kind of credential;
these check the decision itself: the configuration it is built from, the spelling of the header,
and each refusal's detail and ``invalid_token`` flag (RFC 6750 names the error in
``WWW-Authenticate`` only when a credential was presented).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.access.control import AccessControl
from app.access.tokens import Scope, TokenRegistry, token_line
from app.errors import Forbidden, Unauthorized
from tests.support.api import make_settings

READER = "token-of-the-reader"


def control(**settings: Any) -> AccessControl:
    return AccessControl.from_settings(
        make_settings(api_tokens={READER: ["read"], "token-of-ops": ["metrics"]}, **settings)
    )


def test_a_token_of_the_tokens_file_is_accepted(tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text(token_line("billing", "token-of-billing", [Scope.APPEND]) + "\n")
    access = AccessControl.from_settings(make_settings(api_tokens_file=tokens_file))

    principal = access.authorize(Scope.APPEND, authorization="Bearer token-of-billing")

    assert principal.name == "billing"


def test_instances_with_the_same_ticket_secret_accept_each_others_tickets() -> None:
    one, other = control(stream_ticket_secret="shared"), control(stream_ticket_secret="shared")
    reader = one.authorize(Scope.READ, authorization=f"Bearer {READER}")

    ticket = one.tickets.issue(reader).ticket

    assert other.authorize(Scope.READ, authorization=None, ticket=ticket).name == reader.name


def test_metrics_need_their_scope_unless_said_otherwise() -> None:
    base = control()
    access = AccessControl(base.registry, base.tickets, base.streams)

    with pytest.raises(Forbidden):
        access.authorize(Scope.METRICS, authorization=f"Bearer {READER}")
    assert access.authorize(Scope.METRICS, authorization="Bearer token-of-ops").name == "env#2"


@pytest.mark.parametrize("spaces", [" ", "  ", "   "])
def test_the_token_may_follow_the_scheme_after_any_blanks(spaces: str) -> None:
    """RFC 7235: one or more spaces between the scheme and the credentials."""
    principal = control().authorize(Scope.READ, authorization=f"Bearer{spaces}{READER} ")

    assert principal.name == "env#1"


REFUSED = {
    "another scheme with a valid token": (
        f"Basic {READER}",
        None,
        "the Authorization header must be 'Bearer <token>'",
        True,
    ),
    "no token after the scheme": (
        "Bearer ",
        None,
        "the Authorization header must be 'Bearer <token>'",
        True,
    ),
    "an unknown token": ("Bearer unknown", None, "the token is not known", True),
    "a bad ticket": (None, "forged", "the stream ticket is not valid or has expired", True),
    "no credential": (
        None,
        None,
        "this endpoint needs a token: send Authorization: Bearer <token>",
        False,
    ),
}


@pytest.mark.parametrize(
    ("authorization", "ticket", "detail", "presented"), REFUSED.values(), ids=REFUSED.keys()
)
def test_each_refusal_says_why_and_whether_a_credential_was_presented(
    authorization: str | None, ticket: str | None, detail: str, presented: bool
) -> None:
    with pytest.raises(Unauthorized) as refused:
        control().authorize(Scope.READ, authorization=authorization, ticket=ticket)

    assert refused.value.detail == detail
    assert refused.value.invalid_token is presented


def test_tokens_swapped_in_take_effect_at_once_tickets_included(tmp_path: Path) -> None:
    """A reload of the tokens file: a token removed is refused, and so are its tickets; a token
    added is accepted, its tickets too."""
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text(token_line("old-reader", "token-of-old", [Scope.READ]) + "\n")
    access = AccessControl.from_settings(make_settings(api_tokens_file=tokens_file))
    old = access.authorize(Scope.READ, authorization="Bearer token-of-old")
    ticket = access.tickets.issue(old).ticket

    tokens_file.write_text(token_line("new-reader", "token-of-new", [Scope.READ]) + "\n")
    access.use(TokenRegistry.load({}, tokens_file))

    with pytest.raises(Unauthorized):
        access.authorize(Scope.READ, authorization="Bearer token-of-old")
    with pytest.raises(Unauthorized):
        access.authorize(Scope.READ, authorization=None, ticket=ticket)
    new = access.authorize(Scope.READ, authorization="Bearer token-of-new")
    fresh = access.tickets.issue(new).ticket
    assert access.authorize(Scope.READ, authorization=None, ticket=fresh).name == "new-reader"
