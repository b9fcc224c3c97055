"""Download links for attachments: a short-lived token (PyJWT, HS256) naming the attachment
and the viewer it was made for. The download route checks it AND the bearer token of the
request: a link that leaked (a log, a shared screen) is useless to anyone else, and useless
to its owner too once it expired.

The key is `SIAO_LINK_SECRET` (every instance of a deployment shares it), otherwise a random
secret created in the data folder on first use (mode 0600), like the dev signing key.
"""

from __future__ import annotations

import os
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import jwt

from auth.settings import Settings

AUDIENCE = "siao:attachment-download"
ALGORITHM = "HS256"


class InvalidLink(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@cache
def _secret(path: str, from_env: str | None) -> bytes:
    if from_env:
        return from_env.encode()
    file = os.path.abspath(path)
    if os.path.exists(file):
        with open(file, "rb") as fh:
            return fh.read()
    os.makedirs(os.path.dirname(file), exist_ok=True)
    value = secrets.token_bytes(32)
    try:
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker made it first
        with open(file, "rb") as fh:
            return fh.read()
    with os.fdopen(fd, "wb") as fh:
        fh.write(value)
    return value


def link_secret(settings: Settings) -> bytes:
    return _secret(str(settings.link_secret_path), os.environ.get("SIAO_LINK_SECRET"))


@dataclass(frozen=True)
class Link:
    token: str
    expires_at: datetime


def mint_link(settings: Settings, attachment_id: uuid.UUID, viewer: str, now: datetime) -> Link:
    expires = now + timedelta(seconds=settings.link_ttl_seconds)
    claims = {"aud": AUDIENCE, "att": str(attachment_id), "sub": viewer, "exp": expires}
    return Link(jwt.encode(claims, link_secret(settings), algorithm=ALGORITHM), expires)


def check_link(
    settings: Settings, token: str, attachment_id: uuid.UUID, viewer: str, now: datetime
) -> None:
    """Raises InvalidLink unless `token` is a link to this attachment, for this viewer,
    not expired at `now`."""
    try:
        claims = jwt.decode(
            token,
            link_secret(settings),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["exp", "att", "sub"], "verify_exp": False},
        )
    except jwt.InvalidTokenError:
        raise InvalidLink("LINK_INVALID", "this is not a download link") from None
    if claims["att"] != str(attachment_id):
        raise InvalidLink("LINK_INVALID", "this link is for another file")
    if claims["sub"] != viewer:
        raise InvalidLink("LINK_NOT_YOURS", "this link was made for someone else")
    if now.timestamp() >= float(claims["exp"]):
        raise InvalidLink("LINK_EXPIRED", "this link has expired: ask for a new one")
