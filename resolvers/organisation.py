"""Territories, organisations and users."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, select

from auth.viewer import Viewer
from models import User
from resolvers.context import Context
from resolvers.loaders import now_or_later


def territory(ctx: Context, code: str) -> Any:
    return now_or_later(ctx.loaders.territory_by_code, code)


def organisation(ctx: Context, organisation_id: uuid.UUID) -> Any:
    return now_or_later(ctx.loaders.organisation_by_id, organisation_id)


def user(ctx: Context, user_id: uuid.UUID) -> Any:
    return now_or_later(ctx.loaders.user_by_id, user_id)


async def viewer_row(ctx: Context) -> Row[Any] | None:
    viewer = ctx.authenticated
    return await ctx.loaders.user_by_id.load(viewer.user_id)


async def load_viewer(ctx: Context, login: str) -> Viewer | None:
    """The active user a token's subject names, or None (the token is then refused)."""
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
