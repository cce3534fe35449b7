"""Stream tickets: read-only, expiring, unforgeable, and only as good as their token now."""

from __future__ import annotations

import pytest
from itsdangerous import URLSafeSerializer

from app.access.tickets import TicketIssuer
from app.access.tokens import Principal, Scope, TokenRegistry, digest_of

LIFETIME = 60


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def registry(**scopes: list[Scope]) -> TokenRegistry:
    return TokenRegistry(
        (digest_of(f"token-of-{name}"), Principal(name, frozenset(granted)))
        for name, granted in scopes.items()
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tokens() -> TokenRegistry:
    return registry(
        billing=[Scope.READ, Scope.APPEND, Scope.SNAPSHOT], writer=[Scope.APPEND], ops=[Scope.READ]
    )


def issuer_for(tokens: TokenRegistry, clock: Clock, secret: str | None = "s") -> TicketIssuer:
    return TicketIssuer(tokens, lifetime_seconds=LIFETIME, secret=secret, clock=clock)


def test_a_ticket_reads_only_until_it_expires(tokens: TokenRegistry, clock: Clock) -> None:
    issuer = issuer_for(tokens, clock)
    billing = tokens.by_name("billing")
    assert billing is not None

    ticket = issuer.issue(billing)

    assert ticket.expires_in == LIFETIME
    redeemed = issuer.redeem(ticket.ticket)
    assert redeemed == Principal(
        "billing", frozenset({Scope.READ}), ticket_expires_at=clock.now + LIFETIME
    )
    clock.now += LIFETIME - 0.01
    assert issuer.redeem(ticket.ticket) == redeemed  # reusable: EventSource reconnects
    clock.now += 0.01
    assert issuer.redeem(ticket.ticket) is None


def test_a_ticket_carries_no_token(tokens: TokenRegistry, clock: Clock) -> None:
    billing = tokens.by_name("billing")
    assert billing is not None

    ticket = issuer_for(tokens, clock).issue(billing).ticket

    assert "token-of-billing" not in ticket
    assert digest_of("token-of-billing").removeprefix("sha256:") not in ticket


def test_a_changed_ticket_is_refused(tokens: TokenRegistry, clock: Clock) -> None:
    issuer = issuer_for(tokens, clock)
    billing = tokens.by_name("billing")
    assert billing is not None
    ticket = issuer.issue(billing).ticket

    for position in (0, len(ticket) // 2, len(ticket) - 1):
        changed = (
            ticket[:position] + ("A" if ticket[position] != "A" else "B") + ticket[position + 1 :]
        )
        assert issuer.redeem(changed) is None
    for garbage in ("", ".", "not-a-ticket", ticket + ticket):
        assert issuer.redeem(garbage) is None


def test_a_forged_payload_is_refused(tokens: TokenRegistry, clock: Clock) -> None:
    """Signed with another key, or with the right key but not a ticket's shape."""
    issuer = issuer_for(tokens, clock, secret="s")
    forged = URLSafeSerializer("guess", salt="eventstore.stream-ticket")
    assert issuer.redeem(forged.dumps({"sub": "billing", "exp": clock.now + 600})) is None
    signed = URLSafeSerializer("s", salt="eventstore.stream-ticket")
    for payload in (["billing"], {"sub": "billing"}, {"sub": 1, "exp": clock.now + 600}):
        assert issuer.redeem(signed.dumps(payload)) is None
    assert issuer.redeem(signed.dumps({"sub": "billing", "exp": clock.now + 600})) is not None


def test_instances_sharing_the_secret_accept_each_others_tickets(
    tokens: TokenRegistry, clock: Clock
) -> None:
    billing = tokens.by_name("billing")
    assert billing is not None
    ticket = issuer_for(tokens, clock, secret="shared").issue(billing).ticket

    assert issuer_for(tokens, clock, secret="shared").redeem(ticket) is not None
    assert issuer_for(tokens, clock, secret="other").redeem(ticket) is None
    assert issuer_for(tokens, clock, secret=None).redeem(ticket) is None
    own = issuer_for(tokens, clock, secret=None)
    assert own.redeem(own.issue(billing).ticket) is not None


def test_a_ticket_dies_with_its_token_or_its_read_scope(
    tokens: TokenRegistry, clock: Clock
) -> None:
    billing = tokens.by_name("billing")
    assert billing is not None
    ticket = issuer_for(tokens, clock).issue(billing).ticket

    removed = registry(ops=[Scope.READ])
    assert issuer_for(removed, clock).redeem(ticket) is None
    demoted = registry(billing=[Scope.APPEND])
    assert issuer_for(demoted, clock).redeem(ticket) is None


def test_a_ticket_expires_its_lifetime_after_issue_to_the_millisecond(
    tokens: TokenRegistry, clock: Clock
) -> None:
    """The expiry travels in the ticket rounded to the millisecond (a short ticket): no more,
    so that a ticket is never good for up to half a second more or less than its lifetime."""
    issuer = issuer_for(tokens, clock)
    billing = tokens.by_name("billing")
    assert billing is not None
    clock.now = 1_800_000_000.2504
    ticket = issuer.issue(billing).ticket

    clock.now = 1_800_000_000.2502 + LIFETIME
    assert issuer.redeem(ticket) is None  # past 1_800_000_060.250
    clock.now = 1_800_000_000.2499 + LIFETIME
    redeemed = issuer.redeem(ticket)
    assert redeemed is not None
    assert redeemed.ticket_expires_at == 1_800_000_060.25
