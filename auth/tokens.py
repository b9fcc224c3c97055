"""Bearer tokens: verification (PyJWT) and dev tokens.

Threats stopped here: forged tokens (signature checked against a key we hold or the
IdP's JWKS), replay of expired tokens (`exp` required), tokens minted for another
service (`aud`) or by another issuer (`iss`), algorithm confusion (`alg` pinned per key
type, `none` never accepted), and dev tokens in production (the dev key is not even
loaded when `SIAO_ENV=prod`). Token contents are never logged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from auth.policy import PartnerScope
from auth.settings import Settings

DEV_ALGORITHM = "EdDSA"
PARTNER_CLAIM = "siao_partner"
TERRITORY_CLAIM = "siao_territory"
PROD_ALGORITHMS = ["RS256", "ES256", "EdDSA"]
LEEWAY = timedelta(seconds=30)


class InvalidToken(Exception):
    """The bearer token cannot be trusted; `reason` is short and safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PartnerGrant:
    """What a partner system's token carries: its name, scopes and territory."""

    name: str
    scopes: frozenset[PartnerScope]
    territory: str


@dataclass(frozen=True, slots=True)
class Claims:
    subject: str
    partner: PartnerGrant | None = None
    # The token's `exp`: a live session (WebSocket) opened with it ends then.
    expires_at: datetime | None = None


def load_or_create_dev_key(settings: Settings) -> Ed25519PrivateKey:
    """The dev signing key lives in the data folder, created on first use (mode 0600)."""
    path = settings.dev_key_path
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise InvalidToken(f"{path} is not an Ed25519 key")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker created it first: use theirs
        return load_or_create_dev_key(settings)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return key


def mint_dev_token(
    settings: Settings,
    login: str,
    *,
    ttl: timedelta = timedelta(hours=12),
    partner: PartnerGrant | None = None,
) -> str:
    """A dev token for a demo user (`login`), or for a partner system (`partner`)."""
    if not settings.is_dev:
        raise InvalidToken("dev tokens exist only with SIAO_ENV=dev")
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": login,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
    }
    if partner is not None:
        claims |= {
            PARTNER_CLAIM: partner.name,
            "scope": " ".join(sorted(partner.scopes)),
            TERRITORY_CLAIM: partner.territory,
        }
    return jwt.encode(claims, load_or_create_dev_key(settings), algorithm=DEV_ALGORITHM)


def _partner(payload: dict[str, Any]) -> PartnerGrant | None:
    name = payload.get(PARTNER_CLAIM)
    if name is None:
        return None
    territory = payload.get(TERRITORY_CLAIM)
    raw_scopes = payload.get("scope", "")
    if not isinstance(name, str) or not name or not isinstance(territory, str):
        raise InvalidToken("invalid partner claims")
    if not isinstance(raw_scopes, str):
        raise InvalidToken("invalid scope claim")
    try:
        scopes = frozenset(PartnerScope(s) for s in raw_scopes.split())
    except ValueError as exc:
        raise InvalidToken("unknown scope") from exc
    return PartnerGrant(name=name, scopes=scopes, territory=territory)


class TokenVerifier:
    """Verifies bearer tokens: the dev key in dev, the IdP's JWKS (if configured) in prod."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._dev_key: Ed25519PublicKey | None = None
        self._jwks: jwt.PyJWKClient | None = None
        if settings.is_dev:
            self._dev_key = load_or_create_dev_key(settings).public_key()
        if settings.jwks_url:
            self._jwks = jwt.PyJWKClient(settings.jwks_url, cache_keys=True)

    @property
    def remote(self) -> bool:
        """Verification may fetch the IdP's keys (blocking I/O: run it off the event loop)."""
        return self._jwks is not None

    def verify(self, token: str) -> Claims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("malformed token") from exc
        alg = header.get("alg")
        key: Any
        if self._jwks is not None and header.get("kid"):
            if alg not in PROD_ALGORITHMS:
                raise InvalidToken("algorithm not allowed")
            try:
                key = self._jwks.get_signing_key_from_jwt(token).key
            except jwt.PyJWTError as exc:
                raise InvalidToken("unknown signing key") from exc
            algorithms = [alg]
        elif self._dev_key is not None:
            if alg != DEV_ALGORITHM:
                raise InvalidToken("algorithm not allowed")
            key, algorithms = self._dev_key, [DEV_ALGORITHM]
        else:
            raise InvalidToken("no key to verify this token")
        try:
            payload = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self._settings.jwt_audience,
                issuer=self._settings.jwt_issuer,
                leeway=LEEWAY,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("token expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise InvalidToken("token not yet valid") from exc
        except jwt.InvalidAudienceError as exc:
            raise InvalidToken("wrong audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise InvalidToken("wrong issuer") from exc
        except jwt.InvalidSignatureError as exc:
            raise InvalidToken("bad signature") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken("invalid token") from exc
        subject = payload.get("sub")
        if not isinstance(subject, str) or not subject:
            raise InvalidToken("invalid subject")
        try:
            expires_at = datetime.fromtimestamp(payload["exp"], UTC)
        except (OverflowError, OSError, TypeError, ValueError) as exc:
            raise InvalidToken("invalid expiry") from exc
        return Claims(subject=subject, partner=_partner(payload), expires_at=expires_at)
