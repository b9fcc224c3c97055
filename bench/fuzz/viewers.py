"""The viewers a fuzz run sends as: anonymous, every demo user, partner systems; their
dev tokens."""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from auth.policy import PartnerScope
from auth.settings import Settings
from auth.tokens import PartnerGrant, mint_dev_token
from bench.fuzz.oracle import ANONYMOUS
from models.demo import DEMO_LOGINS

# Partner roles: partner:NAME@TERRITORY[/SCOPE,...] ("all": every scope).
PARTNERS = (
    "partner:SYPLO@75/all",
    "partner:SNE@75/identity_min:read,demands:read",
    "partner:ROSALIE@93",
    "partner:SYPLO@2A/all",  # a territory without data
)
ROLES = (ANONYMOUS, *DEMO_LOGINS, *PARTNERS)


def partner_grant(role: str) -> PartnerGrant:
    """`partner:NAME@TERRITORY[/SCOPE,...]` as a grant ("all": every scope)."""
    who, _, scopes = role.removeprefix("partner:").partition("/")
    name, _, territory = who.partition("@")
    if scopes == "all":
        granted = frozenset(PartnerScope)
    else:
        granted = frozenset(PartnerScope(s) for s in scopes.split(",") if s)
    return PartnerGrant(name=name, scopes=granted, territory=territory)


def tokens_for(settings: Settings, roles: Iterable[str]) -> dict[str, str | None]:
    """A dev token per role (None: anonymous), signed with the data folder's key."""
    tokens: dict[str, str | None] = {}
    for role in roles:
        if role == ANONYMOUS:
            tokens[role] = None
        elif role.startswith("partner:"):
            grant = partner_grant(role)
            tokens[role] = mint_dev_token(settings, f"partner:{grant.name}", partner=grant)
        else:
            tokens[role] = mint_dev_token(settings, role)
    return tokens


def check_role(role: str) -> str:
    if role == ANONYMOUS or role in DEMO_LOGINS:
        return role
    if role.startswith("partner:") and "@" in role:
        try:
            partner_grant(role)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"unknown partner scope in {role}") from exc
        return role
    raise argparse.ArgumentTypeError(
        f"{role}: expected {ANONYMOUS}, a demo login, or partner:NAME@TERRITORY[/SCOPE,...]"
    )
