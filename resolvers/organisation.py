"""Territories, organisations and users."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, select

from auth.tokens import Claims
from auth.viewer import Viewer
from models import User
from resolvers.context import Context
from resolvers.loaders import Later, now_or_later


def territory(ctx: Context, code: str) -> Later[Row[Any] | None]:
    return now_or_later(ctx.loaders.territory_by_code, code)


def organisation(ctx: Context, organisation_id: uuid.UUID) -> Later[Row[Any] | None]:
    return now_or_later(ctx.loaders.organisation_by_id, organisation_id)


def user(ctx: Context, user_id: uuid.UUID) -> Later[Row[Any] | None]:
    return now_or_later(ctx.loaders.user_by_id, user_id)


async def viewer_row(ctx: Context) -> Row[Any] | None:
    """The viewer's users row; None for a partner system (it has none)."""
    viewer = ctx.authenticated
    if viewer.user_id is None:
        return None
    return await ctx.loaders.user_by_id.load(viewer.user_id)


def _unencodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate
        return True
    return False


async def load_viewer(ctx: Context, claims: Claims) -> Viewer | None:
    """The viewer a verified token names: a partner system from its claims, or the active
    user its subject names (None: the token is refused)."""
    if claims.partner is not None:
        grant = claims.partner
        return Viewer.partner(claims.subject, grant.name, grant.scopes, grant.territory)
    login = claims.subject
    if not login or "\x00" in login or not login.isprintable() or _unencodable(login):
        return None  # no login holds it: refused before SQL, like any unknown user
    row = (
        await ctx.execute(select(User.__table__).where(User.login == login, User.active.is_(True)))
    ).first()
    if row is None:
        return None
    ctx.loaders.user_by_id.prime(row.id, row)
    return Viewer(
        user_id=row.id,
        login=row.login,
        display_name=row.display_name,
        role=row.role,
        organisation_id=row.organisation_id,
        territory_code=row.territory_code,
        person_id=row.person_id,
    )
